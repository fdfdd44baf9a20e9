//! Runs end truthfully (SPEC sections 3 and 4), with real processes and real signals in
//! the middle of a `products push` against the sandbox: SIGTERM / SIGINT stop it at a
//! safe point, print what was done, record the run `failed` / interrupted and exit
//! 143 / 130; a second signal exits at once; a run killed with SIGKILL is shown and
//! then closed as interrupted, with the counts it had written.

mod common;

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Env, Tool, cards_with_code, clean, eligible_skus};
use katana_sync::sandbox::SandboxOptions;
use serde_json::Value;

/// A push that takes a while: ~40 ms per create, two sessions, a few hundred cards.
fn slow_push_env() -> Env {
    let env = Env::new(
        SandboxOptions {
            latency_ms: 40,
            ..clean(0, 150, 5)
        },
        Tool {
            sessions: 2,
            ..Tool::default()
        },
    );
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    assert!(eligible_skus(&env).len() > 200);
    env
}

fn spawn_push(env: &Env) -> Child {
    env.cmd()
        .args(["--json", "products", "push"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts")
}

fn creates(env: &Env) -> u64 {
    env.stats().luca.creates.stock_card
}

/// Waits (bounded, generously) until `ready` holds; panics with `what` otherwise.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

fn signal(child: &Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

/// Waits for the child to exit (bounded) and collects its output.
fn finish(child: Child) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    rx.recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("pid {pid} did not exit"))
        .unwrap()
}

fn history(env: &Env) -> Vec<Value> {
    let (code, v) = env.run_json(&["history", "--type", "products_push"]);
    assert_eq!(code, 0, "{v}");
    v["runs"].as_array().unwrap().clone()
}

fn says_interrupted(run: &Value) -> bool {
    run["errors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["reason"].as_str().unwrap().contains("interrupted"))
        && run["message"]
            .as_str()
            .is_some_and(|m| m.contains("interrupted"))
}

/// The running run's counts as its row holds them now (written progressively).
fn recorded_created(env: &Env) -> i64 {
    env.store()
        .query_row(
            "SELECT created FROM runs WHERE sync_type = 'products_push' AND status = 'running'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0)
}

/// Afterwards every card exists exactly once, whatever was interrupted.
fn rerun_completes_without_duplicates(env: &Env) {
    let (code, run) = env.run_json(&["products", "push"]);
    assert_eq!(code, 0, "{run}");
    for sku in eligible_skus(env) {
        assert_eq!(cards_with_code(env, &sku), 1, "{sku}");
    }
    assert_eq!(env.stats().luca.duplicate_creates.stock_card, 0);
    assert_eq!(common::integrity(&env.db()), "ok");
}

fn stopped_by(sig: &str, code: i32) {
    let env = slow_push_env();
    let total = eligible_skus(&env).len() as u64;
    let child = spawn_push(&env);
    wait_until("ten creates", || creates(&env) >= 10);
    signal(&child, sig);
    let out = finish(child);
    let stderr = common::stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    // The summary of what was done, on stdout as usual.
    let run: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no summary ({e}): {stderr}"));
    assert_eq!(run["status"], "failed", "{run}");
    assert!(says_interrupted(&run), "{run}");
    let created = run["created"].as_u64().unwrap();
    let made = creates(&env);
    assert!(created >= 10, "counts kept: {run}");
    assert_eq!(created, made, "every create that landed was counted: {run}");
    assert!(made < total, "stopped early: {made} of {total}");
    assert!(stderr.contains(sig.trim_start_matches('-')), "{stderr}");
    // No create started after the stop: nothing is left in doubt.
    assert_eq!(
        env.count("SELECT count(*) FROM outbox WHERE state IN ('sending', 'unknown')"),
        0
    );
    let runs = history(&env);
    assert_eq!(runs[0]["status"], "failed");
    assert!(says_interrupted(&runs[0]), "{}", runs[0]);
    assert_eq!(runs[0]["created"], run["created"]);
    assert_eq!(runs[0]["processed"], run["processed"]);
    rerun_completes_without_duplicates(&env);
}

#[test]
fn sigterm_mid_push_stops_at_a_safe_point_and_exits_143() {
    stopped_by("-TERM", 143);
}

#[test]
fn sigint_mid_push_stops_at_a_safe_point_and_exits_130() {
    stopped_by("-INT", 130);
}

#[test]
fn sigkill_mid_push_is_closed_as_interrupted_with_its_counts() {
    let env = slow_push_env();
    let mut child = spawn_push(&env);
    // Killed once its row shows progress: the counts must survive the kill.
    wait_until("progress in the run row", || recorded_created(&env) >= 10);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let made = creates(&env) as i64;

    // Before any other run: not `running` any more, since its process is gone.
    let runs = history(&env);
    assert_eq!(runs[0]["status"], "failed", "{}", runs[0]);
    assert!(says_interrupted(&runs[0]), "{}", runs[0]);
    let created = runs[0]["created"].as_i64().unwrap();
    assert!(
        created >= 10 && created <= made,
        "{created} of {made}: {}",
        runs[0]
    );
    let id = runs[0]["run_id"].clone();

    // The next run that takes the lock closes it for good, counts kept.
    rerun_completes_without_duplicates(&env);
    let runs = history(&env);
    let killed = runs.iter().find(|r| r["run_id"] == id).unwrap();
    assert_eq!(killed["status"], "failed");
    assert!(says_interrupted(killed), "{killed}");
    assert_eq!(killed["created"].as_i64(), Some(created));
    assert!(killed["finished_at"].is_string());
    assert_eq!(
        env.count("SELECT count(*) FROM runs WHERE status = 'running'"),
        0
    );
}

#[test]
fn a_second_sigint_exits_at_once() {
    // Slow creates (2 s each): after the first Ctrl-C the push waits for the two in
    // flight; the second must not wait for them.
    let env = Env::new(
        clean(0, 20, 5),
        Tool {
            sessions: 2,
            luca_timeout_secs: 30,
            ..Tool::default()
        },
    );
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    env.sandbox()
        .set_faults("luca.latency=2000".parse().unwrap());
    let child = spawn_push(&env);
    // A create in flight: arrived at the sandbox, not answered yet.
    wait_until("a create in flight", || {
        let stats = env.stats();
        common::hits(&stats, "POST /Yetki/EkleStkWsSkart.do") > stats.luca.creates.stock_card
    });
    signal(&child, "-INT");
    std::thread::sleep(Duration::from_millis(100));
    signal(&child, "-INT");
    let out = finish(child);
    assert_eq!(out.status.code(), Some(130), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("exiting at once"),
        "{}",
        common::stderr(&out)
    );
    // Exited without closing its run: the store still says running, history says
    // interrupted, and the next run records it so.
    assert_eq!(
        env.count("SELECT count(*) FROM runs WHERE status = 'running'"),
        1
    );
    assert!(says_interrupted(&history(&env)[0]));
    env.sandbox().set_faults(Default::default());
    rerun_completes_without_duplicates(&env);
    assert_eq!(
        env.count("SELECT count(*) FROM runs WHERE status = 'running'"),
        0
    );
}

#[test]
fn sigterm_mid_pull_ends_at_a_safe_point_even_where_the_pull_does_not_look() {
    // Slow Katana pages (1 s each, 20 orders a page): a pull of 300 orders takes far
    // longer than the grace a pass gets to stop by itself.
    let env = Env::new(
        SandboxOptions {
            faults: "katana.latency=1000".parse().unwrap(),
            ..clean(300, 5, 20)
        },
        Tool {
            page_size: 20,
            ..Tool::default()
        },
    );
    let child = env
        .cmd()
        .args(["--json", "orders", "pull"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The store may still be migrating: a failed query only means "not yet".
    wait_until("a committed page", || {
        env.db().exists()
            && env
                .store()
                .query_row("SELECT count(*) FROM sales_orders", [], |r| {
                    r.get::<_, i64>(0)
                })
                .is_ok_and(|n| n > 0)
    });
    signal(&child, "-TERM");
    let out = finish(child);
    assert_eq!(out.status.code(), Some(143), "{}", common::stderr(&out));
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["status"], "failed", "{run}");
    assert!(says_interrupted(&run), "{run}");
    assert!(env.count("SELECT count(*) FROM sales_orders") < 300);
    let (code, v) = env.run_json(&["history", "--type", "orders_pull"]);
    assert_eq!(code, 0);
    assert!(says_interrupted(&v["runs"][0]), "{v}");
    assert_eq!(common::integrity(&env.db()), "ok");
    // What was committed stays; the next run carries on to the end.
    env.sandbox().set_faults(Default::default());
    let (code, run) = env.run_json(&["orders", "pull"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(env.count("SELECT count(*) FROM sales_orders"), 300);
}
