//! Smoke test of the bench tool on a tiny data set: load 200 users (and 3000
//! log events), start the real castellan binary, run every workload (the
//! dashboard pages too) briefly, and require a table with no errors and
//! non-empty results. It asserts no timings (speed is for BENCHMARKS.md).
//!
//! The castellan binary comes from $CASTELLAN_BIN, else target/debug, else
//! target/release of this workspace (`cargo build --workspace` makes it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn castellan_bin() -> PathBuf {
    if let Ok(p) = std::env::var("CASTELLAN_BIN") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for profile in ["debug", "release"] {
        let p = root.join("target").join(profile).join("castellan");
        if p.exists() {
            return p;
        }
    }
    panic!(
        "the castellan binary is missing: run `cargo build -p castellan` first (looked in target/debug and \
         target/release), or set CASTELLAN_BIN"
    );
}

fn bench(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_castellan-bench"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run castellan-bench: {e}"));
    eprintln!("$ castellan-bench {}", args.join(" "));
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn every_workload_runs_without_errors_on_a_tiny_data_set() {
    let bin = castellan_bin();
    let bin = bin.to_str().expect("utf-8 path");
    let dir = TempDir(std::env::temp_dir().join(format!("castellan-bench-smoke-{}", std::process::id())));
    let d = dir.0.to_str().expect("utf-8 path");

    let out = bench(&["load", "--data-dir", d, "--users", "200", "--batch", "64", "--bin", bin]);
    assert!(out.status.success(), "load failed");
    assert!(String::from_utf8_lossy(&out.stdout).contains("holds 200 users"));

    let out = bench(&[
        "run",
        "--data-dir",
        d,
        "--bin",
        bin,
        "--workloads",
        "all,dash:all",
        "--duration",
        "0.5",
        "--warmup",
        "0.1",
        "--connections",
        "2",
        "--create-connections",
        "2",
        "--server-log",
        "warn",
        "--fail-on-error",
    ]);
    assert!(out.status.success(), "a workload had errors or no successful request");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("| workload | conns |"), "no table");
    for w in [
        "| token |",
        "| search:email |",
        "| search:name-prefix |",
        "| search:lottery |",
        "| get-user |",
        "| patch-user |",
        "| create-user (+probes) |",
        "| probe token (under create-user) |",
        "| dash:users |",
        "| dash:users-deep |",
        "| dash:search |",
        "| dash:search-prefix |",
        "| dash:user |",
        "| dash:user-history |",
        "| dash:logs |",
        "| dash:apps |",
    ] {
        assert!(table.contains(w), "no row {w}");
    }
    // The exact email search finds its one user.
    let email_row = table.lines().find(|l| l.starts_with("| search:email |")).unwrap_or("");
    assert_eq!(email_row.split('|').nth(11).map(str::trim), Some("1"), "{email_row}");
    // The server's CPU time a request is measured (from /proc) and plausible.
    let token_row = table.lines().find(|l| l.starts_with("| token |")).unwrap_or("");
    let cpu: f64 = token_row.split('|').nth(13).and_then(|c| c.trim().parse().ok()).unwrap_or(0.0);
    assert!(cpu > 0.0 && cpu < 1e6, "CPU µs a request: {token_row}");

    // The tool notices failures: a wrong client secret makes every token request a 401.
    let out = bench(&[
        "run",
        "--data-dir",
        d,
        "--bin",
        bin,
        "--workloads",
        "token",
        "--duration",
        "0.3",
        "--warmup",
        "0",
        "--connections",
        "1",
        "--client-secret",
        "wrong",
        "--server-log",
        "warn",
        "--fail-on-error",
    ]);
    assert!(!out.status.success(), "errors went unnoticed");
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 401"));

    // And a dashboard sign-in that fails: every page is an error.
    let out = Command::new(env!("CARGO_BIN_EXE_castellan-bench"))
        .args([
            "run",
            "--data-dir",
            d,
            "--bin",
            bin,
            "--workloads",
            "dash:apps",
            "--duration",
            "0.3",
            "--warmup",
            "0",
            "--connections",
            "1",
            "--server-log",
            "warn",
            "--fail-on-error",
        ])
        .env("CASTELLAN_BENCH_ADMIN_PASSWORD", "not-the-password")
        .output()
        .unwrap_or_else(|e| panic!("cannot run castellan-bench: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
    assert!(!out.status.success(), "a failed dashboard sign-in went unnoticed");
    assert!(stderr.contains("dashboard sign-in") && stderr.contains("HTTP 401"), "{stderr}");

    logs_workloads(bin, d);
}

/// The issue-5 workloads on the same tiny data set: bulk-loaded events, log
/// search, stream delivery, and event cost with the switch on and off.
fn logs_workloads(bin: &str, d: &str) {
    let out = bench(&["load-logs", "--data-dir", d, "--events", "3000", "--batch", "700", "--bin", bin]);
    assert!(out.status.success(), "load-logs failed");
    assert!(String::from_utf8_lossy(&out.stdout).contains("holds 3000 events"));

    let common = ["--bin", bin, "--duration", "0.5", "--warmup", "0.1", "--server-log", "warn", "--fail-on-error"];
    let mut args = vec!["run", "--data-dir", d, "--workloads", "logs:all,stream-throughput", "--stream-events", "150"];
    args.extend(common);
    args.extend(["--connections", "2"]);
    let out = bench(&args);
    assert!(out.status.success(), "a log workload had errors or no successful request");
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    let cell = |row: &str, col: usize| -> String {
        let line =
            table.lines().find(|l| l.starts_with(&format!("| {row} |"))).unwrap_or_else(|| panic!("no row {row}"));
        line.split('|').nth(col).map(str::trim).unwrap_or("").to_string()
    };
    for class in ["user-history", "q-user", "type", "date-range", "checkpoint"] {
        let matches: u64 = cell(&format!("logs:{class}"), 11).parse().unwrap_or(0);
        assert!(matches > 0, "logs:{class} found nothing");
    }
    // Every generated event arrived (errors count the missing ones).
    assert_eq!(cell("stream-throughput", 4), "150");
    assert_eq!(cell("stream-throughput", 10), "0");
    assert!(cell("stream-throughput", 15).contains(" 0 duplicates"), "{table}");

    // The tool itself fails if the switch does not change what is recorded.
    let mut args = vec!["run", "--data-dir", d, "--workloads", "event-cost", "--cost-rounds", "1"];
    args.extend(common);
    args.extend(["--connections", "2"]);
    let out = bench(&args);
    assert!(out.status.success(), "event-cost failed");
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    for row in [
        "| token (events on, round 1) |",
        "| token (events off, round 1) |",
        "| patch-user (events on, round 1) |",
        "| patch-user (events off, round 1) |",
        "| event cost: token |",
        "| event cost: patch-user |",
    ] {
        assert!(table.contains(row), "no row {row}");
    }
    assert!(table.contains("event cost of token:"), "no cost line");
}
