//! Katana pulls against the sandbox, through the real binary: backfill, incremental
//! reruns, edits and deletes, paging hazards, the rate limit, quarantine.

mod common;

use common::{Env, Tool, clean, hits};
use katana_sync::sandbox::SandboxOptions;
use katana_sync::sandbox::model::SalesOrderStatus;
use rust_decimal::Decimal;

#[test]
fn a_backfill_over_many_pages_then_a_rerun_with_no_change_costs_two_requests() {
    let env = Env::new(clean(3000, 30, 200), Tool::default()).in_process();
    let (code, run) = env.run_json(&["orders", "pull"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["status"], "ok");
    assert_eq!(run["processed"], 3000);
    assert_eq!(run["created"], 3000);
    let stats = env.stats();
    assert_eq!(
        hits(&stats, "GET /v1/sales_orders"),
        12,
        "3000 orders at 250 a page"
    );
    assert_eq!(env.count("SELECT count(*) FROM sales_orders"), 3000);
    let katana_rows = env.sandbox().with_katana(|k| {
        k.sales_order_rows
            .values()
            .filter(|r| r.deleted_at.is_none())
            .count()
    });
    assert_eq!(
        env.count("SELECT count(*) FROM sales_order_rows WHERE deleted_at IS NULL") as usize,
        katana_rows
    );
    // The watermark of every entity moved in the same transaction as its last page.
    assert_eq!(
        env.count(
            "SELECT count(*) FROM watermarks WHERE entity IN ('sales_orders','sales_order_rows')"
        ),
        2
    );

    env.sandbox().reset_stats();
    let (code, run) = env.run_json(&["orders", "pull"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["created"], 0);
    assert_eq!(run["updated"], 0);
    assert_eq!(run["requests"]["katana"], 2);
    let stats = env.stats();
    assert_eq!(stats.katana.total, 2, "{:?}", stats.requests);
    assert_eq!(hits(&stats, "GET /v1/sales_orders"), 1);
    assert_eq!(hits(&stats, "GET /v1/sales_order_rows"), 1);

    // Every other entity: one request each when nothing changed.
    for (args, endpoints) in [
        (
            vec!["products", "pull", "--from", "katana"],
            vec!["products", "variants", "tax_rates"],
        ),
        (
            vec!["customers", "pull", "--from", "katana"],
            vec!["customers"],
        ),
        (
            vec!["suppliers", "pull", "--from", "katana"],
            vec!["suppliers"],
        ),
        (
            vec!["warehouses", "pull", "--from", "katana"],
            vec!["locations"],
        ),
    ] {
        let (code, first) = env.run_json(&args);
        assert_eq!(code, 0, "{first}");
        env.sandbox().reset_stats();
        let (code, again) = env.run_json(&args);
        assert_eq!(code, 0, "{again}");
        assert_eq!(again["created"], 0, "{again}");
        let stats = env.stats();
        assert_eq!(
            stats.katana.total as usize,
            endpoints.len(),
            "{args:?}: {:?}",
            stats.requests
        );
        for e in endpoints {
            assert_eq!(hits(&stats, &format!("GET /v1/{e}")), 1, "{e}");
        }
    }
    assert_eq!(
        stats_luca_total(&env),
        0,
        "--from katana never talks to Luca"
    );
}

fn stats_luca_total(env: &Env) -> u64 {
    env.stats().luca.total
}

#[test]
fn edits_and_soft_deletes_are_picked_up_by_the_next_run() {
    let env = Env::new(clean(60, 10, 40), Tool::default()).in_process();
    assert_eq!(env.run_json(&["orders", "pull"]).0, 0);
    let (open_order, row_id, deleted_order) = env.sandbox().with_katana(|k| {
        let open: Vec<i64> = k
            .sales_orders
            .values()
            .filter(|o| o.deleted_at.is_none() && o.status == SalesOrderStatus::NotShipped)
            .map(|o| o.id)
            .collect();
        let order = open[0];
        let row = k.order_rows(order)[0].id;
        k.edit_order_row(row, |r| {
            r.quantity = katana_sync::sandbox::model::Quantity::Number(Decimal::new(77, 0))
        });
        k.delete_sales_order(open[1]);
        (order, row, open[1])
    });
    let before: i64 = env.count(&format!(
        "SELECT count(*) FROM adjustments WHERE row_id = {row_id} AND status = 'pending'"
    ));
    assert_eq!(before, 1);
    let (code, run) = env.run_json(&["orders", "pull"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(
        env.count(&format!(
            "SELECT CAST(quantity AS INTEGER) FROM sales_order_rows WHERE id = {row_id}"
        )),
        77
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM sales_orders WHERE id = {deleted_order} AND deleted_at IS NOT NULL"
        )),
        1
    );
    // The changed quantity superseded the old adjustment and created a new one.
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM adjustments WHERE row_id = {row_id} AND status = 'superseded'"
        )),
        1
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM adjustments WHERE row_id = {row_id} AND status = 'pending' AND quantity = '77'"
        )),
        1
    );
    // The deleted order's adjustments are all superseded.
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM adjustments WHERE order_id = {deleted_order} AND status <> 'superseded'"
        )),
        0
    );
    let _ = open_order;

    // A row deleted on its own (the order's updated_at untouched) is caught by the row delta.
    let gone = env.sandbox().with_katana(|k| {
        let order = k
            .sales_orders
            .values()
            .find(|o| {
                o.deleted_at.is_none()
                    && o.status == SalesOrderStatus::NotShipped
                    && k.order_rows(o.id).len() > 1
            })
            .map(|o| o.id)
            .expect("an open order with two rows");
        let row = k.order_rows(order)[0].id;
        k.delete_order_row(row);
        row
    });
    assert_eq!(env.run_json(&["orders", "pull"]).0, 0);
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM sales_order_rows WHERE id = {gone} AND deleted_at IS NOT NULL"
        )),
        1
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM adjustments WHERE row_id = {gone} AND status = 'pending'"
        )),
        0
    );
}

