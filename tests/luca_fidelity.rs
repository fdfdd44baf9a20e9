//! What a live Luca tenant may do that the sandbox's defaults do not: one session per
//! user, several branches, a list wrapper of another name, a slow listing, 5xx pages on
//! the login, and combined faults. Each test runs the real binary against the sandbox.

mod common;

use std::time::Instant;

use common::{Env, Tool, cards_with_code, clean, eligible_skus, hits, stderr, stdout};
use katana_sync::sandbox::SandboxOptions;

const LIST: &str = "POST /Yetki/ListeleStkSkart.do";

fn with_faults(spec: &str, products: usize) -> SandboxOptions {
    SandboxOptions {
        faults: spec.parse().expect("fault spec"),
        ..clean(0, products, 5)
    }
}

/// No SKU has two cards, and every eligible SKU has one.
fn assert_each_card_once(env: &Env) -> usize {
    let skus = eligible_skus(env);
    let doubled: Vec<&String> = skus
        .iter()
        .filter(|s| cards_with_code(env, s) > 1)
        .collect();
    let missing: Vec<&String> = skus
        .iter()
        .filter(|s| cards_with_code(env, s) == 0)
        .collect();
    assert!(doubled.is_empty(), "duplicate cards: {doubled:?}");
    assert!(missing.is_empty(), "missing cards: {missing:?}");
    skus.len()
}

fn set_branch(env: &Env, id: i64) {
    let path = env.config_path();
    let text: String = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| match l.starts_with("branch_id = ") {
            true => format!("branch_id = {id}\n"),
            false => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&path, text).unwrap();
}

