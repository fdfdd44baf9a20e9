//! Helpers of the invoice and despatch tests: the caris `customers push` will create
//! (one function, to swap for that pass), and the setup both files share.

use serde_json::json;

use super::sandbox as sbx;
use super::{Env, Tool};
use katana_sync::sandbox::ledger::Document;

/// Maps the sandbox's third location, which the harness's config leaves unmapped.
pub const MAP_1003: &str = "\"1003\" = \"001\"";

pub fn tool(extra: &'static str) -> Tool {
    Tool {
        auto_approve: true,
        requests_per_minute: 100_000,
        extra,
        ..Tool::default()
    }
}

/// Gives every customer of the stored orders a Luca cari (created over the sandbox's
/// Luca HTTP API) and the store the matching `luca_accounts` row: what `customers push`
/// will do. The one place to swap for it.
pub fn give_customers_accounts(env: &Env) {
    let store = rusqlite::Connection::open(env.db()).expect("store");
    let ids: Vec<i64> = {
        let mut stmt = store
            .prepare(
                "SELECT DISTINCT customer_id FROM sales_orders WHERE customer_id IS NOT NULL
                   AND customer_id NOT IN (SELECT katana_id FROM luca_accounts
                                           WHERE kind = 'customer' AND katana_id IS NOT NULL)",
            )
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let sb = env.sandbox();
    let made: Vec<(i64, String, Option<i64>)> = env.block_on(async {
        let c = sbx::luca_session(sb).await;
        let mut out = Vec::new();
        for id in ids {
            let code = format!("K{id:08}");
            let body = json!({"tip": 1, "kartKod": code, "tanim": format!("Müşteri {id}"), "paraBirimKod": "TRY"});
            let r = sbx::luca(&c, sb, "EkleFinMusteriWS.do", &body).await;
            assert_eq!(r["error"], false, "{r}");
            out.push((id, code, r["finansalNesneId"].as_i64()));
        }
        out
    });
    for (id, code, luca_id) in made {
        store
            .execute(
                "INSERT INTO luca_accounts (kind, code, luca_id, katana_id, source, seen_at)
                 VALUES ('customer', ?1, ?2, ?3, 'push', '2026-12-01T00:00:00Z')",
                rusqlite::params![code, luca_id, id],
            )
            .unwrap();
    }
}

/// Pulls products and orders, pushes the cards, gives the customers their caris.
pub fn setup(env: &Env) {
    for pass in [
        &["products", "pull"][..],
        &["products", "push"],
        &["orders", "pull"],
    ] {
        let (code, run) = env.run_json(pass);
        assert!(code == 0 || code == 1, "{pass:?}: {run}");
    }
    give_customers_accounts(env);
}

pub fn luca_invoices(env: &Env) -> Vec<Document> {
    env.sandbox()
        .with_luca(|l| l.branches.get(&1).map(|b| b.invoices.clone()))
        .unwrap_or_default()
}
