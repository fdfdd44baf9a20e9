//! Bad input gets a clear no: `delete-sku` with a blank SKU, without a terminal and
//! without `--yes`, for a SKU Luca has no card for, and declined at the prompt;
//! `adjustments approve|reject --order` naming an order the store does not know.

mod common;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use common::{Env, Tool, cards_with_code, clean, eligible_skus};

/// An environment with one card pushed to Luca (and mapped in the store).
fn with_one_card() -> (Env, String) {
    let env = Env::new(clean(0, 5, 5), Tool::default()).in_process();
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    // One of the cards the push makes (the seeded ones made by a person are used in
    // documents, and Luca keeps those).
    let sku = eligible_skus(&env)
        .into_iter()
        .find(|s| cards_with_code(&env, s) == 0)
        .expect("a SKU with no card yet");
    assert_eq!(env.run_json(&["products", "push", "--sku", &sku]).0, 0);
    assert_eq!(cards_with_code(&env, &sku), 1);
    (env, sku)
}

fn luca_requests(env: &Env) -> u64 {
    env.stats().luca.total
}

#[test]
fn a_blank_sku_is_a_usage_error_and_nothing_is_asked_of_luca() {
    let env = Env::new(clean(0, 5, 5), Tool::default()).in_process();
    for sku in ["", "   "] {
        let out = env.run(&["delete-sku", sku, "--yes"]);
        assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
        assert!(common::stderr(&out).contains("empty or blank"));
    }
    assert_eq!(luca_requests(&env), 0, "no lookup sent");
    assert!(!env.db().exists(), "nothing opened");
}

#[test]
fn without_a_terminal_delete_sku_needs_yes() {
    let (env, sku) = with_one_card();
    let before = luca_requests(&env);
    // The harness runs the binary with stdin from /dev/null: no terminal.
    let out = env.run(&["delete-sku", &sku]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    let err = common::stderr(&out);
    assert!(
        err.contains("--yes") && err.contains("no terminal"),
        "{err}"
    );
    assert_eq!(cards_with_code(&env, &sku), 1, "kept");
    assert_eq!(luca_requests(&env), before, "nothing sent");
    // --dry-run deletes nothing, so it needs no confirmation.
    assert_eq!(env.run_json(&["delete-sku", &sku, "--dry-run"]).0, 0);
    assert_eq!(env.run_json(&["delete-sku", &sku, "--yes"]).0, 0);
    assert_eq!(cards_with_code(&env, &sku), 0);
}

#[test]
fn a_sku_with_no_card_is_said_plainly_and_exits_1() {
    let env = Env::new(clean(0, 5, 5), Tool::default()).in_process();
    let out = env.run(&["delete-sku", "NO-SUCH-SKU", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let text = common::stdout(&out);
    assert!(
        text.contains("NO-SUCH-SKU: Luca has no stock card with this code"),
        "{text}"
    );
    assert!(!text.contains("id found"), "{text}");
}

/// Runs delete-sku on a pseudo-terminal (`script`), answering `answer` at the prompt.
fn on_a_terminal(env: &Env, sku: &str, answer: &str) -> Output {
    let shell = format!(
        "'{}' --config '{}' --no-progress delete-sku '{}'",
        env!("CARGO_BIN_EXE_katana-sync"),
        env.config_path().display(),
        sku
    );
    let mut child = Command::new("script")
        .args(["-qec", &shell, "/dev/null"])
        .current_dir(env.dir.path())
        .env("KATANA_API_KEY", "sandbox-key")
        .env("LUCA_PASSWORD", "sandbox")
        .env_remove("KATANA_SYNC_DB")
        .env_remove("KATANA_SYNC_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{answer}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn declining_at_the_prompt_keeps_the_card_and_exits_1() {
    let (env, sku) = with_one_card();
    let out = on_a_terminal(&env, &sku, "n");
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("[y/N]"), "asked: {text}");
    assert!(text.contains("kept (not confirmed)"), "{text}");
    assert_eq!(cards_with_code(&env, &sku), 1);
    // The same prompt, answered yes, deletes: the answer is what decides.
    let out = on_a_terminal(&env, &sku, "y");
    assert_eq!(out.status.code(), Some(0), "{}", common::stdout(&out));
    assert_eq!(cards_with_code(&env, &sku), 0);
}

#[test]
fn deciding_for_an_unknown_order_exits_1_naming_it() {
    let env = Env::new(
        clean(30, 10, 10),
        Tool {
            page_size: 50,
            ..Tool::default()
        },
    )
    .in_process();
    assert_eq!(env.run_json(&["products", "pull", "--from", "katana"]).0, 0);
    assert_eq!(env.run_json(&["customers", "pull"]).0, 0);
    let (code, run) = env.run_json(&["orders", "pull"]);
    assert!(code == 0 || code == 1, "{run}");
    let known: String = env
        .store()
        .query_row(
            "SELECT order_no FROM adjustments WHERE status = 'pending' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("a pending adjustment");
    for verb in ["approve", "reject"] {
        let out = env.run(&["adjustments", verb, "--order", "SO-NOPE"]);
        assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
        assert!(common::stderr(&out).contains("no order SO-NOPE"));
    }
    // A known order is still decided beside an unknown one; the command says which
    // one it could not find.
    let out = env
        .cmd()
        .args([
            "--json",
            "adjustments",
            "approve",
            "--order",
            &known,
            "SO-NOPE",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["changed"].as_u64().unwrap() >= 1, "{v}");
    assert!(common::stderr(&out).contains("SO-NOPE"));
    assert!(!common::stderr(&out).contains(&format!("no order {known}")));
    // A known order with nothing pending left is no error: deciding is idempotent.
    let out = env.run(&["adjustments", "approve", "--order", &known]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
}
