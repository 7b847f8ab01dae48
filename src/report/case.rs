//! Case files (`cases/<id>.json`, replayable by `gws-conform replay`) and their curl
//! scripts (`cases/<id>.sh`).

use super::json::{json_error, to_scrubbed_json};
use super::types::{CaseReport, RunReport};
use super::{ReportError, case_stems, scrub_text, write_file};
use crate::check::{Finding, Verdict};
use crate::history::redact::Scrubber;
use crate::history::{AuthVariant, Body, ChatRef, EventKind, History, Step};
use crate::spec::ReqId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Version of the case file format.
pub const CASE_FORMAT: u32 = 1;

/// One failing case, self-contained: enough to replay it on any target
/// (`gws-conform replay`), to read why it failed, and to generate its curl script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseFile {
    /// Case file format version (`CASE_FORMAT`).
    pub format: u32,
    /// The run the case comes from.
    pub run_id: String,
    /// The harness version that wrote the file.
    pub harness_version: String,
    /// The target it failed on (base URL, no userinfo).
    pub target: String,
    /// The run's seed.
    pub seed: u64,
    /// The case id.
    pub id: String,
    /// The case's own seed.
    #[serde(default)]
    pub case_seed: u64,
    /// Requirement ids the case was built to exercise.
    #[serde(alias = "targets")]
    pub exercises: Vec<ReqId>,
    /// The (shrunk) steps to replay.
    pub steps: Vec<Step>,
    /// What the checker found when the case ran.
    pub findings: Vec<Finding>,
    #[serde(default = "fail")]
    /// The case's verdict (folded over its findings).
    pub verdict: Verdict,
    /// The recorded history of the failing run (secrets redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
    /// `customer-api` or `provider-state` (absent or `""` in a file: not recorded).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "provisioning_or_empty"
    )]
    pub provisioning: Option<crate::client::ProvisioningKind>,
    /// Agent user names of the run, in order (the first is `GWS_USER` in the script,
    /// the second `GWS_USER2`).
    #[serde(default)]
    pub agents: Vec<String>,
    #[serde(default)]
    /// How long the harness waited for an expected notification, in ms.
    pub deadline_ms: u64,
    #[serde(default)]
    /// How long nothing had to arrive before absence was judged, in ms.
    pub quiet_window_ms: u64,
    #[serde(default)]
    /// Whether SHOULD failures block (`--strict`).
    pub strict: bool,
    /// True when the run certified the embedded reference server.
    #[serde(default)]
    pub embedded: bool,
    /// The embedded server's fault of the run, if any: a replay with no `--target`
    /// starts the embedded server with the same fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// The case file's `provisioning`: a mode name, or `""` (files written before the mode
/// was recorded) meaning none.
fn provisioning_or_empty<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<crate::client::ProvisioningKind>, D::Error> {
    use serde::Deserialize;
    match Option::<String>::deserialize(d)?.as_deref() {
        None | Some("") => Ok(None),
        Some(other) => {
            crate::client::ProvisioningKind::deserialize(serde::de::value::StrDeserializer::<
                D::Error,
            >::new(other))
            .map(Some)
        }
    }
}

fn fail() -> Verdict {
    Verdict::Fail
}

/// The case file of `case` in `report`.
pub fn case_file(report: &RunReport, case: &CaseReport) -> CaseFile {
    CaseFile {
        format: CASE_FORMAT,
        run_id: report.run_id.clone(),
        harness_version: report.harness_version.clone(),
        target: report.target.clone(),
        seed: report.seed,
        id: case.id.clone(),
        case_seed: case.seed,
        exercises: case.exercises.clone(),
        steps: case.steps.clone(),
        findings: case.findings.clone(),
        verdict: case.verdict,
        history: case.history.clone(),
        provisioning: Some(report.config.provisioning),
        agents: report.config.agents.clone(),
        deadline_ms: report.config.deadline_ms,
        quiet_window_ms: report.config.quiet_window_ms,
        strict: report.config.strict,
        embedded: report.embedded,
        fault: report.config.fault.clone(),
    }
}

