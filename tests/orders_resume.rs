//! `orders pull` never loses a judgement: runs killed (SIGTERM, SIGKILL) at 36 moments
//! of a backfill and of an incremental run, or stopped by an endpoint that stays down,
//! leave a store from which later runs reach exactly the store of an uninterrupted run;
//! a backfill whose every run is cut short still completes, each run advancing.
//!
//! The uninterrupted run is the same binary against the same sandbox with another
//! store (`--db`), so both see exactly the same remote.

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{Env, Tool};
use katana_sync::sandbox::model::{Quantity, SalesOrderStatus};
use katana_sync::sandbox::{Faults, NewOrderRow, NewSalesOrder, SandboxOptions};
use rust_decimal::Decimal;

fn opts(orders: usize) -> SandboxOptions {
    SandboxOptions {
        orders,
        products: 30,
        customers: 200,
        bad_records: true,
        rate_limit: 100_000,
        ..SandboxOptions::default()
    }
}

fn tool() -> Tool {
    Tool {
        requests_per_minute: 100_000,
        page_size: 100,
        ..Tool::default()
    }
}

/// Everything a pull judges, in an order that does not depend on when it was written:
/// orders, rows, every adjustment (superseded ones included), open quarantine entries,
/// watermarks present and walks unfinished.
fn judgement(db: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(db).expect("store");
    let mut out = Vec::new();
    for (name, sql) in [
        (
            "order",
            "SELECT id || ' ' || order_no || ' ' || status || ' ' || ifnull(customer_id, '-')
                    || ' ' || reference_only || ' ' || (deleted_at IS NULL) || ' ' || raw_json
             FROM sales_orders ORDER BY id",
        ),
        (
            "row",
            "SELECT id || ' ' || sales_order_id || ' ' || ifnull(variant_id, '-') || ' '
                    || quantity || ' ' || (deleted_at IS NULL)
             FROM sales_order_rows ORDER BY id",
        ),
        (
            "adjustment",
            "SELECT kind || ' ' || ifnull(order_no, '-') || ' ' || ifnull(row_id, '-') || ' '
                    || sku || ' ' || quantity || ' ' || status || ' ' || ifnull(warehouse, '-')
             FROM adjustments ORDER BY 1",
        ),
        (
            "held",
            "SELECT entity || ' ' || key || ' ' || reason FROM quarantine
             WHERE resolved_at IS NULL ORDER BY 1",
        ),
        ("watermark", "SELECT entity FROM watermarks ORDER BY 1"),
        ("cursor", "SELECT entity FROM walk_cursors ORDER BY 1"),
    ] {
        let mut stmt = c.prepare(sql).expect(sql);
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .expect(sql)
            .map(|r| format!("{name} {}", r.expect("row")));
        out.extend(rows);
    }
    out
}

/// Where the first difference between two judgements is, for a readable failure.
fn assert_same(what: &str, got: &[String], want: &[String]) {
    if got == want {
        return;
    }
    let first = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    panic!(
        "{what}: the store differs from the uninterrupted run's ({} vs {} lines); first \
         difference at line {first}:\n  got:  {:?}\n  want: {:?}",
        got.len(),
        want.len(),
        got.get(first),
        want.get(first)
    );
}

fn count(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .expect("store")
        .query_row(sql, [], |r| r.get(0))
        .expect(sql)
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{sig} {}", child.id());
}

