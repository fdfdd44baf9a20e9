//! `stock` through the real binary against the sandbox: the drift reported exactly, drift
//! adjustments superseded as the drift moves, approved slips sent exactly once (kill -9,
//! lost answers), sales on their way accounted for, dry runs, and the inventory pull
//! within the rate limit.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use common::{Env, Tool, clean, hits};
use katana_sync::sandbox::SandboxOptions;
use katana_sync::sandbox::model::SalesOrderStatus;
use rust_decimal::Decimal;
use serde_json::Value;

const SLIP: &str = "POST /Yetki/EkleStkWsDshBaslik.do";
const INVENTORY: &str = "GET /v1/inventory";

/// (SKU, warehouse) -> (katana, luca, delta), as decimal strings.
type Expected = BTreeMap<(String, String), (String, String, String)>;

/// The drift computed independently from the sandbox's own data: Katana locations 1001
/// and 1002 (the test config's mapping) against Luca's 001 and 002, for the stock codes
/// the store maps to a Luca card.
fn expected_drift(env: &Env) -> Expected {
    let cards: BTreeSet<String> = {
        let c = env.store();
        let mut stmt = c.prepare("SELECT sku FROM luca_stock_cards").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let katana: BTreeMap<(String, String), Decimal> = env.sandbox().with_katana(|k| {
        let mut out = BTreeMap::new();
        for level in &k.inventory {
            let wh = match level.location_id {
                1001 => "001",
                1002 => "002",
                _ => continue,
            };
            let Some(sku) = k
                .variants
                .get(&level.variant_id)
                .and_then(|v| v.sku.as_deref())
                .map(str::trim)
            else {
                continue;
            };
            if cards.contains(sku) {
                *out.entry((sku.to_string(), wh.to_string()))
                    .or_insert(Decimal::ZERO) += level.quantity_in_stock;
            }
        }
        out
    });
    let mut out = Expected::new();
    env.sandbox().with_luca(|l| {
        let mut keys: BTreeSet<(String, String)> = katana.keys().cloned().collect();
        for wh in ["001", "002"] {
            for code in l.branches[&1]
                .on_hand
                .get(wh)
                .into_iter()
                .flat_map(|m| m.keys())
            {
                if cards.contains(code) {
                    keys.insert((code.clone(), wh.to_string()));
                }
            }
        }
        for key in keys {
            let k = katana.get(&key).copied().unwrap_or_default();
            let lu = l.on_hand(1, &key.1, &key.0);
            let d = k - lu;
            if !d.is_zero() {
                out.insert(
                    key,
                    (
                        k.normalize().to_string(),
                        lu.normalize().to_string(),
                        d.normalize().to_string(),
                    ),
                );
            }
        }
    });
    out
}

fn drift_of(run: &Value) -> Expected {
    run["drift"]
        .as_array()
        .unwrap_or_else(|| panic!("no drift array: {run}"))
        .iter()
        .map(|d| {
            let s = |k: &str| {
                d[k].as_str()
                    .unwrap_or_else(|| panic!("{k} in {d}"))
                    .to_string()
            };
            (
                (s("sku"), s("warehouse")),
                (s("katana"), s("luca"), s("delta")),
            )
        })
        .collect()
}

fn abs_deltas(run: &Value) -> Vec<Decimal> {
    run["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d["delta"]
                .as_str()
                .unwrap()
                .parse::<Decimal>()
                .unwrap()
                .abs()
        })
        .collect()
}

