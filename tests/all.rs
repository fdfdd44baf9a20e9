//! `all`: every pass of the registry against the sandbox, one history row each, the
//! worst exit code; `--due`; Luca's login rejected (the Katana pulls still run, exit 77);
//! `--dry-run` of the whole chain; the metrics file after it.

mod common;

use common::{Env, Tool, clean};
use katana_sync::sandbox::SandboxOptions;
use serde_json::Value;

fn runs(v: &Value) -> &Vec<Value> {
    v["runs"].as_array().expect("a runs array")
}

fn entry<'a>(v: &'a Value, sync_type: &str) -> &'a Value {
    runs(v)
        .iter()
        .find(|r| r["sync_type"] == sync_type)
        .unwrap_or_else(|| panic!("no {sync_type} in {v:#}"))
}

/// The chain in SPEC section 1's order (the passes join through the registry).
const CHAIN: [&str; 12] = [
    "warehouses_pull",
    "warehouses_push",
    "customers_pull",
    "customers_push",
    "suppliers_pull",
    "suppliers_push",
    "products_pull",
    "products_push",
    "orders_pull",
    "stock",
    "invoices",
    "despatches",
];

#[test]
fn all_runs_every_pass_once_and_exits_with_the_worst() {
    // The demo's bad records on: orders pull holds some back, so the worst is 1.
    let opts = SandboxOptions {
        rate_limit: 600,
        ..clean(30, 8, 20)
    };
    let opts = SandboxOptions {
        bad_records: true,
        ..opts
    };
    let env = Env::new(opts, Tool::default()).in_process();
    let metrics = env.dir.path().join("katana-sync.prom");
    let (code, v) = env.run_json(&["all", "--metrics-file", metrics.to_str().unwrap()]);
    let names: Vec<&str> = runs(&v)
        .iter()
        .map(|r| r["sync_type"].as_str().unwrap())
        .collect();
    assert_eq!(names, CHAIN, "{v:#}");
    // Despatch notes are off by default: skipped with the reason, not recorded.
    let despatches = entry(&v, "despatches");
    assert_eq!(despatches["status"], "skipped", "{despatches:#}");
    assert!(
        despatches["reason"]
            .as_str()
            .unwrap()
            .contains("despatches"),
        "{despatches:#}"
    );
    let ran: Vec<&Value> = runs(&v)
        .iter()
        .filter(|r| r["status"] != "skipped")
        .collect();
    assert_eq!(ran.len(), CHAIN.len() - 1, "{v:#}");
    for r in &ran {
        assert!(r["run_id"].as_i64().unwrap() > 0, "{r:#}");
        assert_ne!(r["status"], "failed", "{r:#}");
    }
    assert_eq!(entry(&v, "orders_pull")["status"], "partial");
    assert_eq!(code, 1, "the worst of the passes: {v:#}");
    assert_eq!(
        env.count("SELECT count(*) FROM runs"),
        ran.len() as i64,
        "one history row per pass that ran"
    );
    assert!(env.count("SELECT count(*) FROM luca_stock_cards") > 0);

    // The metrics file holds each pass's figures, in Prometheus's text format.
    let text = std::fs::read_to_string(&metrics).expect("metrics written");
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"));
        match s.value {
            prometheus_parse::Value::Gauge(g) | prometheus_parse::Value::Untyped(g) => g,
            ref other => panic!("{name} is {other:?}"),
        }
    };
    let orders = entry(&v, "orders_pull");
    let pass = ("pass", "orders_pull");
    assert_eq!(
        value(
            "katana_sync_last_run_records",
            &[pass, ("outcome", "created")]
        ),
        orders["created"].as_f64().unwrap()
    );
    assert_eq!(
        value(
            "katana_sync_last_run_records",
            &[pass, ("outcome", "failed")]
        ),
        orders["failed"].as_f64().unwrap()
    );
    assert_eq!(
        value(
            "katana_sync_last_run_requests",
            &[pass, ("remote", "katana")]
        ),
        orders["requests"]["katana"].as_f64().unwrap()
    );
    assert_eq!(value("katana_sync_last_run_exit_code", &[pass]), 1.0);
    assert_eq!(
        value(
            "katana_sync_last_run_exit_code",
            &[("pass", "products_push")]
        ),
        0.0
    );
    assert!(value("katana_sync_last_run_timestamp_seconds", &[pass]) > 1.7e9);
    assert!(value("katana_sync_last_run_duration_seconds", &[pass]) >= 0.0);
    assert!(
        value(
            "katana_sync_last_success_timestamp_seconds",
            &[("pass", "products_push")]
        ) > 1.7e9
    );
    assert!(
        !text.contains("katana_sync_last_success_timestamp_seconds{pass=\"orders_pull\"}"),
        "orders pull never succeeded fully: {text}"
    );
    let pending = env.count("SELECT count(*) FROM adjustments WHERE status = 'pending'");
    assert!(pending > 0);
    assert_eq!(
        value("katana_sync_pending_adjustments", &[]),
        pending as f64
    );
    assert_eq!(value("katana_sync_unknown_outcomes", &[]), 0.0);
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".katana-sync-metrics"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // The text form ends with the table and one line on the exit code.
    let out = env.run(&["all"]);
    assert_eq!(out.status.code(), Some(1));
    let text = common::stdout(&out);
    assert!(
        text.contains("pass ") && text.contains("orders_pull"),
        "{text}"
    );
    assert!(text.contains("held back:"), "{text}");
    assert!(text.contains("adjustments approve"), "{text}");
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("exit 1: "), "{text}");
}