/// Reads a case file. Errors name the file, line, column and the field at fault; a
/// `format` this harness does not read is refused.
pub fn load_case_file(path: &Path) -> Result<CaseFile, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let cf: CaseFile = serde_json::from_str(&text).map_err(|e| json_error(path, &e))?;
    if cf.format != CASE_FORMAT {
        return Err(ReportError::Invalid {
            path: path.to_path_buf(),
            what: format!(
                "field `format`: case file version {} is not supported (this harness reads {CASE_FORMAT})",
                cf.format
            ),
        });
    }
    if cf.steps.is_empty() {
        return Err(ReportError::Invalid {
            path: path.to_path_buf(),
            what: "field `steps`: a case file needs at least one step to replay".into(),
        });
    }
    Ok(cf)
}

/// Writes `cases/<id>.json` and `cases/<id>.sh` for each case whose verdict is Fail;
/// returns the pairs written.
pub(crate) fn write_case_files(
    dir: &Path,
    report: &RunReport,
    scrub: &Scrubber,
) -> Result<Vec<(PathBuf, PathBuf)>, ReportError> {
    let stems = case_stems(report);
    let mut out = Vec::new();
    let cases_dir = dir.join("cases");
    for c in report.cases.iter().filter(|c| c.verdict == Verdict::Fail) {
        let Some(stem) = stems.get(&c.id) else {
            continue;
        };
        super::create_dir(&cases_dir)?;
        let cf = case_file(report, c);
        let jp = cases_dir.join(format!("{stem}.json"));
        write_file(&jp, &to_scrubbed_json(&cf, scrub)?)?;
        let sp = cases_dir.join(format!("{stem}.sh"));
        write_file(&sp, &scrub_text(scrub, &curl_script(&cf)))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&sp, std::fs::Permissions::from_mode(0o755));
        }
        out.push((jp, sp));
    }
    Ok(out)
}

/// Writes `cases/<id>.har` (HAR 1.2, see [`crate::report::har`]) for each case whose
/// verdict is Fail and whose kept history holds a request; returns the paths written.
/// The document is scrubbed with the run's scrubber like every other output.
pub(crate) fn write_case_hars(
    dir: &Path,
    report: &RunReport,
    scrub: &Scrubber,
) -> Result<Vec<PathBuf>, ReportError> {
    let stems = case_stems(report);
    // The events of a case are timed from the case's start; the run's start stands in.
    let start = humantime::parse_rfc3339_weak(&report.started_at)
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    let cases_dir = dir.join("cases");
    let mut out = Vec::new();
    for c in report.cases.iter().filter(|c| c.verdict == Verdict::Fail) {
        let Some(stem) = stems.get(&c.id) else {
            continue;
        };
        let Some(har) = super::har::case_har(c, &report.target, start) else {
            continue;
        };
        super::create_dir(&cases_dir)?;
        let text = serde_json::to_string_pretty(&har)
            .map_err(|e| ReportError::Serialize(e.to_string()))?;
        let p = cases_dir.join(format!("{stem}.har"));
        write_file(&p, &scrub_text(scrub, &text))?;
        out.push(p);
    }
    Ok(out)
}

/// `s` as one single-quoted bash word.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A name usable in a bash variable (`CHAT_<alias>`).
fn var_name(alias: &str) -> String {
    let v: String = alias
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("CHAT_{v}")
}

/// The variable holding the customer-side id of a chat (`CUST_<alias>`; `-` when the
/// provisioning has none).
fn cust_var(alias: &str) -> String {
    format!("CUST_{}", &var_name(alias)["CHAT_".len()..])
}

/// Comments a possibly multi-line text safely (every line starts with `# `).
fn comment(out: &mut String, indent: &str, text: &str) {
    for line in text.lines() {
        let line: String = line.chars().filter(|c| !c.is_control()).collect();
        let _ = writeln!(out, "{indent}# {line}");
    }
}