#[test]
fn equal_timestamps_across_a_page_boundary_are_all_stored() {
    let env = Env::new(
        clean(0, 5, 10),
        Tool {
            page_size: 10,
            ..Tool::default()
        },
    )
    .in_process();
    // 25 orders with one and the same updated_at, over three pages of 10.
    let (stamp, ids) = env.sandbox().with_katana(|k| {
        let customer = *k.customers.keys().next().unwrap();
        let variant = *k.variants.keys().next().unwrap();
        let mut ids = Vec::new();
        for _ in 0..25 {
            let mut o = katana_sync::sandbox::NewSalesOrder::new(customer, 1001);
            o.rows.push(katana_sync::sandbox::NewOrderRow {
                variant_id: variant,
                quantity: Decimal::ONE,
                price_per_unit: Decimal::new(100, 0),
                tax_rate_id: Some(301),
            });
            ids.push(k.create_sales_order(o));
        }
        let stamp = k.sales_orders[&ids[0]].updated_at;
        for id in &ids {
            k.sales_orders.get_mut(id).unwrap().updated_at = stamp;
        }
        (stamp, ids)
    });
    let (code, run) = env.run_json(&["orders", "pull"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(env.count("SELECT count(*) FROM sales_orders"), 25);
    // Another 12 at the very same instant, after the first run: the overlap re-reads
    // the boundary, the upsert by id keeps one copy of each.
    env.sandbox().with_katana(|k| {
        for id in &ids[..12] {
            k.sales_orders.get_mut(id).unwrap().updated_at = stamp;
        }
    });
    assert_eq!(env.run_json(&["orders", "pull"]).0, 0);
    assert_eq!(env.count("SELECT count(*) FROM sales_orders"), 25);
}

#[test]
fn a_record_edited_while_paging_does_not_push_another_out_of_the_walk() {
    let env = Env::new(
        clean(200, 10, 40),
        Tool {
            page_size: 50,
            ..Tool::default()
        },
    )
    .in_process();
    // After the first page, the newest order is edited: it leaves the window (its
    // updated_at passes the window's fixed maximum) and every later order moves up one
    // place, across the page boundary already read.
    env.sandbox().after_katana_requests(
        "/v1/sales_orders",
        1,
        Box::new(|k| {
            let newest = *k.sales_orders.keys().next_back().unwrap();
            k.edit_sales_order(newest, |o| o.additional_info = Some("düzenlendi".into()));
        }),
    );
    let (code, run) = env.run_json(&["orders", "pull"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(
        env.count("SELECT count(*) FROM sales_orders"),
        200,
        "no order skipped"
    );
    let walks = common::hits(&env.stats(), "GET /v1/sales_orders");
    assert!(
        walks > 4,
        "the changed window was walked again ({walks} pages)"
    );
    // The edit itself arrives with the next run.
    assert_eq!(env.run_json(&["orders", "pull"]).0, 0);
    let info: String = env
        .store()
        .query_row(
            "SELECT raw_json FROM sales_orders ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(info.contains("düzenlendi"), "{info}");
}

#[test]
fn a_429_burst_is_waited_out_and_the_limit_is_never_exceeded() {
    let opts = SandboxOptions {
        faults: "burst429=3".parse().unwrap(),
        rate_limit: 30,
        ..clean(600, 10, 40)
    };
    let env = Env::new(
        opts,
        Tool {
            requests_per_minute: 30,
            page_size: 100,
            ..Tool::default()
        },
    )
    .in_process();
    let (code, run) = env.run_json(&["orders", "pull"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(env.count("SELECT count(*) FROM sales_orders"), 600);
    let stats = env.stats();
    assert!(stats.katana.rate_limited >= 3, "{:?}", stats.katana);
    assert!(stats.katana.max_requests_in_60s <= 30, "{:?}", stats.katana);
    eprintln!(
        "429 burst: {} × 429 served and waited out; at most {} requests in any 60 s (limit 30); \
         600 orders stored",
        stats.katana.rate_limited, stats.katana.max_requests_in_60s
    );
    // The 429s are counted as requests sent.
    assert!(run["requests"]["katana"].as_u64().unwrap() >= 6 + 3);
}

#[test]
fn two_runs_back_to_back_share_one_rate_limit() {
    // 12 requests per run against a limit of 15 a minute: the second run must wait for
    // the first run's requests to leave the window (the limiter's log is in the store).
    let opts = SandboxOptions {
        rate_limit: 15,
        ..clean(220, 5, 20)
    };
    let env = Env::new(
        opts,
        Tool {
            requests_per_minute: 15,
            page_size: 20,
            ..Tool::default()
        },
    )
    .in_process();
    let first = env.run(&["orders", "pull", "--dry-run"]);
    assert!(first.status.success(), "{}", common::stderr(&first));
    let second = env.run(&["orders", "pull", "--dry-run"]);
    assert!(second.status.success(), "{}", common::stderr(&second));
    let stats = env.stats();
    assert_eq!(
        stats.katana.rate_limited, 0,
        "the limiter kept ahead of the server"
    );
    assert!(stats.katana.max_requests_in_60s <= 15, "{:?}", stats.katana);
    assert!(stats.katana.total >= 24);
}

#[test]
fn bad_records_are_quarantined_and_everything_else_is_stored() {
    let opts = SandboxOptions {
        rate_limit: 600,
        ..SandboxOptions::default()
    };
    let env = Env::new(opts, Tool::default()).in_process();
    let (code, run) = env.run_json(&["orders", "pull"]);
    assert_eq!(code, 1, "{run}");
    assert_eq!(run["status"], "partial");
    let reasons: Vec<String> = run["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {}: {}", e["entity"], e["key"], e["reason"]))
        .collect();
    let all = reasons.join("\n");
    assert!(all.contains("malformed decimal"), "{all}");
    assert!(all.contains("has no SKU"), "{all}");
    assert!(all.contains("unknown to Katana"), "{all}");
    let orders = env.sandbox().with_katana(|k| k.sales_orders.len()) as i64;
    // Only the order with the malformed decimal could not be stored at all.
    assert_eq!(env.count("SELECT count(*) FROM sales_orders"), orders - 1);
    assert_eq!(
        env.count(
            "SELECT count(*) FROM quarantine WHERE resolved_at IS NULL AND entity = 'sales_order'"
        ),
        3
    );
    let stored = env.count("SELECT count(*) FROM sales_orders");
    let held_raw = env.count(
        "SELECT count(*) FROM quarantine WHERE resolved_at IS NULL AND entity = 'sales_order'
         AND raw_json IS NOT NULL",
    );
    eprintln!(
        "bad records: {orders} orders sent, {stored} stored, 3 held with a reason ({held_raw} \
         undecodable, kept raw in quarantine); lost: {}",
        orders - stored - held_raw
    );
    // A held order gets no adjustment, so it can never be invoiced incomplete.
    for key in ["SO-1201", "SO-1202"] {
        let held_with_adjustments = env.count(&format!(
            "SELECT count(*) FROM adjustments a JOIN quarantine q ON q.key = a.order_no
             WHERE q.key = '{key}' AND q.resolved_at IS NULL"
        ));
        assert_eq!(held_with_adjustments, 0, "{key}");
    }

    // Fixed at the source: the variant gets a SKU; the next runs release the order.
    env.sandbox().with_katana(|k| {
        let v = k
            .variants
            .values()
            .find(|v| v.sku.is_none() && v.deleted_at.is_none())
            .unwrap()
            .id;
        k.edit::<katana_sync::sandbox::model::Variant>(v, |v| v.sku = Some("NDK-0001".into()));
    });
    assert_eq!(
        env.run_json(&["products", "pull", "--from", "katana"]).0,
        1,
        "the shared SKU is still held"
    );
    let (_, run) = env.run_json(&["orders", "pull"]);
    let still: Vec<String> = run["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].to_string())
        .collect();
    assert!(!still.iter().any(|r| r.contains("has no SKU")), "{still:?}");
}

#[test]
fn a_katana_outage_exits_69_and_loses_nothing() {
    let opts = SandboxOptions {
        faults: "katana.http5xx=1".parse().unwrap(),
        ..clean(50, 5, 10)
    };
    let env = Env::new(opts, Tool::default()).in_process();
    let out = env.run(&["orders", "pull"]);
    assert_eq!(out.status.code(), Some(69));
    let err = common::stderr(&out);
    assert!(
        err.contains("/sales_orders") && err.contains("unavailable"),
        "{err}"
    );
    assert_eq!(env.count("SELECT count(*) FROM sales_orders"), 0);
    assert_eq!(
        env.count("SELECT count(*) FROM watermarks"),
        0,
        "no watermark moved"
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM runs WHERE status = 'failed' AND message LIKE '%unavailable%'"
        ),
        1
    );
    env.sandbox().set_faults(Default::default());
    assert_eq!(env.run_json(&["orders", "pull"]).0, 0);
    assert_eq!(env.count("SELECT count(*) FROM sales_orders"), 50);
}

#[test]
fn a_dry_run_lists_what_it_would_write_and_writes_nothing() {
    let env = Env::new(clean(30, 5, 10), Tool::default()).in_process();
    let (code, run) = env.run_json(&["orders", "pull", "--dry-run"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["status"], "dry_run");
    let planned = run["planned"].as_array().unwrap();
    assert_eq!(planned.len(), 30);
    assert!(
        planned
            .iter()
            .all(|p| p["entity"] == "sales_order" && p["action"] == "create")
    );
    assert!(run["adjustments_created"].as_u64().unwrap() > 0);
    for table in [
        "sales_orders",
        "sales_order_rows",
        "adjustments",
        "watermarks",
        "partners",
    ] {
        assert_eq!(
            env.count(&format!("SELECT count(*) FROM {table}")),
            0,
            "{table}"
        );
    }
    assert_eq!(
        env.count("SELECT count(*) FROM runs WHERE status = 'dry_run'"),
        1
    );
    // The text form says what would be written.
    let out = env.run(&["customers", "pull", "--dry-run"]);
    assert!(
        common::stdout(&out).contains("would write"),
        "{}",
        common::stdout(&out)
    );
    let (_, run) = env.run_json(&["orders", "pull"]);
    assert_eq!(run["created"], 30);
}

#[test]
fn the_approval_queue_from_the_command_line() {
    let env = Env::new(clean(12, 5, 10), Tool::default()).in_process();
    assert_eq!(env.run_json(&["orders", "pull"]).0, 0);
    let (code, list) = env.run_json(&["adjustments", "list"]);
    assert_eq!(code, 0);
    let items = list["adjustments"].as_array().unwrap().clone();
    assert!(items.len() > 5);
    for a in &items {
        for key in [
            "id",
            "order_no",
            "sku",
            "warehouse",
            "quantity",
            "kind",
            "status",
            "created_at",
        ] {
            assert!(a.get(key).is_some(), "{key} in {a}");
        }
        assert_eq!(a["status"], "pending");
        assert_eq!(a["kind"], "sale");
        assert!(a["quantity"].is_string(), "decimals are strings: {a}");
    }
    let ids: Vec<i64> = items.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");

    let first = ids[0].to_string();
    assert_eq!(
        env.run_json(&["adjustments", "approve", &first]).1["changed"],
        1
    );
    assert_eq!(
        env.run_json(&["adjustments", "approve", &first]).1["changed"],
        0,
        "idempotent"
    );
    let order = items.last().unwrap()["order_no"]
        .as_str()
        .unwrap()
        .to_string();
    let in_order = items
        .iter()
        .filter(|a| a["order_no"] == order.as_str())
        .count();
    assert_eq!(
        env.run_json(&["adjustments", "approve", "--order", &order])
            .1["changed"]
            .as_u64(),
        Some(in_order as u64)
    );
    let (_, rejected) = env.run_json(&["adjustments", "reject", "--all"]);
    assert_eq!(
        rejected["changed"].as_u64().unwrap() as usize,
        items.len() - 1 - in_order
    );
    assert_eq!(
        env.run_json(&["adjustments", "list"]).1["adjustments"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        env.run_json(&["adjustments", "list", "--status", "approved"])
            .1["adjustments"]
            .as_array()
            .unwrap()
            .len(),
        1 + in_order
    );
    let out = env.run(&["adjustments", "approve", "999999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("999999"));
    let out = env.run(&["adjustments", "approve"]);
    assert_eq!(out.status.code(), Some(2), "a selection is required");
}

#[test]
fn auto_approve_approves_new_adjustments_on_creation() {
    let env = Env::new(
        clean(10, 5, 10),
        Tool {
            auto_approve: true,
            ..Tool::default()
        },
    )
    .in_process();
    assert_eq!(env.run_json(&["orders", "pull"]).0, 0);
    assert!(env.count("SELECT count(*) FROM adjustments WHERE status = 'approved'") > 0);
    assert_eq!(
        env.count("SELECT count(*) FROM adjustments WHERE status = 'pending'"),
        0
    );
}

#[test]
fn every_pull_counts_each_record_once() {
    let opts = SandboxOptions {
        rate_limit: 600,
        ..SandboxOptions::default()
    };
    let env = Env::new(opts, Tool::default()).in_process();
    for _ in 0..2 {
        for args in [
            vec!["products", "pull", "--from", "katana"],
            vec!["customers", "pull"],
            vec!["warehouses", "pull"],
            vec!["orders", "pull"],
        ] {
            let (_, run) = env.run_json(&args);
            let n = |k: &str| run[k].as_u64().unwrap();
            assert_eq!(
                n("processed"),
                n("created") + n("updated") + n("skipped") + n("failed"),
                "{args:?}: {run}"
            );
        }
    }
}