fn finding(env: &Env, key: &str) -> Option<String> {
    env.store()
        .query_row(
            "SELECT value FROM luca_findings WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .ok()
}

#[test]
fn single_login_shrinks_the_pool_remembers_it_and_never_duplicates() {
    let env = Env::new(with_faults("luca.single_login=1", 40), Tool::default()).in_process();
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    let skus = eligible_skus(&env);
    let first = skus[0].clone();
    let out = env.run(&["products", "push", "--sku", &first]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("one session per user"),
        "the run says so: {}",
        stdout(&out)
    );
    assert_eq!(finding(&env, "sessions_per_user").as_deref(), Some("1"));

    // The next run knows the limit: no second login to find it out again, one session.
    env.sandbox().reset_stats();
    let started = Instant::now();
    let (code, run) = env.run_json(&["products", "push"]);
    assert_eq!(code, 0, "{run}");
    let stats = env.stats();
    assert_eq!(stats.luca.logins, 1, "one session, no check: {stats:?}");
    assert!(
        run["notes"][0]
            .as_str()
            .unwrap_or("")
            .contains("learnt earlier"),
        "{run}"
    );
    assert_eq!(stats.luca.duplicate_creates.stock_card, 0);
    assert_each_card_once(&env);
    eprintln!(
        "single_login: {} cards in {:.2}s",
        run["created"],
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_session_ended_mid_push_by_another_login_is_never_resent() {
    // The limit is not known and the check is skipped (the store says "several", as a
    // stale finding would): the pool must notice during the push.
    let env = Env::new(
        with_faults("luca.single_login=1,luca.latency=5", 40),
        Tool::default(),
    )
    .in_process();
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    {
        let c = rusqlite::Connection::open(env.db()).unwrap();
        c.execute(
            "INSERT INTO luca_findings (key, value, source, found_at) VALUES ('sessions_per_user', 'several', 'probe', 'x')",
            [],
        )
        .unwrap();
    }
    let mut codes = Vec::new();
    for _ in 0..4 {
        let (code, run) = env.run_json(&["products", "push"]);
        assert!(code == 0 || code == 1, "{run}");
        codes.push(code);
        if code == 0 {
            break;
        }
    }
    assert_eq!(codes.last(), Some(&0), "{codes:?}");
    assert_eq!(env.stats().luca.duplicate_creates.stock_card, 0);
    assert_each_card_once(&env);
    assert_eq!(finding(&env, "sessions_per_user").as_deref(), Some("1"));
}

#[test]
fn several_branches_and_branch_id_0_exit_78_naming_every_branch() {
    let env = Env::new(with_faults("luca.branches=3", 5), Tool::default()).in_process();
    assert_eq!(env.run_json(&["products", "pull", "--from", "katana"]).0, 0);
    set_branch(&env, 0);
    let out = env.run(&["products", "pull", "--from", "luca"]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let err = stderr(&out);
    for needle in [
        "luca.branch_id",
        "1 \"",
        "2 \"",
        "3 \"Şube 3",
        "several branches",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    // With the branch named, it works; with one branch listed, 0 is fine.
    set_branch(&env, 1);
    let (code, run) = env.run_json(&["products", "pull", "--from", "luca"]);
    assert_eq!(
        code,
        0,
        "{run} {}",
        std::fs::read_to_string(env.config_path()).unwrap()
    );
    env.sandbox().set_faults("luca.branches=1".parse().unwrap());
    set_branch(&env, 0);
    assert_eq!(env.run_json(&["products", "pull", "--from", "luca"]).0, 0);
}

#[test]
fn a_list_wrapper_of_another_name_is_read() {
    let env = Env::new(
        with_faults("luca.list_wrapper=stkKartListesi", 30),
        Tool::default(),
    )
    .in_process();
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    let (code, run) = env.run_json(&["products", "push"]);
    assert_eq!(code, 0, "{run}");
    assert_each_card_once(&env);
    // Mapped again by range lookups under the unknown wrapper.
    env.store();
    {
        let c = rusqlite::Connection::open(env.db()).unwrap();
        c.execute("DELETE FROM luca_stock_cards", []).unwrap();
    }
    let (code, run) = env.run_json(&["products", "pull", "--from", "luca"]);
    assert_eq!(code, 0, "{run}");
    assert!(
        env.count("SELECT count(*) FROM luca_stock_cards WHERE skart_id IS NOT NULL") as usize
            >= eligible_skus(&env).len()
    );
}

#[test]
fn a_slow_listing_gets_its_own_timeout() {
    // Reads time out after 1 s; the range listing takes 2.5 s, within the listing timeout.
    // More unmapped SKUs than one-by-one lookups are made for: a listing.
    let env = Env::new(
        with_faults("luca.slow_listing=2500", 40),
        Tool {
            luca_timeout_secs: 1,
            ..Tool::default()
        },
    )
    .in_process();
    assert_eq!(env.run_json(&["products", "pull", "--from", "katana"]).0, 0);
    env.sandbox().reset_stats();
    let (code, run) = env.run_json(&["products", "pull", "--from", "luca"]);
    assert_eq!(code, 0, "{run}");
    assert!(hits(&env.stats(), LIST) <= 2, "{:?}", env.stats().requests);
}

#[test]
fn a_push_under_luca_http5xx_5_percent_completes_in_one_run() {
    let env = Env::new(with_faults("", 60), Tool::default()).in_process();
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    env.sandbox()
        .set_faults("luca.http5xx=0.05".parse().unwrap());
    let (code, run) = env.run_json(&["products", "push"]);
    assert_eq!(code, 0, "{run}");
    assert!(env.stats().luca.errors_5xx > 0, "the fault fired");
    assert_eq!(env.stats().luca.duplicate_creates.stock_card, 0);
    assert_each_card_once(&env);
}

#[test]
fn runs_under_combined_faults_converge_with_no_duplicates() {
    let env = Env::new(with_faults("", 16), Tool::default()).in_process();
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    env.sandbox().set_faults(
        "luca.http5xx=0.2,luca.reset=0.1,luca.lost=0.2,luca.expire_every=7"
            .parse()
            .unwrap(),
    );
    let mut codes = Vec::new();
    for _ in 0..10 {
        let out = env.run(&["products", "push"]);
        let code = out.status.code().unwrap_or(-1);
        let err = stderr(&out);
        assert!(!err.contains("Html(") && !err.contains("<html"), "{err}");
        codes.push(code);
        if code == 0 {
            break;
        }
    }
    assert_eq!(codes.last(), Some(&0), "converged: {codes:?}");
    assert_eq!(env.stats().luca.duplicate_creates.stock_card, 0);
    let cards = assert_each_card_once(&env);
    eprintln!("combined faults: {cards} cards, runs {codes:?}");
}

#[test]
fn vat_rates_go_out_as_json_numbers_with_their_exact_text() {
    let env = Env::new(with_faults("", 3), Tool::default()).in_process();
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    assert_eq!(env.run_json(&["products", "push"]).0, 0);
    let raws: Vec<String> = env.sandbox().with_luca(|l| {
        l.branches[&1]
            .stock_cards
            .iter()
            .filter_map(|c| c.raw.clone())
            .collect()
    });
    assert!(!raws.is_empty());
    for raw in raws {
        // As the Postman collection sends `0.18`: a number, not the string "0.2".
        assert!(raw.contains(r#""kartAlisKdvOran":0.2"#), "{raw}");
        assert!(raw.contains(r#""kartSatisKdvOran":0.2"#), "{raw}");
    }
}