/// Comments `text` and prints it when the script runs (`say`), so its output shows each
/// step and what the harness expected there, between the notifications.
fn narrate(out: &mut String, indent: &str, text: &str) {
    comment(out, indent, text);
    for line in text.lines() {
        let line: String = line.chars().filter(|c| !c.is_control()).collect();
        let _ = writeln!(out, "{indent}say {}", shell_quote(line.trim_start()));
    }
}

/// What the contract expects of an agent request, in words (SPEC §1.2, §2, §3),
/// rendered from the model: the body is classified and [`crate::model::expect`] asked for each
/// state the chat may be in (the state is not known when the script is written), and
/// states with the same expectation are named together.
fn expectation(step: &Step) -> String {
    use crate::model::{self, ChatState, ExpectedNote};
    /// A success the model expects, in words: statusCode 0, then the notifications in
    /// order (or the state the chat moves to).
    fn success_words(before: Option<ChatState>, e: &model::Expectation) -> String {
        let complete = e
            .notifications
            .iter()
            .any(|n| matches!(n, ExpectedNote::StatusChange(ChatState::Completed)));
        let mut s = String::from("HTTP 200 {\"statusCode\":0}");
        if complete {
            // A success of a Complete is judged under CMP-01.
            let _ = write!(s, " ({})", ReqId::Cmp01);
        }
        let mut text = false;
        for n in &e.notifications {
            s.push_str(", then ");
            match n {
                ExpectedNote::AgentText(t) => {
                    text = true;
                    let _ = write!(s, "a NewMessages notification with the text {t:?}");
                }
                ExpectedNote::StatusChange(st) => {
                    let _ = write!(s, "exactly one StatusChange {} notification", st.as_str());
                }
            }
            if let Some(r) = n.req() {
                let _ = write!(s, " ({r})");
            }
        }
        if text {
            let _ = write!(
                s,
                "; the customer's transcript holds the text while the customer is there ({})",
                ReqId::Cmp05
            );
        }
        if e.notifications.is_empty()
            && let Some(next) = e.next
        {
            if Some(next) == before {
                let _ = write!(s, ", the chat stays {}", next.as_str());
            } else {
                let _ = write!(s, ", the chat becomes {}", next.as_str());
            }
        }
        s
    }

    /// A refusal the model expects, in words: the statusCodes, why, the requirement.
    fn refusal_words(r: &model::Refusal, complete_on_known_chat: bool) -> String {
        let codes = |c: &[i64]| {
            let v: Vec<String> = c.iter().map(i64::to_string).collect();
            match v.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                _ => v.concat(),
            }
        };
        let mut s = match (r.required_codes, r.preferred_codes) {
            (Some(req), _) => format!("refused with statusCode {}", codes(req)),
            (None, Some(pref)) => format!(
                "refused with a statusCode != 0 (preferably {})",
                codes(pref)
            ),
            (None, None) => "refused with a 4xx or a statusCode != 0".into(),
        };
        let _ = write!(s, ", never a 5xx or statusCode 4: {}", r.reason);
        if let Some(req) = r.req {
            let _ = write!(s, " ({req})");
        }
        if complete_on_known_chat {
            let _ = write!(
                s,
                "; an error body is exactly {{\"statusCode\":N>0,\"statusMessage\":...}} ({}) and nothing changes ({})",
                ReqId::Cmp18,
                ReqId::Cmp17
            );
        }
        s
    }

    let Step::AgentPost {
        chat,
        by_other_agent,
        auth,
        body,
    } = step
    else {
        return String::new();
    };
    match auth {
        AuthVariant::NoCredentials | AuthVariant::CookieOnly => {
            return "expects: refused without credentials: statusCode 20 or HTTP 401, nothing changes (SES-02)".into();
        }
        AuthVariant::NoCsrf => {
            return "expects: HTTP 403 when the target uses CSRF, nothing changes (SES-01)".into();
        }
        AuthVariant::ForeignCsrf => {
            return "expects: with the other agent's CSRF token, HTTP 403 when the target uses CSRF, nothing changes (SES-01)".into();
        }
        AuthVariant::ForeignBasic => {
            return "expects: with the other agent's Basic credentials on this agent's cookie, a refusal, nothing changes (SES-02)".into();
        }
        AuthVariant::Normal => {}
    }
    let cls = model::classify(body);
    let owns = !*by_other_agent;
    let known = matches!(chat, ChatRef::Alias(_));
    let states: Vec<Option<ChatState>> = if known {
        ChatState::ALL.into_iter().map(Some).collect()
    } else {
        vec![None]
    };
    // (words, success, states), successes first, then in the order of the states.
    let mut groups: Vec<(String, bool, Vec<ChatState>)> = Vec::new();
    for st in states {
        let e = model::expect(st, owns, &cls);
        let words = match &e.refusal {
            None => success_words(st, &e),
            Some(r) => {
                // A refusal for the state: the state is named once, in the condition.
                let mut r = r.clone();
                if let Some(s) = st {
                    r.reason = r
                        .reason
                        .replace(&format!("in state {}", s.as_str()), "in that state");
                }
                refusal_words(&r, known && cls.is_complete())
            }
        };
        match groups.iter_mut().find(|g| g.0 == words) {
            Some(g) => g.2.extend(st),
            None => groups.push((words, e.is_success(), st.into_iter().collect())),
        }
    }
    groups.sort_by_key(|g| !g.1);
    let named = |states: &[ChatState]| {
        let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.concat(),
        }
    };
    if groups.len() == 1 {
        return format!("expects: {}", groups[0].0);
    }
    let mut out = String::new();
    for (i, (words, _, states)) in groups.iter().enumerate() {
        if i == 0 {
            let _ = write!(out, "expects (if the chat is {}): {words}", named(states));
        } else {
            let _ = write!(
                out,
                "\n  otherwise (if the chat is {}): {words}",
                named(states)
            );
        }
    }
    out
}

