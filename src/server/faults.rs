//! The fault catalogue: each fault is exactly one realistic deviation from the contract,
//! switched on by name (`serve --fault NAME`, `ServerConfig::fault`). The server checks
//! the switch at the point of deviation; with no fault the faithful path runs.
//!
//! `expect` lists the requirement ids (SPEC §3) a correct harness must report as Fail
//! against the fault. Together the faults touch every id of the catalogue (a unit test
//! checks it).

use crate::spec::ReqId;

/// One entry of the fault catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultInfo {
    /// Kebab-case name, as given to `--fault`.
    pub name: &'static str,
    /// What the server does wrong.
    pub description: &'static str,
    /// Requirement ids a correct harness must report as Fail against this fault.
    pub expect: &'static [ReqId],
}

/// The faults, as switches the server checks. The order is that of [`FAULTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    CompleteNoStatusChange,
    CompleteStatusLate,
    CompleteStatusDuplicated,
    CompleteTextAfterStatus,
    CompleteReorderUnderConcurrency,
    CompleteTextNotNotified,
    NotifyWrongAgent,
    NotifyAfterCompleted,
    StatusUriWrong,
    StatusStateLowercase,
    NotificationMissingChatId,
    UnknownIdStatus2,
    CompleteInvitedAccepted,
    ErrorBodyExtraField,
    SuccessWithStatusMessage,
    RefusedCompleteStillCompletes,
    CsrfNotEnforced,
    CredentialsNotRequired,
    OtherAgentChatCompletable,
    TranscriptMissingText,
    CustomerSessionNotEnded,
    QueueIgnored,
    SaveLarIgnored,
    MessageTypeWithoutTextAccepted,
    BadTreatAsAccepted,
    WrongTypesAccepted,
    SecondCompleteAccepted,
    LeftChatCompleteRefused,
    CompleteAfterCustomerLeftRefused,
    ReferenceIdMismatch,
    NonJson500,
    UnknownOperationStatus4,
    BayeuxSubscribeFails,
    TreatAsCaseInsensitive,
    SaveLarStringAccepted,
    LongTextTruncated,
    NonAsciiMangled,
    QueueIgnoredWithText,
    CompleteAfterCustomerLeftInLeftChatRefused,
    DoubleCompleteRace,
    BayeuxSessionDropped,
    RefusedCompleteEndsCustomerSession,
    RefusedCompletePostsText,
    CsrfAnySession,
    CookieOverBasic,
}

impl Fault {
    /// Every fault, in the order of [`FAULTS`].
    pub(crate) const ALL: [Fault; 45] = [
        Fault::CompleteNoStatusChange,
        Fault::CompleteStatusLate,
        Fault::CompleteStatusDuplicated,
        Fault::CompleteTextAfterStatus,
        Fault::CompleteReorderUnderConcurrency,
        Fault::CompleteTextNotNotified,
        Fault::NotifyWrongAgent,
        Fault::NotifyAfterCompleted,
        Fault::StatusUriWrong,
        Fault::StatusStateLowercase,
        Fault::NotificationMissingChatId,
        Fault::UnknownIdStatus2,
        Fault::CompleteInvitedAccepted,
        Fault::ErrorBodyExtraField,
        Fault::SuccessWithStatusMessage,
        Fault::RefusedCompleteStillCompletes,
        Fault::CsrfNotEnforced,
        Fault::CredentialsNotRequired,
        Fault::OtherAgentChatCompletable,
        Fault::TranscriptMissingText,
        Fault::CustomerSessionNotEnded,
        Fault::QueueIgnored,
        Fault::SaveLarIgnored,
        Fault::MessageTypeWithoutTextAccepted,
        Fault::BadTreatAsAccepted,
        Fault::WrongTypesAccepted,
        Fault::SecondCompleteAccepted,
        Fault::LeftChatCompleteRefused,
        Fault::CompleteAfterCustomerLeftRefused,
        Fault::ReferenceIdMismatch,
        Fault::NonJson500,
        Fault::UnknownOperationStatus4,
        Fault::BayeuxSubscribeFails,
        Fault::TreatAsCaseInsensitive,
        Fault::SaveLarStringAccepted,
        Fault::LongTextTruncated,
        Fault::NonAsciiMangled,
        Fault::QueueIgnoredWithText,
        Fault::CompleteAfterCustomerLeftInLeftChatRefused,
        Fault::DoubleCompleteRace,
        Fault::BayeuxSessionDropped,
        Fault::RefusedCompleteEndsCustomerSession,
        Fault::RefusedCompletePostsText,
        Fault::CsrfAnySession,
        Fault::CookieOverBasic,
    ];