#[test]
fn due_skips_what_ran_a_moment_ago_and_runs_what_is_due() {
    let tool = Tool {
        extra: "\"1003\" = \"001\"\n[sync.intervals]\norders = \"1s\"\n",
        ..Tool::default()
    };
    let env = Env::new(clean(20, 6, 10), tool).in_process();
    let (code, v) = env.run_json(&["all", "--due"]);
    assert_eq!(code, 0, "{v:#}");
    assert!(
        runs(&v)
            .iter()
            .all(|r| r["status"] == "ok" || r["sync_type"] == "despatches"),
        "{v:#}"
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let before = env.count("SELECT count(*) FROM runs");
    let (code, v) = env.run_json(&["all", "--due"]);
    assert_eq!(code, 0, "{v:#}");
    for name in &CHAIN[..5] {
        let r = entry(&v, name);
        assert_eq!(r["status"], "skipped", "{r:#}");
        let reason = r["reason"].as_str().unwrap();
        assert!(reason.starts_with("not due: last success"), "{reason}");
        assert!(r.get("run_id").is_none(), "a skipped pass is not recorded");
    }
    assert_eq!(entry(&v, "orders_pull")["status"], "ok", "its 1 s are over");
    assert_eq!(env.count("SELECT count(*) FROM runs"), before + 1);
}

#[test]
fn a_rejected_luca_login_still_pulls_katana_and_exits_77() {
    let env = Env::new(clean(20, 6, 10), Tool::default()).in_process();
    let out = env
        .cmd()
        .args(["--json", "all"])
        .env("LUCA_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77), "{}", common::stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The first pass meets the rejected login after its Katana side; every later pull
    // of both sides runs its Katana side only; the Luca passes are skipped with why.
    assert_eq!(entry(&v, "warehouses_pull")["status"], "failed", "{v:#}");
    for name in [
        "customers_pull",
        "suppliers_pull",
        "products_pull",
        "orders_pull",
    ] {
        assert_eq!(entry(&v, name)["status"], "ok", "{name}: {v:#}");
    }
    for name in [
        "warehouses_push",
        "customers_push",
        "products_push",
        "invoices",
    ] {
        let push = entry(&v, name);
        assert_eq!(push["status"], "skipped", "{push:#}");
        assert!(
            push["reason"].as_str().unwrap().contains("Luca"),
            "{push:#}"
        );
    }
    assert_eq!(env.stats().luca.creates.customer, 0);
    assert!(env.count("SELECT count(*) FROM locations") > 0);
    assert!(env.count("SELECT count(*) FROM partners") > 0);
    assert!(env.count("SELECT count(*) FROM variants") > 0);
    assert!(env.count("SELECT count(*) FROM sales_orders") > 0);
    assert_eq!(env.stats().luca.creates.stock_card, 0);
}

#[test]
fn a_dry_run_plans_the_whole_chain_and_keeps_nothing_but_history() {
    let env = Env::new(
        clean(20, 6, 10),
        Tool {
            extra: "\"1003\" = \"001\"\n",
            ..Tool::default()
        },
    )
    .in_process();
    let (code, v) = env.run_json(&["all", "--dry-run"]);
    assert_eq!(code, 0, "{v:#}");
    for r in runs(&v) {
        if r["sync_type"] == "despatches" {
            assert_eq!(r["status"], "skipped", "{r:#}");
        } else {
            assert_eq!(r["status"], "dry_run", "{r:#}");
        }
    }
    // The push planned on the variants the pull would have stored.
    let planned = entry(&v, "products_push")["planned"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(planned > 0, "{v:#}");
    assert_eq!(env.count("SELECT count(*) FROM variants"), 0);
    assert_eq!(env.count("SELECT count(*) FROM sales_orders"), 0);
    assert_eq!(
        env.count("SELECT count(*) FROM runs WHERE status = 'dry_run'"),
        CHAIN.len() as i64 - 1
    );
    assert_eq!(env.stats().luca.creates.stock_card, 0);
}

/// A run's JSON with the instants it was run at taken out: all that may differ between
/// two runs of the same command on the same data.
fn timeless(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.retain(|k, _| !k.ends_with("_at") && k != "since");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

#[test]
fn a_command_run_in_process_prints_and_exits_as_the_binary_does() {
    // The harness's in-process runs stand for the binary only if they agree with it:
    // the whole chain twice (the second sees the first's store), a usage error and a
    // text report, on two identical sandboxes.
    let opts = || SandboxOptions {
        bad_records: true,
        ..clean(30, 8, 20)
    };
    let binary = Env::new(opts(), Tool::default());
    let here = Env::new(opts(), Tool::default()).in_process();
    // The same text but for each test's own directory, named in fixes.
    let same = |env: &Env, v: Value| {
        let dir = env.dir.path().display().to_string();
        timeless(v).to_string().replace(&dir, "<dir>")
    };
    for _ in 0..2 {
        let (a, b) = (binary.run_json(&["all"]), here.run_json(&["all"]));
        assert_eq!(a.0, b.0);
        let (a, b) = (same(&binary, a.1), same(&here, b.1));
        let at = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
        let near = |s: &str| {
            s.chars()
                .skip(at.saturating_sub(100))
                .take(300)
                .collect::<String>()
        };
        assert!(a == b, "they part here:\n{}\n{}", near(&a), near(&b));
    }
    let usage = |env: &Env| env.run(&["history", "--limit", "0"]);
    let (a, b) = (usage(&binary), usage(&here));
    assert_eq!(a.status.code(), Some(2));
    assert_eq!(a.status.code(), b.status.code());
    assert_eq!(common::stderr(&a), common::stderr(&b));
    // The text table, but for its instants.
    let text = |env: &Env| {
        let out = common::stdout(&env.run(&["adjustments", "list"]));
        out.split_whitespace()
            .filter(|w| !(w.starts_with("20") && w.ends_with('Z')))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(text(&binary), text(&here));
}
