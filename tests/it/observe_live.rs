//! Observe mode end to end: the embedded server, the observing proxy in front of it, an
//! agent driven through the proxy with plain reqwest (login, CSRF, session, Ready,
//! Bayeux handshake/subscribe/connect, Accept, Complete with text), the chat offered
//! directly to the server through provider-state. The live verdicts, the verdicts over
//! a HAR written from what the proxy recorded, and the replay of the case file a
//! violation produced.

use crate::common_server;

use common_server::*;
use gws_conform::check::{CheckConfig, Verdict};
use gws_conform::observe::{self, ProxyConfig, har};
use gws_conform::report::RunReport;
use gws_conform::server::{RunningServer, ServerConfig};
use gws_conform::spec::ReqId;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

fn check_cfg() -> CheckConfig {
    CheckConfig {
        deadline: Duration::from_millis(1500),
        quiet_window: Duration::from_millis(300),
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "gws-observe-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn faulty(fault: Option<&str>) -> RunningServer {
    server(ServerConfig {
        fault: fault.map(str::to_string),
        ..test_config()
    })
    .await
}

/// Drives one chat through the proxy at `via`; provider-state goes to `direct`.
async fn drive_chat(via: &str, direct: &str) -> String {
    let mut ag = Agent::new(via, "agent1", "agent1-pass");
    ag.login().await;
    ag.ready().await;
    let mut bx = ag.bayeux().await;
    let id = offer(direct, "agent1").await;
    bx.wait_for(20, |v| is_status(v, "Invited") && concerns(v, &id))
        .await
        .expect("Invited through the proxy");
    let a = ag
        .op(&id, json!({"operationName":"Accept","nickname":"Ann"}))
        .await;
    assert_eq!(a.body["statusCode"], 0, "{}", a.text);
    bx.wait_for(20, |v| is_status(v, "Chatting") && concerns(v, &id))
        .await
        .expect("Chatting through the proxy");
    bx.drain().await;
    let a = ag
        .op(
            &id,
            json!({"operationName":"Complete","text":"bye\u{1b}[2J"}),
        )
        .await;
    assert_eq!(a.body["statusCode"], 0, "{}", a.text);
    bx.drain().await;
    id
}

fn verdict(r: &RunReport, id: ReqId) -> Verdict {
    r.requirements
        .iter()
        .find(|q| q.id == id.as_str())
        .map(|q| q.verdict)
        .unwrap_or(Verdict::Error)
}

fn assert_clean(r: &RunReport, what: &str) {
    let fails: Vec<_> = r
        .requirements
        .iter()
        .filter(|q| q.verdict == Verdict::Fail)
        .map(|q| format!("{} {}", q.id, q.reason))
        .collect();
    assert!(fails.is_empty(), "{what}: {fails:?}");
    for id in [ReqId::Cmp01, ReqId::Cmp02, ReqId::Cmp04] {
        assert_eq!(verdict(r, id), Verdict::Pass, "{what}: {id}");
    }
    assert_eq!(r.cases.len(), 1, "{what}: one case per chat");
}

async fn observe_one(fault: Option<&str>) -> (RunningServer, observe::Observation, String) {
    let srv = faulty(fault).await;
    let proxy = observe::start_proxy(
        ProxyConfig {
            check: check_cfg(),
            print: true,
            ..ProxyConfig::new(&srv.base_url)
        },
        "127.0.0.1:0",
    )
    .await
    .expect("proxy starts");
    let id = drive_chat(&proxy.base_url, &srv.base_url).await;
    if fault.is_some() {
        // Live: the violation line appears while the proxy still runs (bounded wait).
        let mut live = Vec::new();
        for _ in 0..150 {
            live = proxy.violations();
            if !live.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            live.iter()
                .any(|l| l.starts_with("VIOLATION CMP-04 chat ") && l.contains(&id)),
            "no live CMP-04 line: {live:?}"
        );
    }
    let obs = proxy
        .finish(gws_conform::client::ProvisioningKind::ProviderState)
        .await;
    (srv, obs, id)
}

fn write_har(obs: &observe::Observation, base: &str, dir: &std::path::Path) -> PathBuf {
    let doc = har::har_of(&obs.exchanges, base);
    let text = gws_conform::report::scrub_text(
        &obs.scrubber,
        &serde_json::to_string_pretty(&doc).unwrap(),
    );
    for secret in ["agent1-pass", "YWdlbnQxOmFnZW50MS1wYXNz"] {
        assert!(!text.contains(secret), "HAR leaks {secret}");
    }
    for s in obs.scrubber.secrets() {
        assert!(!text.contains(s.as_str()), "HAR leaks a secret");
    }
    assert!(
        obs.scrubber.secrets().len() >= 4,
        "password, cookie and CSRF token were learned"
    );
    let p = dir.join("session.har");
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faithful_target_observed_live_and_from_har_has_no_violation() {
    let (srv, obs, _id) = observe_one(None).await;
    assert!(obs.lines.is_empty(), "{:?}", obs.lines);
    assert_clean(&obs.report, "live");
    let skipped = obs
        .report
        .requirements
        .iter()
        .find(|q| q.id == ReqId::Cmp20.as_str())
        .unwrap();
    assert_eq!(skipped.verdict, Verdict::Skip);
    assert_eq!(skipped.reason, "not exercised by the observed traffic");

    let dir = temp_dir("clean");
    let har_path = write_har(&obs, &srv.base_url, &dir);
    let off = observe::judge_har(
        &har_path,
        check_cfg(),
        1 << 30,
        gws_conform::client::ProvisioningKind::ProviderState,
    )
    .unwrap();
    assert_clean(&off.report, "har");
    assert!(off.lines.is_empty(), "{:?}", off.lines);
    srv.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reordering_target_gives_cmp04_live_in_the_report_from_har_and_on_replay() {
    let (srv, obs, id) = observe_one(Some("complete-text-after-status")).await;
    let r = &obs.report;
    assert_eq!(verdict(r, ReqId::Cmp04), Verdict::Fail);
    assert_eq!(verdict(r, ReqId::Cmp01), Verdict::Pass);
    assert_eq!(verdict(r, ReqId::Cmp02), Verdict::Pass);
    // The target's text reaches the line with its control characters escaped.
    let line = obs.lines.iter().find(|l| l.contains("CMP-04")).unwrap();
    assert!(!line.contains('\u{1b}'), "{line}");

    // Reports, and a case file of the usual kind for the violating chat.
    let dir = temp_dir("fault");
    let run = observe::write_observation(&dir, &obs, None).unwrap();
    assert!(run.join("report.json").is_file());
    assert!(run.join("junit.xml").is_file());
    assert!(run.join("report.html").is_file());
    let cases: Vec<PathBuf> = std::fs::read_dir(run.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(cases.len(), 1, "{cases:?}");
    let all = walk(&run);
    assert!(
        !all.contains("agent1-pass") && !all.contains("YWdlbnQxOmFnZW50MS1wYXNz"),
        "a secret reached the reports"
    );
    let cf = gws_conform::report::load_case_file(&cases[0]).unwrap();
    assert!(cf.id.contains(&id));
    assert!(
        matches!(&cf.steps[0], gws_conform::history::Step::OfferChat { agent, .. } if agent == "agent1")
    );
    assert_eq!(cf.steps.len(), 3, "{:?}", cf.steps);

    // The same verdicts offline, from a HAR of the proxied session.
    let har_path = write_har(&obs, &srv.base_url, &dir);
    let off = observe::judge_har(
        &har_path,
        check_cfg(),
        1 << 30,
        gws_conform::client::ProvisioningKind::ProviderState,
    )
    .unwrap();
    assert_eq!(verdict(&off.report, ReqId::Cmp04), Verdict::Fail);
    assert_eq!(verdict(&off.report, ReqId::Cmp01), Verdict::Pass);
    assert_eq!(verdict(&off.report, ReqId::Cmp02), Verdict::Pass);
    assert!(off.lines.iter().any(|l| l.starts_with("VIOLATION CMP-04")));

    // From observation to reproduction: the case replays on the same faulty server.
    let case = gws_conform::cases::Case {
        id: cf.id.clone(),
        seed: cf.case_seed,
        exercises: cf.exercises.clone(),
        steps: cf.steps.clone(),
    };
    let s = gws_conform::runner::RunSettings {
        target: Some(srv.base_url.clone()),
        agents: gws_conform::runner::embedded_agents(),
        mode: Some(gws_conform::runner::Mode::ProviderState),
        random_cases: 0,
        shrink_budget: 0,
        deadline: Duration::from_millis(1500),
        quiet_window: Duration::from_millis(300),
        replay: Some(case),
        ..Default::default()
    };
    let replayed = gws_conform::runner::execute(s).await.report;
    assert_eq!(
        verdict(&replayed, ReqId::Cmp04),
        Verdict::Fail,
        "{:?}",
        replayed.errors
    );
    srv.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn walk(dir: &std::path::Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.push_str(&walk(&p));
        } else {
            out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
        }
    }
    out
}

/// `run --target <proxy>`: the harness itself drives the target through the observing
/// proxy (provisioning goes to the server directly). Observe's verdicts agree with run's:
/// nothing fails on the faultless server; with a fault, both fail its requirement.
async fn run_through_proxy(fault: Option<&str>) -> (RunReport, RunReport) {
    use gws_conform::client::{Credentials, ProvisioningKind};
    use gws_conform::runner::{self, Progress, RunSettings};
    let srv = faulty(fault).await;
    let proxy = observe::start_proxy(
        ProxyConfig {
            check: check_cfg(),
            ..ProxyConfig::new(&srv.base_url)
        },
        "127.0.0.1:0",
    )
    .await
    .expect("proxy starts");
    let agents = test_config()
        .agents
        .iter()
        .take(2)
        .map(|(u, p)| Credentials::new(u.clone(), p.clone()))
        .collect();
    let s = RunSettings {
        target: Some(proxy.base_url.clone()),
        provider_url: Some(format!("{}/conformance/provider-state", srv.base_url)),
        agents,
        mode: Some(ProvisioningKind::ProviderState),
        random_cases: 0,
        only: vec!["CMP-04".into()],
        seed: 3,
        deadline: Duration::from_millis(1500),
        quiet_window: Duration::from_millis(300),
        shrink_budget: 0,
        progress: Progress::None,
        ..RunSettings::default()
    };
    let run = runner::execute(s).await.report;
    // Let the proxy judge the last chats (it judges a chat once it was quiet for the
    // deadline).
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let obs = proxy.finish(ProvisioningKind::ProviderState).await;
    (run, obs.report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_through_the_proxy_agrees_with_observe() {
    let (run, obs) = run_through_proxy(None).await;
    assert_eq!(run.exit_code, 0, "run: {:?}", run.errors);
    let fails: Vec<_> = obs
        .requirements
        .iter()
        .filter(|q| q.verdict == Verdict::Fail)
        .map(|q| format!("{} {}", q.id, q.reason))
        .collect();
    assert!(
        fails.is_empty(),
        "observe failed a faultless server: {fails:?}"
    );
    assert_eq!(verdict(&obs, ReqId::Cmp04), Verdict::Pass);
    assert_eq!(verdict(&run, ReqId::Cmp04), Verdict::Pass);

    let (run, obs) = run_through_proxy(Some("complete-text-after-status")).await;
    assert_eq!(verdict(&run, ReqId::Cmp04), Verdict::Fail);
    assert_eq!(
        verdict(&obs, ReqId::Cmp04),
        Verdict::Fail,
        "observe agrees with run on the fault"
    );
}