    /// Looks a fault up by its catalogue name.
    pub(crate) fn by_name(name: &str) -> Option<Fault> {
        FAULTS
            .iter()
            .position(|f| f.name == name)
            .map(|i| Fault::ALL[i])
    }

    /// This fault's catalogue entry.
    #[allow(dead_code)]
    pub(crate) fn info(self) -> &'static FaultInfo {
        &FAULTS[self as usize]
    }
}

/// Under `bayeux-session-dropped`, a Bayeux client's session is dropped once it has been
/// delivered this many notifications.
pub(crate) const SESSION_DROP_AFTER: u64 = 8;

/// How long the `complete-status-late` fault holds the `Completed` notification: beyond
/// the harness's 5 s default deadline (SPEC §6.5).
pub(crate) const LATE_DELAY_MS: u64 = 7_000;

/// Under `long-text-truncated`, a Complete's text keeps only this many characters.
pub(crate) const TRUNCATE_AT_CHARS: usize = 4_096;

/// Under `complete-reorder-under-concurrency`, each Complete waits this long before it
/// takes the lock, so that Completes sent together are in flight together (SPEC §6.5:
/// "at least 5 Completes sent within 50 ms").
pub(crate) const CONCURRENCY_WINDOW_MS: u64 = 60;

/// Under `double-complete-race`, how long a Complete waits between reading the chat's
/// state and acting on it (a call to a back end, say): Completes sent together on one
/// chat all read the state before any of them changed it.
pub(crate) const RACE_WINDOW_MS: u64 = 100;

const fn f(name: &'static str, description: &'static str, expect: &'static [ReqId]) -> FaultInfo {
    FaultInfo {
        name,
        description,
        expect,
    }
}

