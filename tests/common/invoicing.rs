//! Helpers of the invoice and despatch tests: the tool config they share and a setup
//! that pulls, pushes the cards and gives the customers their caris.

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

/// Pulls products and orders, pushes the cards, and gives the customers their caris
/// (`customers pull` matches what Luca has, `customers push` creates the rest).
pub fn setup(env: &Env) {
    for pass in [
        &["products", "pull"][..],
        &["products", "push"],
        &["orders", "pull"],
        &["customers", "pull"],
        &["customers", "push"],
    ] {
        let (code, run) = env.run_json(pass);
        assert!(code == 0 || code == 1, "{pass:?}: {run}");
    }
}

pub fn luca_invoices(env: &Env) -> Vec<Document> {
    env.sandbox()
        .with_luca(|l| l.branches.get(&1).map(|b| b.invoices.clone()))
        .unwrap_or_default()
}
