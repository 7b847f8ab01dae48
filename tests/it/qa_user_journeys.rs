//! The product as its users meet it, end to end through the binary: a vendor certifying
//! a `serve --fault` target and replaying what failed (CMP-21, SPEC §5 exit codes), a CI
//! gate (baselines, shards + merge, JUnit), a developer reading report.html and running
//! the curl script. Each run is kept short (`--cases 0|2 --only … --shrink-budget 0`).

use crate::common_bin;

use common_bin::{BIN, run_dir, serve, tmpdir};
use std::path::Path;
use std::process::{Command, Output, Stdio};
const AGENTS: &str = "agent1:agent1-pass,agent2:agent2-pass";
const FAST: &[&str] = &[
    "--quiet-window",
    "300ms",
    "--deadline",
    "2s",
    "--shrink-budget",
    "0",
    "--seed",
    "5",
];

fn command(cwd: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(cwd).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("GWS_") {
            c.env_remove(k);
        }
    }
    c.env("GWS_AGENTS", AGENTS);
    c
}

fn gws(cwd: &Path, args: &[&str]) -> Output {
    command(cwd).args(args).output().expect("runs the binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn report_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `(id, verdict, waiver_unused)` of every requirement of a report.json.
fn verdicts(report: &serde_json::Value) -> Vec<(String, String, bool)> {
    report["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["id"].as_str().unwrap().to_string(),
                q["verdict"].as_str().unwrap().to_string(),
                q["waiver_unused"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

fn verdict_of(report: &serde_json::Value, id: &str) -> String {
    verdicts(report)
        .into_iter()
        .find(|(i, _, _)| i == id)
        .map(|(_, v, _)| v)
        .unwrap_or_else(|| panic!("{id} in the report"))
}

/// The summary line of requirement `id` printed by run/replay.
fn summary_line<'a>(out: &'a str, id: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("{id} in the summary:\n{out}"))
}

/// CMP-21 (MUST) and SPEC §5: a vendor runs against a faulty server, gets exit 1 naming
/// CMP-21; the replay command the report prints (JUnit and HTML) reproduces the failure
/// as printed, from the run folder, and the same case passes on a faultless server.
#[test]
fn printed_replay_command_reproduces_the_failure_and_passes_on_a_clean_target() {
    let faulty = serve(&["--fault", "other-agent-chat-completable"]);
    let clean = serve(&[]);
    let tmp = tmpdir("replay");
    let reports = tmp.join("reports");
    let mut args = vec!["run", "--target", &faulty.url, "--cases", "0"];
    args.extend_from_slice(&["--only", "CMP-21", "--reports", reports.to_str().unwrap()]);
    args.extend_from_slice(FAST);
    let o = gws(&tmp, &args);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        summary_line(&stdout(&o), "CMP-21").contains("fail"),
        "{}",
        show(&o)
    );

    let dir = run_dir(&reports);
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let printed = junit
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay:"))
        .expect("JUnit names the replay command")
        .trim()
        .to_string();
    assert!(
        printed.ends_with(&format!("--target {}", faulty.url)),
        "the replay names the target it failed on: {printed}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains(&printed), "the HTML prints the same command");

    // As printed, from another directory: absolute program and case file.
    let words: Vec<&str> = printed.split_whitespace().collect();
    let elsewhere = tmp.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mut again: Vec<&str> = words.clone();
    again.extend_from_slice(&["--quiet-window", "300ms", "--deadline", "2s"]);
    again.extend_from_slice(&["--reports", "../replays"]);
    let o = as_printed(&elsewhere, &again);
    assert!(
        summary_line(&stdout(&o), "CMP-21").contains("fail"),
        "the replay fails CMP-21 again: {}",
        show(&o)
    );
    assert!(
        stdout(&o).starts_with("reproduced: CMP-21 "),
        "the first line says it reproduced: {}",
        show(&o)
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));

    // The same case against the faultless server passes.
    let case = words[2];
    let mut on_clean = vec!["replay", case, "--target", &clean.url];
    on_clean.extend_from_slice(&["--quiet-window", "300ms", "--deadline", "2s"]);
    on_clean.extend_from_slice(&["--reports", "../replays"]);
    let o = gws(&dir, &on_clean);
    assert!(
        summary_line(&stdout(&o), "CMP-21").contains("pass"),
        "{}",
        show(&o)
    );
    assert!(
        stdout(&o).starts_with("no longer reproduces"),
        "{}",
        show(&o)
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
}

/// Runs a printed replay command as printed (`words[0]` is the program: `gws-conform`
/// on PATH, or the absolute path of the binary) in `cwd`, with `GWS_AGENTS` set.
fn as_printed(cwd: &Path, words: &[&str]) -> Output {
    assert!(words.len() > 2 && words[1] == "replay", "{words:?}");
    assert!(
        Path::new(words[2]).is_absolute(),
        "the case file is named by its absolute path: {words:?}"
    );
    let program = if words[0] == "gws-conform" {
        BIN
    } else {
        assert!(Path::new(words[0]).is_absolute(), "{words:?}");
        words[0]
    };
    let mut c = Command::new(program);
    c.current_dir(cwd).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("GWS_") {
            c.env_remove(k);
        }
    }
    c.env("GWS_AGENTS", AGENTS);
    c.args(&words[1..])
        .output()
        .expect("runs the printed command")
}

/// CMP-07 (MUST) is only observable with provider-state provisioning: a run on a
/// `--target` with `--provisioning provider-state` fails it on `serve --fault
/// queue-ignored`, and the printed replay command, run as printed, fails it again
/// (instead of replaying in customer-api mode, where CMP-07 is Skip).
#[test]
fn printed_replay_keeps_provider_state_provisioning() {
    let faulty = serve(&["--fault", "queue-ignored"]);
    let tmp = tmpdir("replay-provider");
    let reports = tmp.join("reports");
    let mut args = vec!["run", "--target", &faulty.url, "--cases", "0"];
    args.extend_from_slice(&["--provisioning", "provider-state", "--only", "CMP-07"]);
    args.extend_from_slice(&["--reports", reports.to_str().unwrap()]);
    args.extend_from_slice(FAST);
    let o = gws(&tmp, &args);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        summary_line(&stdout(&o), "CMP-07").contains("fail"),
        "{}",
        show(&o)
    );
    let dir = run_dir(&reports);
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let printed = junit
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay:"))
        .expect("JUnit names the replay command")
        .trim()
        .to_string();
    let words: Vec<&str> = printed.split_whitespace().collect();
    let mut again: Vec<&str> = words.clone();
    again.extend_from_slice(&["--reports", "../replays"]);
    let o = as_printed(&tmp, &again);
    assert!(
        summary_line(&stdout(&o), "CMP-07").contains("fail"),
        "{printed}: {}",
        show(&o)
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// CMP-21: the curl script of a failing case replays with only the environment it
/// documents (no ContactCenterId, no provider URL needed: it defaults them as the
/// harness does) and shows the accepted Complete; when no chat can be offered it stops
/// with a message instead of posting to a chat named "-".
#[test]
fn curl_script_replays_with_the_documented_environment_and_stops_when_it_cannot_offer() {
    if !(have("bash") && have("curl") && have("python3")) {
        eprintln!("skipped: bash, curl and python3 are needed to run a curl script");
        return;
    }
    let faulty = serve(&["--fault", "other-agent-chat-completable"]);
    let tmp = tmpdir("curl-journey");
    let reports = tmp.join("reports");
    let mut args = vec!["run", "--target", &faulty.url, "--cases", "0"];
    args.extend_from_slice(&["--only", "CMP-21", "--reports", reports.to_str().unwrap()]);
    args.extend_from_slice(FAST);
    let o = gws(&tmp, &args);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let dir = run_dir(&reports);
    let script = std::fs::read_dir(dir.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sh"))
        .expect("a curl script");

    let bash = |envs: &[(&str, &str)]| {
        let mut c = Command::new("bash");
        c.arg(&script).stdin(Stdio::null());
        for (k, _) in std::env::vars() {
            if k.starts_with("GWS_") || k.starts_with("CHAT_") {
                c.env_remove(k);
            }
        }
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let env = [
        ("GWS_TARGET", faulty.url.as_str()),
        ("GWS_USER", "agent1"),
        ("GWS_PASSWORD", "agent1-pass"),
        ("GWS_USER2", "agent2"),
        ("GWS_PASSWORD2", "agent2-pass"),
    ];
    let o = bash(&env);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("replay finished"), "{}", show(&o));
    assert!(
        !err.contains("chat c1 = -"),
        "a chat was offered: {}",
        show(&o)
    );
    // Agent 2's Complete of agent 1's chat is accepted: the CMP-21 failure, visible.
    let out = stdout(&o);
    assert!(out.contains("{\"statusCode\":0"), "{}", show(&o));
    assert!(!out.contains("agent1-pass") && !err.contains("agent1-pass"));

    let mut unreachable = env.to_vec();
    unreachable.push(("GWS_PROVISIONING", "provider-state"));
    unreachable.push(("GWS_PROVIDER_URL", "http://127.0.0.1:9/provider"));
    let o = bash(&unreachable);
    assert_ne!(o.status.code(), Some(0), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cannot offer chat"), "{}", show(&o));
    assert!(!err.contains("replay finished"), "{}", show(&o));
}

/// CMP-04 (SPEC §1.4, §6.1, §6.7): the script of a case failed on `serve --fault
/// complete-text-after-status` opens the agent's Bayeux long-poll and prints the
/// notifications in order: the Completed StatusChange comes before the NewMessages with
/// the agent's text, under the line saying the harness expected the text first.
#[test]
fn curl_script_prints_the_notifications_and_shows_the_out_of_order_completed() {
    if !(have("bash") && have("curl") && have("python3")) {
        eprintln!("skipped: bash, curl and python3 are needed to run a curl script");
        return;
    }
    let faulty = serve(&["--fault", "complete-text-after-status"]);
    let tmp = tmpdir("curl-bayeux");
    let reports = tmp.join("reports");
    let mut args = vec!["run", "--target", &faulty.url, "--cases", "0"];
    args.extend_from_slice(&["--provisioning", "provider-state", "--only", "CMP-04"]);
    args.extend_from_slice(&["--reports", reports.to_str().unwrap()]);
    args.extend_from_slice(FAST);
    // CI copies at fixed paths: --junit as a flag, the JSON through its env twin.
    let ci = tmp.join("ci");
    let junit_path = ci.join("junit.xml");
    args.extend_from_slice(&["--junit", junit_path.to_str().unwrap()]);
    let o = command(&tmp)
        .args(&args)
        .env("GWS_JSON", ci.join("out/report.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let junit = std::fs::read_to_string(&junit_path).expect("--junit PATH written");
    assert!(
        junit.contains("<testsuite name=\"gws-conform.CMP\""),
        "{junit}"
    );
    let json = report_json(&ci.join("out/report.json"));
    assert_eq!(verdict_of(&json, "CMP-04"), "fail");
    let dir = run_dir(&reports);
    let script = std::fs::read_dir(dir.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sh"))
        .expect("a curl script");
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(!text.contains("agent1-pass"), "no password in the script");

    let mut c = Command::new("bash");
    c.arg(&script).current_dir(&tmp).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("GWS_") || k.starts_with("CHAT_") {
            c.env_remove(k);
        }
    }
    c.env("GWS_TARGET", &faulty.url)
        .env("GWS_USER", "agent1")
        .env("GWS_PASSWORD", "agent1-pass")
        .env("GWS_USER2", "agent2")
        .env("GWS_PASSWORD2", "agent2-pass");
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    let find = |pred: &dyn Fn(&str) -> bool, what: &str| {
        lines
            .iter()
            .position(|l| pred(l))
            .unwrap_or_else(|| panic!("{what} in the output:\n{}", show(&o)))
    };
    let expects = find(
        &|l| l.starts_with("expects") && l.contains("(CMP-04)"),
        "the expectation of the Complete",
    );
    let completed = find(
        &|l| l.contains("notification agent1: StatusChange state=Completed"),
        "the Completed StatusChange",
    );
    let text_line = find(
        &|l| l.contains("notification agent1: NewMessages") && l.contains("Text(Agent) \""),
        "the agent's text",
    );
    assert!(
        expects < completed && completed < text_line,
        "expectation, then Completed printed before the agent's text:\n{out}"
    );
    let invited = find(
        &|l| l.contains("notification agent1: StatusChange state=Invited"),
        "the Invited StatusChange",
    );
    assert!(invited < completed, "{out}");
}

/// SPEC §5 baselines: a waiver of the failing CMP-21 turns exit 1 into 0 and shows
/// Waived in the summary, report.json, JUnit and HTML; an expired waiver fails the run;
/// a waiver of a passing requirement (NTF-02) is reported unused, one of a requirement
/// the run did not exercise (CMP-12, outside --only) is not.
#[test]
fn baseline_waives_the_failure_an_expired_one_fails_and_unused_ones_are_named() {
    let tmp = tmpdir("baseline");
    let good = tmp.join("good.toml");
    std::fs::write(
        &good,
        "[[waive]]\nid = \"CMP-21\"\nreason = \"ticket QA-1\"\nexpires = \"2099-12-31\"\n\
         [[waive]]\nid = \"NTF-02\"\nreason = \"stale\"\n\
         [[waive]]\nid = \"CMP-12\"\nreason = \"not run here\"\n",
    )
    .unwrap();
    let expired = tmp.join("expired.toml");
    std::fs::write(
        &expired,
        "[[waive]]\nid = \"CMP-21\"\nreason = \"ticket QA-1\"\nexpires = \"2020-01-01\"\n",
    )
    .unwrap();
    let run = |name: &str, baseline: Option<&Path>| {
        let reports = tmp.join(name);
        let mut args = vec!["run", "--fault", "other-agent-chat-completable"];
        args.extend_from_slice(&["--cases", "0", "--only", "CMP-21"]);
        args.extend_from_slice(&["--reports", reports.to_str().unwrap()]);
        args.extend_from_slice(FAST);
        if let Some(b) = baseline {
            args.extend_from_slice(&["--baseline", b.to_str().unwrap()]);
        }
        let o = gws(&tmp, &args);
        (o, run_dir(&reports))
    };

    let (o, _) = run("none", None);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));

    let (o, dir) = run("waived", Some(&good));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(summary_line(&stdout(&o), "CMP-21").contains("waived"));
    let r = report_json(&dir.join("report.json"));
    let rows = verdicts(&r);
    assert!(rows.contains(&("CMP-21".into(), "waived".into(), false)));
    // SPEC §6.11: the other agent's accepted Complete is the case's first divergence;
    // its later steps (the owner's Complete, CMP-13) are not run: the passing
    // requirement whose waiver is unused is NTF-02.
    assert!(
        rows.contains(&("NTF-02".into(), "pass".into(), true)),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("CMP-12".into(), "skip".into(), false)),
        "{rows:?}"
    );
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains("type=\"waived\""), "{junit}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<span class=\"v waived\">waived</span>"));
    assert!(html.contains("waiver unused"));

    let (o, _) = run("expired", Some(&expired));
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stdout(&o).contains("expired on 2020-01-01"), "{}", show(&o));
}

/// SPEC §5 shards: `--shard 1/2` and `2/2` of an embedded run with one seed merge into
/// the requirement verdicts and exit code of the unsharded run (each shard started its
/// own server on its own port); with a baseline the merge keeps the shards' waiver.
#[test]
fn shards_merge_to_the_unsharded_verdicts_with_and_without_a_baseline() {
    let tmp = tmpdir("shards");
    let baseline = tmp.join("b.toml");
    std::fs::write(
        &baseline,
        "[[waive]]\nid = \"CMP-21\"\nreason = \"ticket QA-2\"\n",
    )
    .unwrap();
    for (tag, with_baseline, exit) in [("plain", false, 1), ("waived", true, 0)] {
        let run = |name: &str, shard: Option<&str>| {
            let reports = tmp.join(format!("{tag}-{name}"));
            let mut args = vec!["run", "--fault", "other-agent-chat-completable"];
            args.extend_from_slice(&["--cases", "2", "--only", "CMP-21,CMP-13,CMP-01"]);
            args.extend_from_slice(&["--reports", reports.to_str().unwrap()]);
            args.extend_from_slice(FAST);
            if let Some(s) = shard {
                args.extend_from_slice(&["--shard", s]);
            }
            if with_baseline {
                args.extend_from_slice(&["--baseline", baseline.to_str().unwrap()]);
            }
            let o = gws(&tmp, &args);
            assert!(
                matches!(o.status.code(), Some(0 | 1)),
                "{name}: {}",
                show(&o)
            );
            run_dir(&reports)
        };
        let whole = run("whole", None);
        let s1 = run("s1", Some("1/2"));
        let s2 = run("s2", Some("2/2"));
        let merged = tmp.join(format!("{tag}-merged"));
        let o = gws(
            &tmp,
            &[
                "merge",
                s1.to_str().unwrap(),
                s2.to_str().unwrap(),
                "--out",
                merged.to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.code(), Some(exit), "{tag}: {}", show(&o));
        let w = report_json(&whole.join("report.json"));
        let m = report_json(&merged.join("report.json"));
        assert_eq!(verdicts(&m), verdicts(&w), "{tag}");
        assert_eq!(m["exit_code"], w["exit_code"], "{tag}");
        assert_eq!(w["exit_code"], exit, "{tag}");
        let want = if with_baseline { "waived" } else { "fail" };
        assert_eq!(verdict_of(&m, "CMP-21"), want, "{tag}");
        let junit = std::fs::read_to_string(merged.join("junit.xml")).unwrap();
        assert!(junit.starts_with("<?xml"), "{junit}");
        assert_eq!(junit.matches("<testcase ").count(), 27, "{junit}");
    }
}

/// CMP-21 in report.html: the failing requirement is named above the requirement table,
/// linked to its row and to its failing case, whose section exists.
#[test]
fn html_names_the_failing_requirement_before_the_table() {
    let tmp = tmpdir("html");
    let reports = tmp.join("reports");
    let mut args = vec!["run", "--fault", "other-agent-chat-completable"];
    args.extend_from_slice(&["--cases", "0", "--only", "CMP-21"]);
    args.extend_from_slice(&["--reports", reports.to_str().unwrap()]);
    args.extend_from_slice(FAST);
    let o = gws(&tmp, &args);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let html = std::fs::read_to_string(run_dir(&reports).join("report.html")).unwrap();
    let glance = html
        .find("id=\"failing\"")
        .expect("a failing-requirements box");
    let table = html.find("id=\"requirements\"").unwrap();
    assert!(glance < table, "the box comes before the table");
    let box_html = &html[glance..table];
    assert!(
        box_html.contains("<a href=\"#req-CMP-21\">CMP-21</a>"),
        "{box_html}"
    );
    assert!(!box_html.contains("CMP-01"), "only failures: {box_html}");
    let case_link = box_html
        .split("href=\"#case-")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a link to the failing case");
    assert!(html.contains(&format!("id=\"case-{case_link}\"")));
    // The timeline says which chat each request and notification is about.
    let svg = &html[html.find("<svg").expect("a timeline")..];
    assert!(svg.contains("[c1] agent2: POST /api/v2/me/chats/"), "{svg}");
    assert!(
        svg.contains(" [c1]: ChatStateChangeMessage StatusChange"),
        "{svg}"
    );
    assert!(
        svg.contains(" [c1]: MessageLogUpdated NewMessages"),
        "{svg}"
    );
}