/// The fault catalogue.
pub(crate) static FAULTS: [FaultInfo; 45] = [
    f(
        "complete-no-status-change",
        "missing notification: a successful Complete never publishes the StatusChange to Completed",
        &[ReqId::Cmp02],
    ),
    f(
        "complete-status-late",
        "late notification: the StatusChange to Completed is published 7 s after the Complete (beyond the 5 s default deadline)",
        &[ReqId::Cmp02],
    ),
    f(
        "complete-status-duplicated",
        "duplicated notification: a successful Complete publishes the StatusChange to Completed twice",
        &[ReqId::Cmp02],
    ),
    f(
        "complete-text-after-status",
        "reordered within a chat: Complete with text publishes the StatusChange to Completed before the NewMessages carrying the text",
        &[ReqId::Cmp04],
    ),
    f(
        "complete-reorder-under-concurrency",
        "reordered only under concurrency: while two or more Completes are in flight, Complete with text publishes the StatusChange before the text's NewMessages",
        &[ReqId::Cmp20],
    ),
    f(
        "complete-text-not-notified",
        "missing notification: Complete with text publishes no NewMessages for the text (the customer still gets it)",
        &[ReqId::Cmp04],
    ),
    f(
        "notify-wrong-agent",
        "delivered to the wrong agent: the notifications a Complete causes go to another agent's sessions instead of the chat's agent",
        &[ReqId::Cmp02],
    ),
    f(
        "notify-after-completed",
        "delivered after Completed: after the StatusChange to Completed the chat's agent gets one more NewMessages for the chat",
        &[ReqId::Cmp19],
    ),
    f(
        "status-uri-wrong",
        "wrong shape: the chat.uri of the Completed notification is {base}/api/v2/interactions/{id}, not .../api/v2/chats/{id}",
        &[ReqId::Cmp03],
    ),
    f(
        "status-state-lowercase",
        "wrong shape: the Completed notification says state \"completed\"",
        &[ReqId::Cmp02],
    ),
    f(
        "notification-missing-chat-id",
        "wrong shape: StatusChange notifications carry no chat.id",
        &[ReqId::Ntf01],
    ),
    f(
        "unknown-id-status-2",
        "wrong statusCode: an operation on an unknown chat id answers statusCode 2 instead of 6",
        &[ReqId::Cmp14],
    ),
    f(
        "complete-invited-accepted",
        "wrong statusCode: Complete on an Invited chat is accepted and completes it",
        &[ReqId::Cmp12],
    ),
    f(
        "error-body-extra-field",
        "wrong error body: every statusCode error body carries an extra \"chatId\" field",
        &[ReqId::Cmp18],
    ),
    f(
        "success-with-status-message",
        "wrong success body: a successful Complete answers with a statusMessage",
        &[ReqId::Cmp01],
    ),
    f(
        "refused-complete-still-completes",
        "state changed by a refused request: a Complete refused for a bad parameter still completes the chat",
        &[ReqId::Cmp17],
    ),
    f(
        "csrf-not-enforced",
        "security: POST/PUT/DELETE without the CSRF token are accepted although the server hands out tokens",
        &[ReqId::Ses01],
    ),
    f(
        "credentials-not-required",
        "security: requests without Basic credentials are served (a session cookie alone identifies the agent; no cookie means the first agent)",
        &[ReqId::Ses02],
    ),
    f(
        "other-agent-chat-completable",
        "security: an agent can Complete another agent's chat",
        &[ReqId::Cmp21],
    ),
    f(
        "transcript-missing-text",
        "customer side: the text of Complete never reaches the customer's transcript",
        &[ReqId::Cmp05],
    ),
    f(
        "customer-session-not-ended",
        "customer side: Complete leaves the customer's session open (customer state stays Chatting)",
        &[ReqId::Cmp06],
    ),
    f(
        "queue-ignored",
        "Complete ignores queueName (the interaction is placed in no queue)",
        &[ReqId::Cmp07],
    ),
    f(
        "savelar-ignored",
        "Complete ignores saveLAR: true (no last agent is recorded)",
        &[ReqId::Cmp08],
    ),
    f(
        "message-type-without-text-accepted",
        "Complete accepts messageType or treatAs without text",
        &[ReqId::Cmp09],
    ),
    f(
        "bad-treatas-accepted",
        "Complete accepts a treatAs outside Normal/System",
        &[ReqId::Cmp10],
    ),
    f(
        "wrong-types-accepted",
        "Complete accepts wrongly typed fields (saveLAR not boolean, queueName not a string or empty, text not a string)",
        &[ReqId::Cmp11],
    ),
    f(
        "second-complete-accepted",
        "Complete on a Completed chat is accepted and publishes a second StatusChange to Completed",
        &[ReqId::Cmp13],
    ),
    f(
        "leftchat-complete-refused",
        "Complete on a LeftChat chat is refused with statusCode 2",
        &[ReqId::Cmp15],
    ),
    f(
        "complete-after-customer-left-refused",
        "Complete after the customer left is refused with statusCode 2",
        &[ReqId::Cmp16],
    ),
    f(
        "reference-id-mismatch",
        "the referenceId in the notifications of an operation is one more than the one in its response",
        &[ReqId::Cmp22],
    ),
    f(
        "non-json-500",
        "a body that is not JSON gets HTTP 500",
        &[ReqId::Req01],
    ),
    f(
        "unknown-operation-status-4",
        "an unknown operationName gets statusCode 4 (internal error)",
        &[ReqId::Req01],
    ),
    f(
        "bayeux-subscribe-fails",
        "the Bayeux /meta/subscribe to /v2/me/chats answers successful:false",
        &[ReqId::Ntf02],
    ),
    f(
        "treatas-case-insensitive",
        "Complete matches treatAs case-insensitively (\"normal\", \"SYSTEM\" accepted)",
        &[ReqId::Cmp10],
    ),
    f(
        "savelar-string-accepted",
        "Complete accepts saveLAR as the string \"true\" or \"false\" (read as the boolean)",
        &[ReqId::Cmp11],
    ),
    f(
        "long-text-truncated",
        "Complete truncates a text longer than 4,096 characters (notification and transcript)",
        &[ReqId::Cmp04, ReqId::Cmp05],
    ),
    f(
        "non-ascii-mangled",
        "Complete replaces characters outside the Basic Multilingual Plane (emoji) in its text by U+FFFD",
        &[ReqId::Cmp04, ReqId::Cmp05],
    ),
    f(
        "queue-ignored-with-text",
        "Complete ignores queueName when text is present too",
        &[ReqId::Cmp07],
    ),
    f(
        "complete-after-customer-left-in-leftchat-refused",
        "Complete on a LeftChat chat whose customer has left is refused with statusCode 2",
        &[ReqId::Cmp15, ReqId::Cmp16],
    ),
    f(
        "double-complete-race",
        "check-then-act: Complete reads the chat's state, waits 100 ms for its back end, then completes on the strength of the old read; two Completes on one chat in flight together both succeed and publish two Completed",
        &[ReqId::Cmp02, ReqId::Cmp13],
    ),
    f(
        "bayeux-session-dropped",
        "after 8 notifications to a Bayeux client, its next /meta/connect answers successful:false with advice reconnect none: the session is gone and nothing more is delivered",
        &[ReqId::Ntf02],
    ),
    f(
        "refused-complete-ends-customer-session",
        "state changed by a refused request, seen only on the customer side: a Complete refused for a bad parameter on a Chatting chat answers the right error and notifies nothing, and the agent's chat still accepts its operations, but the customer's session has ended",
        &[ReqId::Cmp17],
    ),
    f(
        "refused-complete-posts-text",
        "state changed by a refused request, seen only on the customer side: a Complete refused for a bad parameter still posts its text to the customer's transcript (no notification)",
        &[ReqId::Cmp17],
    ),
    f(
        "csrf-any-session",
        "security: the CSRF check asks whether the token is one the server issued, not whether it belongs to the session presenting it (another agent's token is honoured)",
        &[ReqId::Ses01],
    ),
    f(
        "cookie-over-basic",
        "security: a request with valid Basic credentials acts as the agent of its session cookie, when the cookie is another agent's (Basic checked, then ignored)",
        &[ReqId::Ses02],
    ),
];