/// The shell functions of every reproduction script ([`curl_script`]); `@PROVISIONING@`
/// and `@QUIET@` are filled in per case.
const CURL_PRELUDE: &str = include_str!("curl_prelude.sh");

/// The bash reproduction of a case: reads `GWS_TARGET`, `GWS_USER`/`GWS_PASSWORD` (and
/// `GWS_USER2`/`GWS_PASSWORD2` when a step acts as another agent), optionally
/// `GWS_PROVIDER_URL`, from the environment and never embeds a secret. It logs each agent
/// in with a cookie jar, takes the CSRF token from the `GET /api/v2/me` headers, puts the
/// agent in Ready, provisions chats through the provider-state endpoint (or takes
/// `CHAT_<alias>` from the environment when there is none) and replays each step as curl
/// with the exact body. Each agent also opens the Bayeux long-poll (handshake, subscribe
/// to `/v2/me/chats`, a `/meta/connect` loop in the background, SPEC §1.4, §6.1, §6.7)
/// and the script prints every notification as it arrives, one line each (`notification
/// agentN: <notificationType> state=<chat state> <message type> "<text>"`), between the
/// lines saying what the harness expected at each step (`expects: …`), so the order the
/// target published in is visible. Needs bash, curl and python3.
pub fn curl_script(case: &CaseFile) -> String {
    let mut s = String::new();
    // Which agent index owns each alias; agent index 0 = GWS_USER, 1 = GWS_USER2.
    let agent_index = |name: &str| case.agents.iter().position(|a| a == name).unwrap_or(0);
    let mut owners: BTreeMap<String, usize> = BTreeMap::new();
    let mut needs_second = false;
    let mut uses_provider = false;
    visit(&case.steps, &mut |st| match st {
        Step::OfferChat { chat, agent } => {
            let i = agent_index(agent).min(1);
            needs_second |= i == 1;
            owners.insert(chat.clone(), i);
            uses_provider = true;
        }
        Step::AgentPost {
            by_other_agent,
            auth,
            ..
        } => needs_second |= *by_other_agent || auth.needs_peer(),
        Step::CustomerSends { .. } | Step::CustomerLeaves { .. } | Step::Inspect { .. } => {
            uses_provider = true
        }
        _ => {}
    });

    // SPEC §1.5: the two provisioning modes; anything else replays as provider-state.
    let mode = case.provisioning.unwrap_or_default().name();
    write_header(&mut s, case, needs_second);
    // The script's shell functions (login, the Bayeux long-poll loop, the agent,
    // provider and customer calls): a bash file of its own, so it reads as bash.
    s.push_str(
        &CURL_PRELUDE
            .replace("@PROVISIONING@", mode)
            .replace("@QUIET@", &case.quiet_secs().to_string()),
    );
    let _ = writeln!(s, "login 1");
    if needs_second {
        let _ = writeln!(s, "login 2");
    }
    s.push('\n');

    let ctx = Ctx {
        owners: &owners,
        quiet_secs: case.quiet_secs(),
    };
    for (i, st) in case.steps.iter().enumerate() {
        emit_step(&mut s, &ctx, st, &format!("step {i}"), "", false);
        // Give the notifications of the step time to arrive before the next one, so
        // the output reads in order (the harness waits for them between steps).
        s.push_str("sleep \"$PAUSE\"\n\n");
    }

    // Release what was provisioned (idempotent on the provider side).
    if uses_provider && !owners.is_empty() {
        s.push_str(
            "\n# Clean up: release the provisioned chats (provider-state).\nif [ \"$GWS_PROVISIONING\" != customer-api ] && [ -n \"$GWS_PROVIDER_URL\" ]; then\n",
        );
        for alias in owners.keys() {
            let v = var_name(alias);
            let _ = writeln!(
                s,
                "  provider teardown 'chat offered' \"$(json chatId \"${{{v}:-}}\")\" >/dev/null || true"
            );
        }
        s.push_str("fi\n");
    }
    s.push_str(
        "# Let the last notifications arrive (the harness waits for a quiet window too).\nsay \"waiting ${QUIET}s for the last notifications\"\nsleep \"$QUIET\"\necho 'replay finished' >&2\n",
    );
    s
}

