//! One run at a time per store, with real processes: a second run exits 75 at once; a
//! holder killed with SIGKILL leaves no stale lock.

mod common;

use std::time::{Duration, Instant};

use common::{Env, Tool, clean};
use katana_sync::sandbox::SandboxOptions;

/// A slow pull (15 pages at 300 ms each) to hold the lock for a few seconds.
fn slow_env() -> Env {
    let opts = SandboxOptions {
        latency_ms: 300,
        ..clean(300, 5, 20)
    };
    Env::new(
        opts,
        Tool {
            page_size: 20,
            ..Tool::default()
        },
    )
}

/// Waits until the lock file names `pid` (the child holds the lock).
fn wait_for_holder(env: &Env, pid: u32) {
    let lock = env.dir.path().join("store.db.lock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::fs::read_to_string(&lock).is_ok_and(|t| t.starts_with(&format!("{pid} "))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("pid {pid} never took the lock");
}

#[test]
fn a_second_run_exits_75_at_once_and_a_killed_holder_leaves_no_stale_lock() {
    let env = slow_env();
    let mut first = env.spawn(&["orders", "pull"]);
    wait_for_holder(&env, first.id());

    for args in [
        vec!["orders", "pull"],
        vec!["products", "push"],
        vec!["adjustments", "approve", "--all"],
        vec!["delete-sku", "X", "--yes"],
    ] {
        let started = Instant::now();
        let out = env.run(&args);
        assert_eq!(
            out.status.code(),
            Some(75),
            "{args:?}: {}",
            common::stderr(&out)
        );
        assert!(started.elapsed() < Duration::from_secs(2), "at once");
        let err = common::stderr(&out);
        assert!(
            err.contains(&first.id().to_string()),
            "names the holder: {err}"
        );
    }
    // Readers take no lock.
    assert!(env.run(&["history"]).status.success());
    assert!(env.run(&["adjustments", "list"]).status.success());

    first.kill().unwrap(); // SIGKILL: no chance to clean up
    first.wait().unwrap();
    let started = Instant::now();
    let out = env.run(&["orders", "pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(common::integrity(&env.db()), "ok");
    assert_eq!(env.count("SELECT count(*) FROM sales_orders"), 300);
}

#[test]
fn of_eight_runs_started_together_exactly_one_works() {
    let env = slow_env();
    let children: Vec<_> = (0..8).map(|_| env.spawn(&["orders", "pull"])).collect();
    let codes: Vec<i32> = children
        .into_iter()
        .map(|mut c| c.wait().unwrap().code().unwrap_or(-1))
        .collect();
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 75).count(), 7, "{codes:?}");
    assert_eq!(
        env.count("SELECT count(*) FROM runs"),
        1,
        "losers record nothing"
    );
    eprintln!(
        "concurrent launches: 8 started together, 1 ran, 7 exited 75 at once, 1 run recorded"
    );
}
