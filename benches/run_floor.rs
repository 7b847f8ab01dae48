//! Time to verdict against the floor, whole-process (issue 13).
//!
//! `cargo bench --bench run_floor` spawns the release binary (`gws-conform`) and prints,
//! all measured in the same run:
//! - the default run (directed cases + 20 random, embedded server, 1 s quiet window)
//!   against the floor: a run whose only work is one settle (`--only CMP-14`), and
//!   `wall / quiet_window`;
//! - `--cases 200` (224 cases), the same way;
//! - peak RSS (VmHWM) of `run` at 1k and 10k random cases (100k only when
//!   `GWS_BENCH_100K=1`; it is slow);
//! - harness CPU per request against the server's: `serve` in its own process, `run
//!   --target` against it (customer-api and provider-state provisioning; the default
//!   concurrency, 16, 64 and 256), utime+stime of both from `/proc/<pid>/stat`, divided
//!   by the requests the run records; the median of 5 runs each (only these rows with
//!   `GWS_BENCH_ONLY=cpu`);
//! - equal work against Schemathesis (`schemathesis run` on the exported OpenAPI against
//!   `serve --no-csrf`), skipped with a message when `schemathesis` is not on PATH.
//!
//! Under `cargo test --benches` (no `--bench` argument) it only runs a quick smoke run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gws-conform");
const QUIET: Duration = Duration::from_secs(1);