/// The head of a reproduction script: what the case is, what failed, and the
/// environment it reads (secrets only from there).
fn write_header(s: &mut String, case: &CaseFile, needs_second: bool) {
    let _ = writeln!(s, "#!/usr/bin/env bash");
    comment(
        s,
        "",
        &format!(
            "Reproduction of gws-conform case {} (run {}, seed {}, harness {}).\nFirst seen on: {}\nExercises: {}",
            case.id,
            case.run_id,
            case.seed,
            case.harness_version,
            case.target,
            crate::spec::join(&case.exercises, ", ")
        ),
    );
    for f in case.findings.iter().filter(|f| f.verdict == Verdict::Fail) {
        comment(s, "", &format!("FAILED {}: {}", f.req, f.reason));
        if let Some(w) = &f.witness {
            comment(s, "", &format!("  expected: {}", w.expected));
            comment(s, "", &format!("  observed: {}", w.observed));
        }
    }
    s.push_str(
        r#"#
# Environment (nothing secret is stored in this file):
#   GWS_TARGET        base URL of the target, e.g. http://127.0.0.1:8080
#   GWS_USER          agent user name;  GWS_PASSWORD  its password
"#,
    );
    if needs_second {
        s.push_str("#   GWS_USER2         a second agent;   GWS_PASSWORD2 its password\n");
    }
    s.push_str(
        r#"#   GWS_PROVISIONING  provider-state or customer-api (default: as in the recorded run)
#   GWS_PROVIDER_URL  provider-state endpoint that offers chats (provider-state mode;
#                     default $GWS_TARGET/conformance/provider-state, as gws-conform)
#   GWS_CONTACT_CENTER_ID  ContactCenterId header of the Customer Chat API (customer-api;
#                     default gws-conform, as gws-conform)
#   CHAT_<alias>      optional: agent-side id of a chat you offered by hand (skips offering)
#   GWS_STEP_PAUSE    seconds to wait after each step for its notifications (default 0.5)
# Each agent listens to its notifications (Bayeux long-poll on /v2/me/chats); every
# notification is printed as it arrives: "notification agentN: <type> state=… <text>".
# Lines "expects: …" say what the harness expected at that step.
set -euo pipefail
: "${GWS_TARGET:?set GWS_TARGET to the target base URL}"
: "${GWS_USER:?set GWS_USER to the agent user name}"
: "${GWS_PASSWORD:?set GWS_PASSWORD to the agent password}"
"#,
    );
    if needs_second {
        s.push_str(
            ": \"${GWS_USER2:?set GWS_USER2 to a second agent}\"\n: \"${GWS_PASSWORD2:?set GWS_PASSWORD2}\"\n",
        );
    }
}

