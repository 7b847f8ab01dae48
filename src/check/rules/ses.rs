//! SES-01 (a POST without the CSRF token is refused with HTTP 403, when the target uses
//! CSRF) and SES-02 (a request without credentials is refused with statusCode 20 or
//! HTTP 401). "Nothing changed" afterwards is [`super::refusal::nothing_changed`].

use super::{Ans, w};
use crate::check::Finding;
use crate::history::AuthVariant;
use crate::spec::ReqId;

/// The session requirement a request with `auth` is judged under, if any (`csrf`: the
/// target announced a CSRF token).
pub(crate) fn ses_req(auth: AuthVariant, csrf: bool) -> Option<ReqId> {
    crate::model::credentials_refusal(auth, csrf)
}

/// SES-01 Skip when a request without its session's CSRF token was made to a target
/// without CSRF.
pub(crate) fn ses01_not_applicable(auth: AuthVariant, csrf: bool) -> Option<Finding> {
    match auth {
        AuthVariant::NoCsrf | AuthVariant::ForeignCsrf if !csrf => Some(Finding::skip(
            ReqId::Ses01,
            "target does not use CSRF (no token to leave out or to take from another session)",
        )),
        _ => None,
    }
}

/// SES-01/02 (`r`) for the answer to a request with missing (or another's) credentials
/// `auth`.
pub(crate) fn refused_session(r: ReqId, auth: AuthVariant, ans: &Ans, evs: Vec<u64>) -> Finding {
    let (good, expected) = if auth == AuthVariant::ForeignBasic {
        // See `model::credentials_refusal`: any proper refusal.
        (
            ans.refused() && !ans.bad(),
            "a refusal (4xx, or a statusCode other than 0 and 4): the Basic credentials are another agent's, and the session cookie alone is no credentials (SPEC §6.2)",
        )
    } else if r == ReqId::Ses01 && auth == AuthVariant::ForeignCsrf {
        (
            ans.status == 403,
            "HTTP 403 for a POST with the CSRF token of another session (no token for this one; SPEC §1.1: a wrong token gets 403)",
        )
    } else if r == ReqId::Ses01 {
        (
            ans.status == 403,
            "HTTP 403 for a POST without the CSRF token",
        )
    } else {
        (
            ans.status == 401 || ans.code == Some(20),
            "statusCode 20 or HTTP 401 for a request without credentials",
        )
    };
    if good {
        Finding::pass(r, format!("refused: {}", ans.describe()))
    } else {
        Finding::fail(
            r,
            format!("answered {}", ans.describe()),
            w(expected, ans.describe(), evs),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Verdict;
    use serde_json::{Value, json};

    fn ans(status: u16, body: &Value) -> Ans<'_> {
        Ans {
            seq: 2,
            t_us: 0,
            status,
            json: Some(body),
            code: body.get("statusCode").and_then(Value::as_i64),
        }
    }

    #[test]
    fn another_sessions_token_needs_a_403() {
        let b = json!({"statusCode": 3, "statusMessage": "Missing or invalid Csrf token"});
        let r = |s| refused_session(ReqId::Ses01, AuthVariant::ForeignCsrf, &ans(s, &b), vec![]);
        assert_eq!(r(403).verdict, Verdict::Pass);
        let f = r(200);
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.witness.unwrap().expected.contains("another session"));
        assert_eq!(
            credentials_refusal_of(AuthVariant::ForeignCsrf, true),
            Some(ReqId::Ses01)
        );
        assert_eq!(
            credentials_refusal_of(AuthVariant::ForeignCsrf, false),
            None
        );
        assert!(ses01_not_applicable(AuthVariant::ForeignCsrf, false).is_some());
    }

    #[test]
    fn another_agents_basic_may_be_refused_any_proper_way() {
        let r = |s, b: Value| {
            refused_session(ReqId::Ses02, AuthVariant::ForeignBasic, &ans(s, &b), vec![]).verdict
        };
        let err = |c| json!({"statusCode": c, "statusMessage": "no"});
        // As the Basic agent (not the owner), the mismatch itself, or the CSRF check.
        for (s, c) in [(200, 6), (200, 3), (401, 20), (403, 3), (200, 5)] {
            assert_eq!(r(s, err(c)), Verdict::Pass, "{s} {c}");
        }
        // Served on the cookie's session, or broken.
        assert_eq!(r(200, json!({"statusCode": 0})), Verdict::Fail);
        assert_eq!(r(500, err(4)), Verdict::Fail);
        assert_eq!(r(200, err(4)), Verdict::Fail);
        assert_eq!(
            credentials_refusal_of(AuthVariant::ForeignBasic, false),
            Some(ReqId::Ses02)
        );
    }

    fn credentials_refusal_of(auth: AuthVariant, csrf: bool) -> Option<ReqId> {
        ses_req(auth, csrf)
    }
}
