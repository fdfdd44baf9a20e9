//! Despatch notes for delivered, invoiced orders, through the real binary: only when
//! `[sync] despatches = true`, exactly once (lost answers included), the invoice's lines
//! with their units, and no second stock movement.

mod common;

use std::collections::BTreeMap;

use common::invoicing::{MAP_1003, luca_invoices, setup, tool};
use common::{Env, clean};
use katana_sync::sandbox::ledger::Document;
use katana_sync::sandbox::model::{SalesOrder, SalesOrderStatus};
use serde_json::Value;

fn despatches(env: &Env) -> Vec<Document> {
    env.sandbox()
        .with_luca(|l| l.branches.get(&1).map(|b| b.despatches.clone()))
        .unwrap_or_default()
}

fn enable_despatches(env: &Env) {
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    let text = text.replace(
        "auto_approve = true",
        "auto_approve = true\ndespatches = true",
    );
    std::fs::write(env.config_path(), text).unwrap();
}

/// Katana reports these orders delivered.
fn deliver(env: &Env, ids: &[i64]) {
    env.sandbox().with_katana(|k| {
        for id in ids {
            k.edit::<SalesOrder>(*id, |o| o.status = SalesOrderStatus::Delivered);
        }
    });
}

fn invoiced_orders(env: &Env) -> Vec<i64> {
    let c = env.store();
    let mut stmt = c
        .prepare("SELECT CAST(natural_key AS INTEGER) FROM outbox WHERE kind = 'invoice' AND state = 'done' ORDER BY 1")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn delivered_invoiced_orders_get_one_despatch_note_each() {
    let env = Env::new(clean(16, 8, 4), tool(MAP_1003)).in_process();
    setup(&env);
    assert_eq!(env.run_json(&["invoices"]).0, 0);
    let invoiced = invoiced_orders(&env);
    assert!(invoiced.len() >= 4, "{invoiced:?}");
    deliver(&env, &invoiced[..2]);
    assert_eq!(env.run_json(&["orders", "pull"]).0, 0);

    // Off by default.
    let (code, run) = env.run_json(&["despatches"]);
    assert_eq!(code, 0, "{run}");
    assert!(run.to_string().contains("despatches = true"), "{run}");
    assert!(despatches(&env).is_empty());

    enable_despatches(&env);
    let on_hand = env.sandbox().with_luca(|l| l.branches[&1].on_hand.clone());
    let (code, run) = env.run_json(&["despatches"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["created"], 2, "{run}");
    assert_eq!(
        env.sandbox().with_luca(|l| l.branches[&1].on_hand.clone()),
        on_hand,
        "the invoice moved the stock already"
    );
    let invoices = luca_invoices(&env);
    for d in despatches(&env) {
        let no = d.belge_takip_no.clone().unwrap();
        let inv = invoices
            .iter()
            .find(|i| i.belge_takip_no.as_deref() == Some(no.as_str()))
            .unwrap();
        assert_eq!(d.cari_kodu, inv.cari_kodu);
        assert_eq!(d.belge_tarihi, inv.belge_tarihi);
        let lines = |doc: &Document| {
            doc.lines
                .iter()
                .map(|l| (l.kart_kodu.clone(), l.miktar))
                .collect::<Vec<_>>()
        };
        assert_eq!(lines(&d), lines(inv));
        let raw: Value = serde_json::from_str(d.raw.as_deref().unwrap()).unwrap();
        assert_eq!(raw["belgeTurDetayId"], 52);
        assert!(raw["detayList"][0]["olcuBirimi"].is_number(), "{raw}");
    }

    // A lost answer is looked up on the next run and adopted, never sent twice.
    deliver(&env, &invoiced[2..4]);
    assert_eq!(env.run_json(&["orders", "pull"]).0, 0);
    env.sandbox().set_faults("luca.lost=1".parse().unwrap());
    let (code, run) = env.run_json(&["despatches"]);
    assert_eq!(code, 1, "{run}");
    env.sandbox().set_faults(Default::default());
    let (code, run) = env.run_json(&["despatches"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["created"], 0, "{run}");
    assert_eq!(run["updated"], 2, "adopted: {run}");
    let mut per_order: BTreeMap<String, usize> = BTreeMap::new();
    for d in despatches(&env) {
        *per_order.entry(d.belge_takip_no.unwrap()).or_default() += 1;
    }
    assert_eq!(per_order.len(), 4);
    assert!(per_order.values().all(|n| *n == 1), "{per_order:?}");
    let (code, run) = env.run_json(&["despatches"]);
    assert_eq!((code, run["created"].as_u64()), (0, Some(0)), "{run}");
}
