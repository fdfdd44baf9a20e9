//! `doctor --probe` against each answer the tenant may give (the sandbox's modes): it
//! records what it learnt in the store, `doctor` prints it, and the passes follow it.

mod common;

use common::{Env, Tool, clean, stderr, stdout};
use katana_sync::sandbox::SandboxOptions;

fn env_with(faults: &str) -> Env {
    Env::new(
        SandboxOptions {
            faults: faults.parse().expect("fault spec"),
            ..clean(0, 10, 5)
        },
        // Every location mapped, so that `doctor` has nothing else to report: the
        // sandbox's showroom goes to a depo `warehouses push` creates.
        Tool {
            extra: "\"1003\" = \"003\"\n",
            ..Tool::default()
        },
    )
    .in_process()
}

fn findings(env: &Env) -> std::collections::BTreeMap<String, String> {
    let c = env.store();
    let mut stmt = c.prepare("SELECT key, value FROM luca_findings").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Runs the probe; its checks as JSON.
fn probe(env: &Env) -> serde_json::Value {
    let (code, doc) = env.run_json(&["doctor", "--probe", "--yes"]);
    assert_eq!(code, 0, "{doc}");
    let probe = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "probe")
        .cloned()
        .unwrap_or_else(|| panic!("no probe check: {doc}"));
    assert_eq!(probe["ok"], true, "{probe}");
    doc
}

#[test]
fn without_a_terminal_the_probe_needs_yes() {
    let env = env_with("");
    let out = env.run(&["doctor", "--probe"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(env.stats().luca.total, 0, "nothing sent");
}

#[test]
fn the_default_tenant_several_sessions_and_a_lean_invoice_list() {
    let env = env_with("");
    probe(&env);
    let f = findings(&env);
    assert_eq!(f["sessions_per_user"], "several");
    assert_eq!(f["invoice_list_belge_takip_no"], "no");
    assert_eq!(f["invoice_list_belge_aciklama"], "no");
    assert_eq!(f["wrapper:ListeleStkSkart.do"], "key:list");
    assert_eq!(f["wrapper:ListeleFinMusteri.do"], "bare");
    assert!(f.contains_key("read_after_write_ms"), "{f:?}");
    // What Luca let go is gone: the invoice, then the card; the cari stays (no delete).
    let probe_cards = env.sandbox().with_luca(|l| {
        l.branches[&1]
            .stock_cards
            .iter()
            .filter(|c| c.kart_kodu.starts_with("KSPROBE-") && !c.deleted)
            .count()
    });
    assert_eq!(probe_cards, 0);
    let invoices = env.sandbox().with_luca(|l| l.branches[&1].invoices.len());
    assert_eq!(invoices, 0);
    // `doctor` prints the findings.
    let out = env.run(&["doctor"]);
    assert!(
        stdout(&out).contains("sessions_per_user = several"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn one_session_per_user_is_recorded_and_the_next_push_uses_one() {
    let env = env_with("luca.single_login=1");
    probe(&env);
    assert_eq!(findings(&env)["sessions_per_user"], "1");
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    env.sandbox().reset_stats();
    let (code, run) = env.run_json(&["products", "push"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(
        env.stats().luca.logins,
        1,
        "one session, no check of its own"
    );
    assert!(
        run["notes"][0]
            .as_str()
            .unwrap_or("")
            .contains("one session per user")
    );
}

#[test]
fn a_list_wrapper_of_another_name_is_recorded_and_followed() {
    let env = env_with("luca.list_wrapper=kayitlar");
    probe(&env);
    let f = findings(&env);
    assert_eq!(f["wrapper:ListeleStkSkart.do"], "key:kayitlar");
    assert_eq!(f["wrapper:YdlUserResponsibilityOrgSs.do"], "key:kayitlar");
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    assert_eq!(env.run_json(&["products", "push"]).0, 0);
}

#[test]
fn a_richer_invoice_list_is_recorded() {
    let env = env_with("luca.rich_invoices=1");
    probe(&env);
    let f = findings(&env);
    assert_eq!(f["invoice_list_belge_takip_no"], "yes");
    assert_eq!(f["invoice_list_belge_aciklama"], "yes");
}