/// The fault catalogue (see [`FaultInfo`]).
pub fn faults() -> &'static [FaultInfo] {
    &FAULTS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kebab(f: Fault) -> String {
        let dbg = format!("{f:?}");
        let mut out = String::new();
        let mut prev = 'a';
        for (i, c) in dbg.chars().enumerate() {
            let boundary = c.is_ascii_uppercase() || (c.is_ascii_digit() && !prev.is_ascii_digit());
            prev = c;
            if boundary {
                if i > 0 {
                    out.push('-');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out.replace("treat-as", "treatas")
    }

    #[test]
    fn enum_order_matches_table() {
        for (i, f) in Fault::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
            let want = kebab(*f)
                .replace("save-lar", "savelar")
                .replace("left-chat", "leftchat");
            assert_eq!(FAULTS[i].name, want, "fault #{i}");
            assert_eq!(Fault::by_name(FAULTS[i].name), Some(*f));
        }
        assert_eq!(Fault::by_name("no-such-fault"), None);
    }

    #[test]
    fn catalogue_is_covered_and_valid() {
        assert!(FAULTS.len() >= 30);
        let ids: Vec<ReqId> = crate::spec::CATALOGUE.iter().map(|r| r.id).collect();
        for f in FAULTS.iter() {
            assert!(!f.expect.is_empty(), "{} expects nothing", f.name);
            for e in f.expect {
                assert!(ids.contains(e), "{}: unknown requirement {e}", f.name);
            }
        }
        for id in ids {
            assert!(
                FAULTS.iter().any(|f| f.expect.contains(&id)),
                "no fault expects {id}"
            );
        }
        let mut names: Vec<&str> = FAULTS.iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FAULTS.len(), "duplicate fault names");
    }
}