/// Drift adjustments with this status: (id, sku, warehouse, quantity).
fn drift_adjustments(env: &Env, status: &str) -> Vec<(i64, String, String, String)> {
    let c = env.store();
    let mut stmt = c
        .prepare(
            "SELECT id, sku, warehouse, quantity FROM adjustments
             WHERE kind = 'stock_drift' AND status = ?1 ORDER BY id",
        )
        .unwrap();
    stmt.query_map([status], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Slips in the sandbox's Luca per belgeTakipNo (the seeded opening slip has none).
fn slips_per_key(env: &Env) -> BTreeMap<String, usize> {
    env.sandbox().with_luca(|l| {
        let mut out = BTreeMap::new();
        for s in &l.branches[&1].stock_slips {
            if let Some(k) = &s.belge_takip_no {
                *out.entry(k.clone()).or_insert(0) += 1;
            }
        }
        out
    })
}

fn small_env() -> Env {
    let env = Env::new(clean(0, 30, 10), Tool::default()).in_process();
    let (code, run) = env.run_json(&["products", "pull"]);
    assert_eq!(code, 0, "{run}");
    env
}

#[test]
fn a_seeded_drift_is_reported_exactly_then_approved_slips_close_it_once() {
    let env = small_env();
    let expected = expected_drift(&env);
    assert!(
        (2..=10).contains(&expected.len()),
        "the sandbox seeds a few drifts: {expected:?}"
    );
    let (code, run) = env.run_json(&["stock"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["sync_type"], "stock");
    assert_eq!(drift_of(&run), expected, "{run}");
    let deltas = abs_deltas(&run);
    assert!(
        deltas.windows(2).all(|w| w[0] >= w[1]),
        "largest first: {deltas:?}"
    );
    let pending = drift_adjustments(&env, "pending");
    assert_eq!(pending.len(), expected.len());
    for (_, sku, wh, q) in &pending {
        assert_eq!(&expected[&(sku.clone(), wh.clone())].2, q);
    }
    // The text table, largest first, and a second run queues nothing new.
    let out = env.run(&["stock"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let text = common::stdout(&out);
    let positions: Vec<usize> = {
        let mut by_delta: Vec<_> = expected.iter().collect();
        by_delta.sort_by_key(|(_, v)| std::cmp::Reverse(v.2.parse::<Decimal>().unwrap().abs()));
        by_delta
            .iter()
            .map(|((sku, _), _)| text.find(sku.as_str()).expect("sku in the table"))
            .collect()
    };
    assert!(positions.windows(2).all(|w| w[0] <= w[1]), "{text}");
    assert!(text.contains("drift (Katana − Luca)"), "{text}");
    assert_eq!(drift_adjustments(&env, "pending").len(), expected.len());
    assert_eq!(
        hits(&env.stats(), SLIP),
        0,
        "nothing approved, nothing sent"
    );

    // Approve: one slip each, in or out by sign; then the drift is gone.
    let (code, v) = env.run_json(&["adjustments", "approve", "--all"]);
    assert_eq!(code, 0, "{v}");
    let (code, run) = env.run_json(&["stock"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(
        run["created"].as_u64(),
        Some(expected.len() as u64),
        "{run}"
    );
    assert_eq!(hits(&env.stats(), SLIP), expected.len() as u64);
    let applied = drift_adjustments(&env, "applied");
    assert_eq!(applied.len(), expected.len());
    let per_key = slips_per_key(&env);
    env.sandbox().with_luca(|l| {
        for (id, sku, wh, q) in &applied {
            let key = format!("ADJ-{id}");
            assert_eq!(per_key.get(&key), Some(&1), "{key}");
            let slip = l.branches[&1]
                .stock_slips
                .iter()
                .find(|s| s.belge_takip_no.as_deref() == Some(key.as_str()))
                .unwrap();
            let q: Decimal = q.parse().unwrap();
            assert_eq!(
                slip.belge_tur_detay_id,
                if q > Decimal::ZERO { 150 } else { 151 }
            );
            assert_eq!(slip.lines[0].kart_kodu, *sku);
            assert_eq!(slip.lines[0].depo_kodu, *wh);
            assert_eq!(slip.lines[0].miktar, q.abs());
            assert!(slip.belge_aciklama.as_deref().unwrap().contains(&key));
        }
    });
    let (code, run) = env.run_json(&["stock"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["drift"], serde_json::json!([]), "{run}");
    assert!(expected_drift(&env).is_empty());
    // A rerun sends nothing.
    let (code, run) = env.run_json(&["stock"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(hits(&env.stats(), SLIP), expected.len() as u64);
    assert_eq!(env.stats().luca.duplicate_creates.stock_slip, 0);
    assert_eq!(
        env.count(
            "SELECT count(*) FROM adjustments WHERE kind = 'stock_drift' AND status <> 'applied'"
        ),
        0
    );
}

#[test]
fn a_new_drift_supersedes_the_old_and_so_does_a_drift_that_closed_by_itself() {
    let env = small_env();
    let (code, run) = env.run_json(&["stock"]);
    assert_eq!(code, 0, "{run}");
    let pending = drift_adjustments(&env, "pending");
    assert!(pending.len() >= 2, "{run}");
    let (grow, close) = (&pending[0], &pending[1]);
    // Katana's stock of the first moves by 2; the second comes to agree with Luca.
    let luca_close = env
        .sandbox()
        .with_luca(|l| l.on_hand(1, &close.2, &close.1));
    env.sandbox().with_katana(|k| {
        let loc = |wh: &str| if wh == "001" { 1001 } else { 1002 };
        let of = |k: &katana_sync::sandbox::KatanaData, sku: &str| -> Vec<i64> {
            k.variants
                .values()
                .filter(|v| v.sku.as_deref().map(str::trim) == Some(sku))
                .map(|v| v.id)
                .collect()
        };
        let (g, c) = (of(k, &grow.1), of(k, &close.1));
        for level in k.inventory.iter_mut() {
            if level.location_id == loc(&grow.2) && level.variant_id == g[0] {
                level.quantity_in_stock += Decimal::TWO;
            }
            if level.location_id == loc(&close.2) && c.contains(&level.variant_id) {
                level.quantity_in_stock = if level.variant_id == c[0] {
                    luca_close
                } else {
                    Decimal::ZERO
                };
            }
        }
    });
    let (code, run) = env.run_json(&["stock"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(drift_of(&run), expected_drift(&env));
    let status_of = |id: i64| -> (String, Option<i64>) {
        env.store()
            .query_row(
                "SELECT status, superseded_by FROM adjustments WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    let (st, by) = status_of(grow.0);
    assert_eq!(st, "superseded");
    let new = by.expect("superseded by the new drift");
    let new_q: String = env
        .store()
        .query_row(
            "SELECT quantity FROM adjustments WHERE id = ?1",
            [new],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        new_q.parse::<Decimal>().unwrap(),
        grow.3.parse::<Decimal>().unwrap() + Decimal::TWO
    );
    assert_eq!(status_of(close.0), ("superseded".to_string(), None));
    let live_for_closed = env.count(&format!(
        "SELECT count(*) FROM adjustments WHERE kind = 'stock_drift' AND sku = '{}' AND warehouse = '{}' AND status <> 'superseded'",
        close.1, close.2
    ));
    assert_eq!(live_for_closed, 0, "a closed drift proposes nothing");
    assert_eq!(
        drift_adjustments(&env, "pending").len(),
        pending.len() - 1,
        "one replaced, one gone"
    );
}

#[test]
fn an_approved_sale_not_yet_invoiced_is_not_proposed_again_as_drift() {
    let env = small_env();
    let (code, run) = env.run_json(&["stock"]);
    assert_eq!(code, 0, "{run}");
    let drifting: BTreeSet<(String, String)> = drift_of(&run).into_keys().collect();
    // A card without drift in 001, sold: 3 pieces on an open order.
    let cards: Vec<String> = {
        let c = env.store();
        let mut stmt = c
            .prepare("SELECT sku FROM luca_stock_cards ORDER BY sku")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let sku = cards
        .iter()
        .find(|s| !drifting.contains(&((*s).clone(), "001".to_string())))
        .expect("a card without drift")
        .clone();
    let (order, variant) = env.sandbox().with_katana(|k| {
        let customer = *k.customers.keys().next().unwrap();
        let variant = k
            .variants
            .values()
            .find(|v| v.sku.as_deref() == Some(sku.as_str()))
            .unwrap()
            .id;
        let mut o = katana_sync::sandbox::NewSalesOrder::new(customer, 1001);
        o.status = SalesOrderStatus::NotShipped;
        o.rows.push(katana_sync::sandbox::NewOrderRow {
            variant_id: variant,
            quantity: Decimal::from(3),
            price_per_unit: Decimal::from(100),
            tax_rate_id: Some(301),
        });
        (k.create_sales_order(o), variant)
    });
    let (code, run) = env.run_json(&["orders", "pull"]);
    assert_eq!(code, 0, "{run}");
    let (code, v) = env.run_json(&["adjustments", "approve", "--all"]);
    assert_eq!(code, 0, "{v}");
    // Katana delivers it: its stock drops by 3; Luca's drops only with the invoice.
    env.sandbox().with_katana(|k| {
        k.edit_sales_order(order, |o| o.status = SalesOrderStatus::Delivered);
        for level in k.inventory.iter_mut() {
            if level.variant_id == variant && level.location_id == 1001 {
                level.quantity_in_stock -= Decimal::from(3);
            }
        }
    });
    let (code, run) = env.run_json(&["orders", "pull"]);
    assert_eq!(code, 0, "{run}");
    let before = drift_adjustments(&env, "approved").len();
    let (code, run) = env.run_json(&["stock"]);
    assert!(code == 0 || code == 1, "{run}");
    let lines: Vec<&Value> = run["drift"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["sku"] == sku.as_str() && d["warehouse"] == "001")
        .collect();
    assert!(
        lines.is_empty(),
        "the sale on its way is no drift: {lines:?}"
    );
    let proposed = env.count(&format!(
        "SELECT count(*) FROM adjustments WHERE kind = 'stock_drift' AND sku = '{sku}' AND warehouse = '001'"
    ));
    assert_eq!(proposed, 0);
    // The approved drifts of the other SKUs went out as slips; none for this SKU.
    assert_eq!(hits(&env.stats(), SLIP), before as u64);
    let slips_for_sku = env.sandbox().with_luca(|l| {
        l.branches[&1]
            .stock_slips
            .iter()
            .filter(|s| s.belge_takip_no.is_some() && s.lines.iter().any(|x| x.kart_kodu == sku))
            .count()
    });
    assert_eq!(slips_for_sku, 0);
}

#[test]
fn dry_run_lists_the_slips_and_sends_nothing() {
    let env = small_env();
    assert_eq!(env.run_json(&["stock"]).0, 0);
    assert_eq!(env.run_json(&["adjustments", "approve", "--all"]).0, 0);
    let approved = drift_adjustments(&env, "approved");
    let (code, run) = env.run_json(&["--dry-run", "stock"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["status"], "dry_run");
    let planned: Vec<&Value> = run["planned"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "stock_slip")
        .collect();
    assert_eq!(planned.len(), approved.len(), "{run}");
    for (id, sku, wh, q) in &approved {
        let p = planned
            .iter()
            .find(|p| p["key"] == format!("ADJ-{id}"))
            .unwrap_or_else(|| panic!("ADJ-{id} planned: {run}"));
        assert_eq!(p["action"], "create");
        let body = &p["payload"];
        assert_eq!(body["detayList"][0]["kartKodu"], sku.as_str());
        assert_eq!(body["depoKodu"], wh.as_str());
        let q: Decimal = q.parse().unwrap();
        assert_eq!(
            body["belgeTurDetayId"],
            if q > Decimal::ZERO { 150 } else { 151 }
        );
    }
    let text = common::stdout(&env.run(&["--dry-run", "stock"]));
    assert!(text.contains("kind=stock_slip"), "{text}");
    assert_eq!(hits(&env.stats(), SLIP), 0);
    assert_eq!(drift_adjustments(&env, "approved"), approved);
    assert_eq!(env.count("SELECT count(*) FROM outbox"), 0);
}

/// Many drifts to send: every variant gets a card, so all of Katana's stock is drift.
fn many_drifts(products: usize, latency_ms: u64, faults: &str) -> Env {
    let opts = SandboxOptions {
        latency_ms,
        ..clean(0, products, 5)
    };
    let env = Env::new(
        opts,
        Tool {
            sessions: 2,
            ..Tool::default()
        },
    )
    .in_process();
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    let (code, run) = env.run_json(&["products", "push"]);
    assert_eq!(code, 0, "{run}");
    let (code, run) = env.run_json(&["stock"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(env.run_json(&["adjustments", "approve", "--all"]).0, 0);
    if !faults.is_empty() {
        env.sandbox().set_faults(faults.parse().unwrap());
    }
    env
}

/// No adjustment has more than one slip; an applied one has exactly one; every slip
/// belongs to an applied or unknown adjustment. Returns the unknown ones' ids.
fn assert_each_slip_at_most_once(env: &Env) -> BTreeSet<i64> {
    let per_key = slips_per_key(env);
    let doubled: Vec<_> = per_key.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "second slips: {doubled:?}");
    for (id, ..) in drift_adjustments(env, "applied") {
        assert_eq!(per_key.get(&format!("ADJ-{id}")), Some(&1), "applied {id}");
    }
    let unknown: BTreeSet<i64> = drift_adjustments(env, "unknown")
        .into_iter()
        .map(|a| a.0)
        .collect();
    for key in per_key.keys() {
        let id: i64 = key.trim_start_matches("ADJ-").parse().unwrap();
        let status: String = env
            .store()
            .query_row("SELECT status FROM adjustments WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(
            status == "applied" || status == "unknown",
            "{key}: {status}"
        );
    }
    assert_eq!(env.stats().luca.duplicate_creates.stock_slip, 0);
    unknown
}

/// Each unknown slip's report says its drift closed exactly when the slip is in Luca.
fn assert_unknowns_reported_truthfully(env: &Env, run: &Value, unknown: &BTreeSet<i64>) {
    let per_key = slips_per_key(env);
    let reported = run["unknown_slips"].as_array().cloned().unwrap_or_default();
    let ids: BTreeSet<i64> = reported
        .iter()
        .map(|u| u["adjustment_id"].as_i64().unwrap())
        .collect();
    assert_eq!(&ids, unknown, "{run}");
    for u in &reported {
        let id = u["adjustment_id"].as_i64().unwrap();
        let landed = per_key.contains_key(&format!("ADJ-{id}"));
        assert_eq!(u["drift_closed"], landed, "{u}");
    }
}

#[test]
fn kill_9_at_twenty_moments_during_the_slip_push_never_sends_a_second_slip() {
    let env = many_drifts(120, 10, "");
    let approved = drift_adjustments(&env, "approved").len();
    assert!(approved >= 300, "slips to send: {approved}");
    let mut kills = Vec::new();
    let mut i = 0u64;
    while kills.len() < 24 && i < 60 {
        let target = 1 + (i * 7) % 20;
        let before = env.stats().luca.creates.stock_slip;
        let killed = env.kill_after_creates(&["stock"], target, |s| s.luca.creates.stock_slip);
        if !killed {
            break;
        }
        kills.push((target, env.stats().luca.creates.stock_slip - before));
        i += 1;
    }
    let (code, run) = env.run_json(&["stock"]);
    let unknown = assert_each_slip_at_most_once(&env);
    assert_eq!(code, if unknown.is_empty() { 0 } else { 1 }, "{run}");
    assert_unknowns_reported_truthfully(&env, &run, &unknown);
    assert_eq!(drift_adjustments(&env, "approved").len(), 0);
    // A rerun sends nothing: the unknown ones wait for `adjustments resolve`.
    let sent = hits(&env.stats(), SLIP);
    let (_, again) = env.run_json(&["stock"]);
    assert_eq!(hits(&env.stats(), SLIP), sent);
    assert_eq!(
        drift_adjustments(&env, "unknown").len(),
        unknown.len(),
        "{again}"
    );
    let applied = drift_adjustments(&env, "applied").len();
    let landed = unknown
        .iter()
        .filter(|id| slips_per_key(&env).contains_key(&format!("ADJ-{id}")))
        .count();
    settle_with_resolve(&env, &unknown);
    assert_eq!(common::integrity(&env.db()), "ok");
    eprintln!(
        "slip kill -9 sweep: {} kills mid-push (target creates, creates seen): {kills:?}; \
         {approved} slips approved, {applied} applied, {} unknown (of which {} landed), \
         {sent} slip creates sent; after `adjustments resolve` --applied/--retry every drift closed; \
         second slips 0",
        kills.len(),
        unknown.len(),
        landed
    );
    assert!(
        kills.len() >= 20,
        "only {} kills landed mid-push",
        kills.len()
    );
}

#[test]
fn a_lost_answer_leaves_the_slip_unknown_and_it_is_never_sent_again() {
    let env = many_drifts(30, 0, "luca.lost=0.3");
    let approved = drift_adjustments(&env, "approved").len();
    let (code, run) = env.run_json(&["stock"]);
    assert_eq!(code, 1, "unknown outcomes keep the pass incomplete: {run}");
    let lost = env.stats().luca.lost_responses;
    assert!(lost > 0, "some answers were lost");
    let sent = hits(&env.stats(), SLIP);
    assert_eq!(
        sent, approved as u64,
        "one create per adjustment, none sent again"
    );
    let unknown = assert_each_slip_at_most_once(&env);
    assert_eq!(
        unknown.len() as u64,
        lost,
        "every lost answer is unknown: {run}"
    );
    assert_eq!(run["unknown_outcomes"].as_u64(), Some(lost), "{run}");
    env.sandbox().set_faults(Default::default());
    let (code, run) = env.run_json(&["stock"]);
    assert_eq!(code, 1, "{run}");
    assert_eq!(hits(&env.stats(), SLIP), sent, "nothing re-sent");
    assert_unknowns_reported_truthfully(&env, &run, &unknown);
    let text = common::stdout(&env.run(&["stock"]));
    assert!(text.contains("--applied"), "{text}");
    assert_eq!(drift_adjustments(&env, "unknown").len(), unknown.len());
    settle_with_resolve(&env, &unknown);
    eprintln!(
        "slip lost answers: {lost} of {sent} slip creates lost, all left unknown, drift reported \
         closed for each, 0 re-sent, second slips 0"
    );
}

#[test]
fn an_inventory_pull_of_5000_variants_at_3_locations_keeps_the_rate_limit() {
    let opts = SandboxOptions {
        rate_limit: 60,
        ..clean(0, 5, 5)
    };
    let env = Env::new(
        opts,
        Tool {
            requests_per_minute: 60,
            ..Tool::default()
        },
    )
    .in_process();
    env.sandbox().with_katana(|k| {
        let template = k.inventory[0].clone();
        k.inventory.clear();
        for location in [1001, 1002, 1003] {
            for variant in 1..=5000 {
                let mut l = template.clone();
                l.variant_id = 9_000_000 + variant;
                l.location_id = location;
                l.archived_at = None;
                k.inventory.push(l);
            }
        }
    });
    let started = Instant::now();
    let (code, run) = env.run_json(&["stock"]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{run}");
    let stats = env.stats();
    assert_eq!(hits(&stats, INVENTORY), 60, "15,000 levels at 250 a page");
    assert_eq!(env.count("SELECT count(*) FROM inventory"), 15_000);
    assert_eq!(stats.katana.rate_limited, 0);
    assert!(stats.katana.max_requests_in_60s <= 60, "{:?}", stats.katana);
    eprintln!(
        "inventory pull: 15,000 levels in {} requests, {:.1} s, most in any 60 s window {}, \
         429s {}",
        hits(&stats, INVENTORY),
        took.as_secs_f64(),
        stats.katana.max_requests_in_60s,
        stats.katana.rate_limited
    );
}

/// Settles the unknown slips with `adjustments resolve`, as a person would after looking
/// in Luca: `--applied` for those that reached it, `--retry` for those that did not. The
/// next `stock` sends each retried slip once, and nothing else.
fn settle_with_resolve(env: &Env, unknown: &BTreeSet<i64>) {
    let landed = slips_per_key(env);
    let mut retried = 0;
    for id in unknown {
        let id_text = id.to_string();
        let how = if landed.contains_key(&format!("ADJ-{id}")) {
            "--applied"
        } else {
            retried += 1;
            "--retry"
        };
        let out = env.run(&["adjustments", "resolve", &id_text, how]);
        assert_eq!(out.status.code(), Some(0), "resolve {id} {how}: {out:?}");
    }
    if let Some(id) = unknown.iter().next() {
        // A settled adjustment is not `unknown` any more: a second resolve is refused.
        let out = env.run(&["adjustments", "resolve", &id.to_string(), "--applied"]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
    }
    let sent = hits(&env.stats(), SLIP);
    let (code, run) = env.run_json(&["stock"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(
        hits(&env.stats(), SLIP),
        sent + retried,
        "one new create per retry"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM adjustments WHERE kind = 'stock_drift' AND status NOT IN ('applied','superseded')"),
        0
    );
    assert!(slips_per_key(env).values().all(|n| *n == 1));
    let (code, run) = env.run_json(&["stock"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(
        run["drift"],
        serde_json::json!([]),
        "every drift closed: {run}"
    );
}