/// Waits for a child to exit (a SIGTERM may let it reach a safe point first); a child
/// still alive after a minute is killed and that is reported.
fn reap(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        if Instant::now() > deadline {
            child.kill().expect("kill");
            panic!("the run did not end within a minute of its signal");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts `orders pull` on `db` and waits until the sandbox holds one of its requests
/// open (under `stall_after`), or it exits. True when it stalled (still running).
fn run_until_stalled(env: &Env, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if env.stats().katana.stalled > 0 {
            return true;
        }
        if child.try_wait().expect("wait").is_some() {
            return false;
        }
        assert!(
            Instant::now() < deadline,
            "the run neither stalled nor ended"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn spawn_pull(env: &Env, db: &Path) -> Child {
    env.cmd()
        .arg("--db")
        .arg(db)
        .args(["orders", "pull"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("binary starts")
}

fn pull(env: &Env, db: &Path) -> i32 {
    let out = env
        .cmd()
        .arg("--db")
        .arg(db)
        .args(["orders", "pull"])
        .output()
        .expect("binary runs");
    out.status.code().unwrap_or(-1)
}

/// Kills runs of `orders pull` on `db` at `points` moments: half of them while a
/// request is held open by the sandbox after a growing number of answers (so every
/// page boundary of the walk is hit), half after a growing delay (so kills land while
/// pages are judged and committed). SIGTERM and SIGKILL alternate. Returns how many
/// kills left the walk unfinished (a cursor in the store).
fn kill_sweep(env: &Env, db: &Path, points: u32) -> u32 {
    let mut mid_walk = 0;
    for k in 0..points {
        let sig = if k % 2 == 0 { "KILL" } else { "TERM" };
        if k % 4 < 2 {
            let mut f = Faults::default();
            f.katana.stall_after = 1 + k / 2;
            env.sandbox().reset_stats();
            env.sandbox().set_faults(f);
            let mut child = spawn_pull(env, db);
            if run_until_stalled(env, &mut child) {
                signal(&child, sig);
            }
            reap(&mut child);
            env.sandbox().set_faults(Faults::default());
        } else {
            let mut child = spawn_pull(env, db);
            std::thread::sleep(Duration::from_millis(40 + 23 * u64::from(k)));
            if child.try_wait().expect("wait").is_none() {
                signal(&child, sig);
            }
            reap(&mut child);
        }
        assert_eq!(common::integrity(db), "ok", "kill point {k}");
        if count(db, "SELECT count(*) FROM walk_cursors") > 0 {
            mid_walk += 1;
        }
    }
    mid_walk
}

/// Runs to completion: a pull that ends on its own (0, or 1 for the seeded bad records).
fn complete(env: &Env, db: &Path) {
    for _ in 0..5 {
        let code = pull(env, db);
        if code == 0 || code == 1 {
            return;
        }
    }
    panic!("orders pull did not complete in five runs");
}

/// Changes that only an incremental run meets: quantities edited, rows deleted (seen
/// only through the row list), orders deleted, delivered and created.
fn mutate(env: &Env, seed: usize) {
    env.sandbox().with_katana(|k| {
        let open: Vec<i64> = k
            .sales_orders
            .values()
            .filter(|o| o.deleted_at.is_none() && o.status != SalesOrderStatus::Delivered)
            .map(|o| o.id)
            .collect();
        for (i, id) in open.iter().enumerate().skip(seed % 7).step_by(37).take(40) {
            let rows: Vec<i64> = k.order_rows(*id).iter().map(|r| r.id).collect();
            match i % 4 {
                0 => {
                    k.edit_order_row(rows[0], |r| {
                        r.quantity = Quantity::Number(Decimal::new(3 + i as i64, 0))
                    });
                }
                1 => {
                    k.delete_order_row(*rows.last().unwrap());
                }
                2 => {
                    k.delete_sales_order(*id);
                }
                _ => {
                    k.edit_sales_order(*id, |o| o.status = SalesOrderStatus::Delivered);
                }
            }
        }
        let customer = *k.customers.keys().nth(seed % 50).unwrap();
        let variants: Vec<i64> = k.variants.keys().copied().take(20).collect();
        for n in 0..150 {
            let order = NewSalesOrder::new(customer, 1001).row(NewOrderRow {
                variant_id: variants[n % variants.len()],
                quantity: Decimal::new(1 + n as i64, 0),
                price_per_unit: Decimal::new(12_50, 2),
                tax_rate_id: Some(301),
            });
            k.create_sales_order(order);
        }
    });
}

#[test]
fn runs_killed_at_any_moment_reach_the_store_of_an_uninterrupted_run() {
    let env = Env::new(opts(3000), tool());
    let reference = env.dir.path().join("reference.db");
    let db = env.db();

    // The backfill: 30 pages of 100, judged page by page.
    assert_eq!(pull(&env, &reference), 1, "the seeded bad records are held");
    let mid_walk = kill_sweep(&env, &db, 24);
    complete(&env, &db);
    assert_same("backfill", &judgement(&db), &judgement(&reference));
    assert!(
        mid_walk >= 8,
        "the sweep should interrupt the backfill's walk often; it did {mid_walk} times"
    );
    eprintln!(
        "backfill sweep: 24 kills (SIGTERM and SIGKILL) over 3,000 orders, {mid_walk} mid-walk; \
         orders, rows, adjustments, quarantine equal to the uninterrupted run"
    );

    // An incremental run: both windows and the held orders' second judgement.
    mutate(&env, 1);
    assert_eq!(pull(&env, &reference), 1);
    let mid_walk = kill_sweep(&env, &db, 12);
    complete(&env, &db);
    assert_same("incremental", &judgement(&db), &judgement(&reference));
    eprintln!("incremental sweep: {mid_walk} of 12 kills left a walk unfinished");
    assert!(
        count(
            &db,
            "SELECT count(*) FROM adjustments WHERE status = 'superseded'"
        ) > 0,
        "the incremental changes reached the approval queue"
    );
}

#[test]
fn a_row_list_that_stays_down_loses_no_judgement() {
    let env = Env::new(
        opts(400),
        Tool {
            lookback_minutes: 0,
            ..tool()
        },
    );
    let reference = env.dir.path().join("reference.db");
    let db = env.db();
    assert_eq!(pull(&env, &reference), 1);
    assert_eq!(pull(&env, &db), 1);
    let down: Faults = "katana.down=/v1/sales_order_rows".parse().unwrap();
    for step in 0..3 {
        // The same history for both stores: the reference pulls with every endpoint up,
        // the store under test while the row list answers 503.
        mutate(&env, step);
        assert_eq!(pull(&env, &reference), 1, "step {step}");
        env.sandbox().set_faults(down.clone());
        let (code, run) = env.run_json(&["orders", "pull"]);
        assert_eq!(code, 69, "step {step}: {run}");
        env.sandbox().set_faults(Faults::default());
        // The orders of the window are judged even though the run failed after them.
        let new_orders = count(
            &db,
            "SELECT count(*) FROM sales_orders o WHERE NOT EXISTS
               (SELECT 1 FROM adjustments a WHERE a.order_id = o.id)
             AND o.status <> 'DELIVERED' AND o.deleted_at IS NULL AND o.reference_only = 0
             AND EXISTS (SELECT 1 FROM sales_order_rows r
                         WHERE r.sales_order_id = o.id AND r.deleted_at IS NULL)
             AND o.order_no NOT IN (SELECT key FROM quarantine WHERE resolved_at IS NULL)",
        );
        assert_eq!(
            new_orders, 0,
            "step {step}: an open order without adjustments"
        );
    }
    complete(&env, &db);
    // Each store judged the same states; compare what is live (the reference also saw
    // the row edits that the failing store met only once the row list came back).
    let live = |db: &Path| -> Vec<String> {
        judgement(db)
            .into_iter()
            .filter(|l| !(l.starts_with("adjustment") && l.contains(" superseded ")))
            .collect()
    };
    assert_same("row list down", &live(&db), &live(&reference));
}

#[test]
fn a_backfill_whose_every_run_is_cut_short_still_completes() {
    let env = Env::new(opts(1500), tool());
    let db = env.db();
    let progress = |db: &Path| -> (i64, i64) {
        if !db.exists() {
            return (0, 0);
        }
        (
            count(db, "SELECT count(*) FROM sales_orders")
                + count(db, "SELECT count(*) FROM partners")
                + count(db, "SELECT count(*) FROM variants"),
            count(
                db,
                "SELECT count(*) FROM watermarks WHERE entity = 'sales_orders'",
            ),
        )
    };
    let mut f = Faults::default();
    f.katana.stall_after = 3;
    let mut runs = 0;
    let mut last = progress(&db);
    loop {
        runs += 1;
        assert!(runs <= 40, "the backfill did not complete in 40 short runs");
        env.sandbox().reset_stats();
        env.sandbox().set_faults(f.clone());
        let mut child = spawn_pull(&env, &db);
        let stalled = run_until_stalled(&env, &mut child);
        if stalled {
            signal(&child, "KILL");
        }
        reap(&mut child);
        let now = progress(&db);
        if now.1 == 1 {
            break;
        }
        assert!(
            stalled && now.0 > last.0,
            "run {runs} made no durable progress ({last:?} then {now:?})"
        );
        last = now;
    }
    env.sandbox().set_faults(Faults::default());
    assert!(runs > 5, "each run was cut short ({runs} runs)");
    // The last short run completed the walk; the next one has the rejudging to do.
    complete(&env, &db);
    let reference = env.dir.path().join("reference.db");
    assert_eq!(pull(&env, &reference), 1);
    assert_same("cut short", &judgement(&db), &judgement(&reference));
}

#[test]
fn records_held_by_an_earlier_run_stay_in_every_report() {
    let env = Env::new(opts(60), tool());
    let (code, first) = env.run_json(&["orders", "pull"]);
    assert_eq!(code, 1, "{first}");
    let malformed = first["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["reason"].as_str().unwrap_or("").contains("12,5O"))
        .unwrap_or_else(|| panic!("the malformed decimal is reported: {first}"))
        .clone();
    let check = |run: &serde_json::Value| {
        let n = |k: &str| run[k].as_u64().unwrap();
        assert_eq!(
            n("processed"),
            n("created") + n("updated") + n("skipped") + n("failed"),
            "{run}"
        );
    };
    check(&first);
    // Nothing new: the undecodable order is not read again, yet it is still reported.
    let (code, second) = env.run_json(&["orders", "pull"]);
    assert_eq!(code, 1, "still held: {second}");
    check(&second);
    let held = second["held_records"].as_array().expect("held_records");
    assert!(
        held.iter().any(|h| h["key"] == malformed["key"]),
        "{second}"
    );
    assert!(second["held"].as_u64().unwrap() >= 1);
    let text = common::stdout(&env.run(&["orders", "pull"]));
    assert!(text.contains("still held from earlier runs"), "{text}");
    assert!(text.contains(malformed["key"].as_str().unwrap()), "{text}");
}
