//! What a run leaves for other tools (issue 14): `cases/<id>.har` of each failing case,
//! the `--events` NDJSON stream, and shards run as separate processes against one
//! `serve` whose merge equals the unsharded run.

use crate::common_bin;

use common_bin::{BIN, run_dir, serve, tmpdir};
use gws_conform::check::{CheckConfig, Verdict};
use gws_conform::report::{RunReport, load_report};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// `gws-conform ARGS` with no `GWS_*` variable of the test's environment, plus `envs`.
fn command(args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("GWS_") {
            c.env_remove(k);
        }
    }
    for (k, v) in envs {
        c.env(k, v);
    }
    c
}

fn run(args: &[&str], envs: &[(&str, &str)]) -> Output {
    command(args, envs).output().expect("runs the binary")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The texts a secret may take: the passwords and the Basic credentials.
fn secret_forms(agents: &[(&str, &str)]) -> Vec<String> {
    use base64::Engine;
    let mut out = Vec::new();
    for (u, p) in agents {
        out.push(p.to_string());
        out.push(base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")));
    }
    out
}

fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "authorization" || n == "cookie" || n == "set-cookie" || n.contains("csrf-token")
}

#[test]
fn a_failing_run_writes_a_har_per_failing_case_and_streams_its_events() {
    let (pw1, pw2) = ("Har-s3cret-Pw1x", "Har-s3cret-Pw2y");
    let agents = format!("agent1:{pw1},agent2:{pw2}");
    let srv = serve(&["--agents", &agents, "--fault", "complete-text-after-status"]);
    let reports = tmpdir("har-events");
    let side = tmpdir("har-events-side");
    let events = side.join("run.ndjson");
    let out = run(
        &[
            "run",
            "--target",
            &srv.url,
            "--seed",
            "3",
            "--cases",
            "1",
            "--only",
            "CMP-04,SES-01,SES-02",
            "--quiet-window",
            "300ms",
            "--shrink-budget",
            "8",
            "--reports",
            reports.to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
        ],
        &[("GWS_AGENTS", &agents)],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let secrets = secret_forms(&[("agent1", pw1), ("agent2", pw2)]);
    let dir = run_dir(&reports);
    let report = load_report(&dir.join("report.json")).unwrap();
    let stems = gws_conform::report::case_stems(&report);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();

    // One HAR per failing case that sent a request.
    let failing: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Fail && !c.steps.is_empty())
        .collect();
    assert!(!failing.is_empty());
    let mut cmp04_hars = Vec::new();
    for c in &failing {
        let stem = &stems[&c.id];
        let p = dir.join("cases").join(format!("{stem}.har"));
        let text = std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e} (case {})", p.display(), c.id));
        assert!(
            html.contains(&format!("href=\"cases/{stem}.har\"")),
            "the HTML links {stem}.har"
        );
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{} holds a secret", p.display());
        }
        let har: Value = serde_json::from_str(&text).unwrap();
        let log = &har["log"];
        assert_eq!(log["version"], "1.2", "{}", p.display());
        assert_eq!(log["creator"]["name"], "gws-conform");
        let entries = log["entries"].as_array().unwrap();
        assert!(!entries.is_empty());
        let mut completes = 0;
        let mut connects = 0;
        for e in entries {
            for k in [
                "startedDateTime",
                "time",
                "request",
                "response",
                "cache",
                "timings",
            ] {
                assert!(e.get(k).is_some(), "{}: an entry without {k}", p.display());
            }
            let req = &e["request"];
            assert!(
                req["url"]
                    .as_str()
                    .unwrap()
                    .starts_with("http://127.0.0.1:")
            );
            for h in req["headers"].as_array().unwrap() {
                if is_secret_header(h["name"].as_str().unwrap()) {
                    assert_eq!(h["value"], "<redacted>", "{}: {h}", p.display());
                }
            }
            assert_eq!(req["cookies"], Value::Array(vec![]));
            let body = req["postData"]["text"].as_str().unwrap_or("");
            if let Ok(b) = serde_json::from_str::<Value>(body) {
                if b["operationName"] == "Complete"
                    && req["url"].as_str().unwrap().contains("/me/chats/")
                {
                    completes += 1;
                }
                if b[0]["channel"] == "/meta/connect" {
                    connects += 1;
                    let answer: Value =
                        serde_json::from_str(e["response"]["content"]["text"].as_str().unwrap())
                            .unwrap();
                    assert_eq!(answer[1]["channel"], "/v2/me/chats");
                }
            }
        }
        if c.findings
            .iter()
            .any(|f| f.verdict == Verdict::Fail && f.req.as_str() == "CMP-04")
        {
            assert!(completes >= 1, "{}: the Complete request", p.display());
            assert!(connects >= 2, "{}: the notifications", p.display());
            cmp04_hars.push(p);
        }
    }
    // The HAR is complete enough to judge again offline: `observe --har` finds the
    // same CMP-04 failure in it.
    let p = cmp04_hars.first().expect("a case failing CMP-04");
    let o = gws_conform::observe::judge_har(
        p,
        CheckConfig::default(),
        1 << 30,
        gws_conform::client::ProvisioningKind::CustomerApi,
    )
    .unwrap();
    let row = o
        .report
        .requirements
        .iter()
        .find(|q| q.id == "CMP-04")
        .unwrap();
    assert_eq!(row.verdict, Verdict::Fail, "{}", row.reason);

    // The events: every line JSON, one verdict per case of report.json, each case
    // started before it is judged, the run framed by run_started and run_finished.
    let text = std::fs::read_to_string(&events).unwrap();
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "the events hold a secret");
    }
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.first().unwrap()["type"], "run_started");
    assert_eq!(lines.first().unwrap()["seed"], 3);
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "run_finished");
    assert_eq!(last["exit_code"], 1);
    assert_eq!(last["run_id"], report.run_id.as_str());
    let mut started: BTreeMap<String, usize> = BTreeMap::new();
    let mut verdicts: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut n_verdicts = 0;
    for (i, l) in lines.iter().enumerate() {
        let case = l["case"].as_str().map(str::to_string);
        match l["type"].as_str().unwrap() {
            "case_started" => {
                started.insert(case.unwrap(), i);
            }
            "verdict" => {
                n_verdicts += 1;
                verdicts.insert(case.unwrap(), (i, l["verdict"].as_str().unwrap().into()));
            }
            "request" => {
                assert!(case.is_some(), "{l}");
                for h in l["headers"].as_array().unwrap() {
                    if is_secret_header(h[0].as_str().unwrap()) {
                        assert_eq!(h[1], "<redacted>", "{l}");
                    }
                }
            }
            _ => {}
        }
    }
    assert_eq!(n_verdicts, report.cases.len(), "one verdict line per case");
    for c in &report.cases {
        let (at, v) = verdicts
            .get(&c.id)
            .unwrap_or_else(|| panic!("no verdict line for {}", c.id));
        assert_eq!(v, c.verdict.as_str(), "case {}", c.id);
        if !c.steps.is_empty() {
            let s = started
                .get(&c.id)
                .unwrap_or_else(|| panic!("no case_started for {}", c.id));
            assert!(s < at, "case {} started after its verdict", c.id);
        }
    }
    // The failing cases' requests are there, Completes among them.
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "request" && l["body"].to_string().contains("\"Complete\""))
    );
    assert!(lines.iter().any(|l| l["type"] == "notification"));
}