struct Ctx<'a> {
    owners: &'a BTreeMap<String, usize>,
    quiet_secs: u64,
}

fn visit(steps: &[Step], f: &mut impl FnMut(&Step)) {
    for st in steps {
        f(st);
        if let Step::Concurrent { steps } = st {
            visit(steps, f);
        }
    }
}

fn emit_step(s: &mut String, ctx: &Ctx, st: &Step, label: &str, indent: &str, background: bool) {
    let bg = if background { " &" } else { "" };
    match st {
        Step::OfferChat { chat, agent } => {
            let v = var_name(chat);
            let n = ctx.owners.get(chat).copied().unwrap_or(0) + 1;
            let user = if n == 2 { "$GWS_USER2" } else { "$GWS_USER" };
            narrate(
                s,
                indent,
                &format!(
                    "{label}: a customer asks for a chat, offered to {agent} (agent {n}) as alias {chat}\nexpects: an Invited notification for the agent"
                ),
            );
            let c = cust_var(chat);
            let _ = writeln!(
                s,
                "{indent}if [ -z \"${{{v}:-}}\" ]; then\n{indent}  read -r {v} {c} < <(offer {n} \"{user}\") || true\n{indent}  [ -n \"${{{v}:-}}\" ] || {{ echo \"cannot offer chat {chat}: giving up\" >&2; exit 1; }}\n{indent}fi\n{indent}{c}=\"${{{c}:--}}\"\n{indent}echo \"chat {chat} = ${v}\" >&2"
            );
        }
        Step::AgentPost {
            chat,
            by_other_agent,
            auth,
            body,
        } => {
            let (path, owner) = match chat {
                ChatRef::Alias(a) => (
                    format!("\"/api/v2/me/chats/${{{}}}\"", var_name(a)),
                    ctx.owners.get(a).copied().unwrap_or(0),
                ),
                ChatRef::Unknown(id) => (
                    shell_quote(&format!("/api/v2/me/chats/{}", url_path_segment(id))),
                    0,
                ),
            };
            let n = if *by_other_agent {
                2 - owner
            } else {
                owner + 1
            };
            let auth = match auth {
                AuthVariant::Normal => "normal",
                AuthVariant::NoCredentials => "no_credentials",
                AuthVariant::CookieOnly => "cookie_only",
                AuthVariant::NoCsrf => "no_csrf",
                AuthVariant::ForeignCsrf => "foreign_csrf",
                AuthVariant::ForeignBasic => "foreign_basic",
            };
            let chat_name = match chat {
                ChatRef::Alias(a) => a.clone(),
                ChatRef::Unknown(id) => format!("unknown id {id}"),
            };
            narrate(
                s,
                indent,
                &format!(
                    "{label}: agent {n} posts to chat {chat_name}{}\n{}",
                    if *by_other_agent {
                        " (not the owner)"
                    } else {
                        ""
                    },
                    expectation(st)
                ),
            );
            let body_arg = match body {
                Body::Empty => String::new(),
                Body::Json(v) => format!(" {}", shell_quote(&v.to_string())),
                Body::Raw(r) => format!(" {}", shell_quote(r)),
            };
            let _ = writeln!(s, "{indent}agent {n} {auth} POST {path}{body_arg}{bg}");
        }
        Step::CustomerSends { chat, text } => {
            narrate(
                s,
                indent,
                &format!(
                    "{label}: the customer of chat {chat} sends a message\nexpects: a NewMessages notification for the agent"
                ),
            );
            let _ = writeln!(
                s,
                "{indent}customer_sends \"${}\" \"${}\" {}{bg}",
                var_name(chat),
                cust_var(chat),
                shell_quote(text)
            );
        }
        Step::CustomerLeaves { chat } => {
            narrate(
                s,
                indent,
                &format!(
                    "{label}: the customer of chat {chat} leaves\nexpects: NewMessages with ParticipantLeft; the agent's chat stays Chatting and Complete still succeeds (CMP-16)"
                ),
            );
            let _ = writeln!(
                s,
                "{indent}customer_leaves \"${}\" \"${}\"{bg}",
                var_name(chat),
                cust_var(chat)
            );
        }
        Step::Inspect { chat } => {
            narrate(
                s,
                indent,
                &format!(
                    "{label}: ask the provider what it knows about chat {chat}\nexpects: queue / lastAgent / customerSessionEnded / customerTranscript as the Complete asked (CMP-05..08)"
                ),
            );
            let _ = writeln!(
                s,
                "{indent}inspect \"${}\" \"${}\"{bg}",
                var_name(chat),
                cust_var(chat)
            );
        }
        Step::Settle => {
            let secs = ctx.quiet_secs;
            narrate(
                s,
                indent,
                &format!("{label}: let the chats settle (the harness waits for a quiet window)"),
            );
            let _ = writeln!(s, "{indent}sleep {secs}");
        }
        Step::Concurrent { steps } => {
            // Two parts on one chat make a race; parts on distinct chats are CMP-20.
            let chats: Vec<&str> = steps
                .iter()
                .filter_map(|st| match st {
                    Step::AgentPost {
                        chat: ChatRef::Alias(a),
                        ..
                    }
                    | Step::CustomerLeaves { chat: a }
                    | Step::CustomerSends { chat: a, .. } => Some(a.as_str()),
                    _ => None,
                })
                .collect();
            let raced = chats
                .iter()
                .enumerate()
                .find(|(i, c)| chats[..*i].contains(c))
                .map(|(_, c)| *c);
            let what = match raced {
                Some(chat) => format!(
                    "{label}: {} requests at once on chat {chat}, a race (CMP-02/13)\nexpects: whichever the target serves first wins; exactly one Complete succeeds, the other is refused and changes nothing; exactly one Completed",
                    steps.len()
                ),
                None => format!(
                    "{label}: {} requests at once (CMP-20)\nexpects: each chat gets exactly one Completed, in the order of CMP-04",
                    steps.len()
                ),
            };
            narrate(s, indent, &what);
            for (j, inner) in steps.iter().enumerate() {
                emit_step(s, ctx, inner, &format!("{label}.{j}"), indent, true);
            }
            let _ = writeln!(s, "{indent}wait");
        }
    }
    s.push('\n');
}

/// Percent-encodes anything outside the unreserved set, so a made-up id cannot leave the
/// path segment.
fn url_path_segment(id: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(id, UNRESERVED).to_string()
}

impl CaseFile {
    fn quiet_secs(&self) -> u64 {
        self.quiet_window_ms.div_ceil(1000).max(1)
    }

    /// The events of the history recorded while step `index` ran (for readers).
    pub fn events_of_step(&self, index: usize) -> Vec<&crate::history::Event> {
        self.history
            .iter()
            .flat_map(|h| h.events.iter())
            .filter(|e| e.in_step == Some(index) && !matches!(e.kind, EventKind::Step { .. }))
            .collect()
    }
}