/// A scratch folder under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("gws-run-floor-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("creating a scratch folder");
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one finished process cost.
struct Finished {
    wall: Duration,
    code: Option<i32>,
    /// Peak RSS in KiB (VmHWM, polled while it ran).
    hwm_kib: u64,
    /// utime + stime in seconds.
    cpu_s: f64,
}

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// `(state, utime + stime in ticks)` from `/proc/<pid>/stat`.
fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields start after ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let state = f.first()?.chars().next()?;
    // Fields 14 and 15 of stat (1-based) are utime and stime; here 0-based after pid/comm.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((state, utime + stime))
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Waits for `child` to exit, polling its peak RSS, and reads its CPU time while it is a
/// zombie (before reaping it).
fn finish(mut child: Child, started: Instant) -> Finished {
    let pid = child.id();
    let mut hwm = 0;
    let mut cpu = 0;
    loop {
        if let Some(h) = vm_hwm_kib(pid) {
            hwm = hwm.max(h);
        }
        match proc_stat(pid) {
            Some(('Z', t)) | Some(('X', t)) => {
                cpu = t;
                break;
            }
            Some((_, t)) => cpu = t,
            None => break,
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let wall = started.elapsed();
    let code = child.wait().ok().and_then(|s| s.code());
    Finished {
        wall,
        code,
        hwm_kib: hwm,
        cpu_s: cpu as f64 / clk_tck(),
    }
}

/// `gws-conform run` against the embedded server with `args` (reports into `dir`).
fn run(dir: &Path, args: &[&str]) -> Finished {
    let started = Instant::now();
    let child = Command::new(BIN)
        .arg("run")
        .args(["--seed", "1", "--reports"])
        .arg(dir)
        .args(args)
        .env_remove("GWS_TARGET")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning gws-conform run");
    finish(child, started)
}

/// Runs `args` `n` times; the fastest wall time (the floor of noise on a shared machine).
fn best_of(dir: &Path, n: usize, args: &[&str]) -> Finished {
    let mut best: Option<Finished> = None;
    for _ in 0..n {
        let f = run(dir, args);
        assert_eq!(f.code, Some(0), "gws-conform run {args:?} did not pass");
        if best.as_ref().is_none_or(|b| f.wall < b.wall) {
            best = Some(f);
        }
    }
    best.expect("n > 0")
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// `serve` in its own process; its base URL.
fn serve(extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning gws-conform serve");
    let out = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("reading the server's URL");
    (child, line.trim().to_string())
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Request events in every history of a report.json.
fn count_requests(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Object(m) => {
            let me = usize::from(
                m.get("type").and_then(|t| t.as_str()) == Some("request") && m.contains_key("seq"),
            );
            me + m.values().map(count_requests).sum::<usize>()
        }
        serde_json::Value::Array(a) => a.iter().map(count_requests).sum(),
        _ => 0,
    }
}

const AGENTS: &str = "agent1:agent1-pass,agent2:agent2-pass";

/// Harness and server CPU (s) of one `run --target` against a fresh `serve`.
fn cpu_of_run(dir: &Path, cases: &str, extra: &[&str]) -> (f64, f64, Option<i32>) {
    let (server, url) = serve(&[]);
    let tck = clk_tck();
    let before = proc_stat(server.id()).map(|s| s.1).unwrap_or(0);
    let started = Instant::now();
    let child = Command::new(BIN)
        .args(["run", "--seed", "1", "--cases", cases, "--target", &url])
        // The server has no capacity limit: no fixed bound on the harness side either.
        .args(["--max-chats-per-agent", "0"])
        .args(extra)
        .arg("--reports")
        .arg(dir)
        .env("GWS_AGENTS", AGENTS)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning run --target");
    let f = finish(child, started);
    let after = proc_stat(server.id()).map(|s| s.1).unwrap_or(0);
    stop(server);
    (f.cpu_s, (after - before) as f64 / tck, f.code)
}

/// Requests a run makes (same seed), counted from its `--events` NDJSON: passing
/// histories are not kept in report.json, and writing events costs CPU, so the measured
/// runs do not write them.
fn requests_of_run(dir: &Path, cases: &str, extra: &[&str]) -> usize {
    let (server, url) = serve(&[]);
    let events = dir.join("cpu-events.ndjson");
    let status = Command::new(BIN)
        .args(["run", "--seed", "1", "--cases", cases, "--target", &url])
        .args(["--max-chats-per-agent", "0"])
        .args(extra)
        .arg("--reports")
        .arg(dir)
        .arg("--events")
        .arg(&events)
        .env("GWS_AGENTS", AGENTS)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("running run --events");
    stop(server);
    let text = std::fs::read_to_string(&events).unwrap_or_default();
    let n = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| count_requests(&v))
        .sum::<usize>();
    // Keep the numbers honest: the run judged something.
    assert!(n > 100, "the run recorded {n} requests ({status})");
    n
}

/// Harness CPU per request against the server's, for each provisioning mode and at
/// each concurrency (the default: as many cases in flight as the run allows), the
/// median of `reps` runs each (CPU times on a shared machine vary from run to run).
fn cpu_per_request(dir: &Path, cases: &str, reps: usize) {
    let modes: [(&str, &[&str]); 2] = [
        ("customer-api", &[]),
        ("provider-state", &["--provisioning", "provider-state"]),
    ];
    for (mode, mode_args) in modes {
        let n = requests_of_run(dir, cases, mode_args);
        for conc in [None, Some("16"), Some("64"), Some("256")] {
            let mut args: Vec<&str> = mode_args.to_vec();
            if let Some(c) = conc {
                args.extend(["--concurrency", c]);
            }
            let mut runs: Vec<(f64, f64, Option<i32>)> =
                (0..reps).map(|_| cpu_of_run(dir, cases, &args)).collect();
            runs.sort_by(|a, b| (a.0 / a.1.max(1e-9)).total_cmp(&(b.0 / b.1.max(1e-9))));
            let ratios: Vec<String> = runs
                .iter()
                .map(|r| format!("{:.2}", r.0 / r.1.max(1e-9)))
                .collect();
            let (h, sv, code) = runs[runs.len() / 2];
            println!(
                "cpu/request  {mode:<14} --concurrency {:<7} --cases {cases}: exit {code:?}, {n} requests; \
                 harness {:.0} µs/request, server {:.0} µs/request, harness/server {:.2} (median of {reps}: {})",
                conc.unwrap_or("default"),
                h * 1e6 / n as f64,
                sv * 1e6 / n as f64,
                h / sv.max(1e-9),
                ratios.join(" ")
            );
        }
    }
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// Schemathesis on the same endpoint; `ours` is the wall time of the harness's run of
/// about the same number of requests (`--cases 200`), printed against it as a ratio.
fn schemathesis(dir: &Path, examples: usize, ours: Duration) {
    if !on_path("schemathesis") {
        println!("schemathesis  skipped: `schemathesis` is not on PATH");
        return;
    }
    let spec = dir.join("openapi.json");
    let ok = Command::new(BIN)
        .args(["export", "openapi", "--out"])
        .arg(&spec)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        || Command::new(BIN)
            .args(["export", "openapi"])
            .stdout(std::fs::File::create(&spec).expect("creating openapi.json"))
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        println!("schemathesis  skipped: `gws-conform export openapi` failed");
        return;
    }
    let (server, url) = serve(&["--no-csrf"]);
    let before = proc_stat(server.id()).map(|s| s.1).unwrap_or(0);
    let started = Instant::now();
    let n = examples.to_string();
    let child = Command::new("schemathesis")
        // Its cache (`.schemathesis/`) goes to the scratch folder, not the repository.
        .current_dir(dir)
        .arg("run")
        .arg(&spec)
        .args([
            "--url",
            &url,
            "--max-examples",
            &n,
            "--include-method",
            "POST",
        ])
        .args([
            "--phases",
            "examples,coverage,fuzzing",
            "--checks",
            "not_a_server_error",
        ])
        .args(["--auth", "agent1:agent1-pass"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning schemathesis");
    let pid = child.id();
    let out = child.wait_with_output().expect("schemathesis output");
    let wall = started.elapsed();
    let after = proc_stat(server.id()).map(|s| s.1).unwrap_or(0);
    stop(server);
    let _ = pid;
    let text = String::from_utf8_lossy(&out.stdout);
    // "Test cases: N generated, ..." in Schemathesis 4's summary.
    let generated = text
        .lines()
        .find_map(|l| {
            let i = l.find(" generated")?;
            l[..i].split_whitespace().last()?.parse::<usize>().ok()
        })
        .unwrap_or(0);
    let server_s = (after - before) as f64 / clk_tck();
    println!(
        "schemathesis  {generated} generated cases (max-examples {examples}) in {:.2} s \
         ({:.1} ms/case); server {:.0} µs/case",
        secs(wall),
        secs(wall) * 1e3 / generated.max(1) as f64,
        server_s * 1e6 / generated.max(1) as f64
    );
    println!(
        "equal work   gws-conform --cases 200 {:.2} s against Schemathesis {:.2} s: {:.1}× faster (with the notification and ordering checks Schemathesis does not do)",
        secs(ours),
        secs(wall),
        secs(wall) / secs(ours).max(1e-9)
    );
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let scratch = Scratch::new("main");
    let dir = scratch.0.as_path();
    if !bench {
        // `cargo test --benches`: a quick smoke run only.
        let f = run(dir, &["--cases", "2", "--quiet-window", "50ms"]);
        assert_eq!(f.code, Some(0), "smoke run did not pass");
        println!("run_floor smoke: {:.2} s", secs(f.wall));
        return;
    }
    if std::env::var("GWS_BENCH_ONLY").as_deref() == Ok("cpu") {
        // Only the CPU-per-request rows (`GWS_BENCH_ONLY=cpu cargo bench --bench run_floor`).
        cpu_per_request(dir, "400", 5);
        return;
    }
    let floor = best_of(dir, 3, &["--cases", "0", "--only", "CMP-14"]);
    let default = best_of(dir, 3, &[]);
    let c200 = best_of(dir, 2, &["--cases", "200"]);
    let q = secs(QUIET);
    println!(
        "floor        one settle (--only CMP-14): {:.2} s = {:.2} quiet windows",
        secs(floor.wall),
        secs(floor.wall) / q
    );
    for (name, f) in [
        ("default run (125 cases)", &default),
        ("--cases 200 (305 cases)", &c200),
    ] {
        println!(
            "{name:<24} {:.2} s = {:.2} quiet windows = {:.2} × floor; cpu {:.2} s; VmHWM {} MiB",
            secs(f.wall),
            secs(f.wall) / q,
            secs(f.wall) / secs(floor.wall),
            f.cpu_s,
            f.hwm_kib / 1024
        );
    }
    let mut sizes = vec![1_000usize, 10_000];
    if std::env::var_os("GWS_BENCH_100K").is_some() {
        sizes.push(100_000);
    }
    for n in sizes {
        let f = run(dir, &["--cases", &n.to_string()]);
        println!(
            "rss          --cases {n}: exit {:?}, {:.1} s, VmHWM {} MiB, cpu {:.1} s",
            f.code,
            secs(f.wall),
            f.hwm_kib / 1024,
            f.cpu_s
        );
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::create_dir_all(dir);
    }
    cpu_per_request(dir, "400", 5);
    schemathesis(dir, 224, c200.wall);
}