#[test]
fn events_come_from_the_environment_or_the_config_file_and_a_bad_path_is_named() {
    let d = tmpdir("events-env");
    let base = [
        "run",
        "--cases",
        "0",
        "--only",
        "SES-02",
        "--quiet-window",
        "200ms",
    ];
    // GWS_EVENTS.
    let from_env = d.join("env.ndjson");
    let reports = d.join("r1");
    let mut args = base.to_vec();
    args.extend(["--reports", reports.to_str().unwrap()]);
    let out = run(&args, &[("GWS_EVENTS", from_env.to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&from_env).unwrap();
    assert!(text.lines().last().unwrap().contains("\"run_finished\""));
    // gws-conform.toml.
    let from_file = d.join("file.ndjson");
    let cfg = d.join("gws-conform.toml");
    std::fs::write(
        &cfg,
        format!("events = {:?}\n", from_file.to_str().unwrap()),
    )
    .unwrap();
    let reports = d.join("r2");
    let mut args = base.to_vec();
    args.extend([
        "--reports",
        reports.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    let out = run(&args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(&from_file)
            .unwrap()
            .contains("\"verdict\"")
    );
    // A path that cannot be created: a usage error naming it, before anything runs.
    std::fs::write(d.join("plain-file"), "x").unwrap();
    let bad = d.join("plain-file").join("events.ndjson");
    let reports = d.join("r3");
    let mut args = base.to_vec();
    args.extend([
        "--reports",
        reports.to_str().unwrap(),
        "--events",
        bad.to_str().unwrap(),
    ]);
    let out = run(&args, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--events"), "{}", stderr(&out));
    assert!(stderr(&out).contains("plain-file"), "{}", stderr(&out));
    // Documented in --help.
    let help = run(&["run", "--help"], &[]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--events") && help.contains("GWS_EVENTS"),
        "{help}"
    );
}

/// Shard processes killed when the test ends early.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Requirement id -> verdict.
fn verdicts(r: &RunReport) -> BTreeMap<String, Verdict> {
    r.requirements
        .iter()
        .map(|q| (q.id.clone(), q.verdict))
        .collect()
}

/// The case ids, without the per-process `session` pseudo-cases (`session` unsharded,
/// `session-K` in shard K).
fn case_ids(r: &RunReport) -> BTreeSet<String> {
    r.cases
        .iter()
        .filter(|c| !c.id.starts_with("session"))
        .map(|c| c.id.clone())
        .collect()
}

#[test]
fn shards_run_as_separate_processes_merge_to_the_unsharded_run() {
    // One target for all: a `serve` process with a fault, so the verdicts compared
    // include failures. The shards log in as the same agents at the same time, as the
    // CI recipes and the Kubernetes Job do; provider-state provisioning offers each chat
    // to a named agent (with customer-api the target routes a requested chat to any
    // Ready session, which may be another process's).
    let srv = serve(&["--fault", "complete-text-after-status"]);
    let d = tmpdir("shards-processes");
    let agents = [("GWS_AGENTS", "agent1:agent1-pass,agent2:agent2-pass")];
    let common = |reports: &Path, json: &Path| -> Vec<String> {
        [
            "run",
            "--target",
            &srv.url,
            "--provisioning",
            "provider-state",
            "--seed",
            "11",
            "--cases",
            "3",
            "--only",
            "CMP-01,CMP-04,NTF-02",
            "--quiet-window",
            "300ms",
            "--shrink-budget",
            "4",
            "--reports",
            reports.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    const N: u32 = 3;
    let mut kids = Children(Vec::new());
    for k in 1..=N {
        let mut args = common(&d.join(format!("r{k}")), &d.join(format!("k{k}.json")));
        args.extend(["--shard".to_string(), format!("{k}/{N}")]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = command(&args, &agents)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts a shard");
        kids.0.push(child);
    }
    let mut shard_exits = Vec::new();
    for c in kids.0.drain(..) {
        let o = c.wait_with_output().unwrap();
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "a shard ended with {:?}: {}",
            o.status.code(),
            stderr(&o)
        );
        shard_exits.push(o.status.code());
    }
    let whole_json = d.join("k0.json");
    let args = common(&d.join("r0"), &whole_json);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let whole = run(&args, &agents);
    assert_eq!(whole.status.code(), Some(1), "{}", stderr(&whole));

    let merged_dir = d.join("merged");
    let mut args = vec!["merge".to_string(), "--out".into()];
    args.push(merged_dir.to_str().unwrap().into());
    for k in 1..=N {
        args.push(d.join(format!("k{k}.json")).to_str().unwrap().into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let merge = run(&args, &[]);
    let whole = load_report(&whole_json).unwrap();
    let merged = load_report(&merged_dir.join("report.json")).unwrap();
    let shards: Vec<RunReport> = (1..=N)
        .map(|k| load_report(&d.join(format!("k{k}.json"))).unwrap())
        .collect();

    // Every shard ran some of the cases, none ran them all.
    for (k, s) in shards.iter().enumerate() {
        assert_eq!(
            s.config.shard.as_deref(),
            Some(format!("{}/{N}", k + 1).as_str())
        );
        assert!(s.case_count() > 0 && s.case_count() < whole.case_count());
    }
    assert_eq!(
        merge.status.code(),
        Some(whole.exit_code),
        "{}",
        stderr(&merge)
    );
    assert_eq!(case_ids(&merged), case_ids(&whole));
    assert_eq!(merged.case_count(), whole.case_count());
    assert_eq!(verdicts(&merged), verdicts(&whole));
    assert_eq!(merged.overall, whole.overall);
    assert_eq!(merged.seed, 11);
    assert!(merged.errors.is_empty(), "{:?}", merged.errors);
    // The fault shows in both.
    assert_eq!(verdicts(&whole)["CMP-04"], Verdict::Fail);
}
