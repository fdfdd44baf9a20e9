//! Stock cards pushed to the sandbox's Luca through the real binary: exactly once under
//! kill -9, lost answers, failing lookups and expiring sessions; adoption; Turkish text.

mod common;

use std::time::{Duration, Instant};

use common::{Env, Tool, cards_with_code, clean, eligible_skus, hits};
use katana_sync::sandbox::SandboxOptions;

const CREATE: &str = "POST /Yetki/EkleStkWsSkart.do";
const LIST: &str = "POST /Yetki/ListeleStkSkart.do";
const DELETE: &str = "POST /Yetki/SilStkSkart.do";

/// Every card the push must create exists exactly once in Luca, and the store maps it.
fn assert_each_card_once(env: &Env) -> usize {
    let skus = eligible_skus(env);
    let mut missing = Vec::new();
    let mut doubled = Vec::new();
    for sku in &skus {
        match cards_with_code(env, sku) {
            1 => {}
            0 => missing.push(sku.clone()),
            _ => doubled.push(sku.clone()),
        }
    }
    assert!(doubled.is_empty(), "duplicate cards: {doubled:?}");
    assert!(missing.is_empty(), "missing cards: {missing:?}");
    assert_eq!(
        env.count("SELECT count(*) FROM outbox WHERE kind = 'stock_card' AND state <> 'done'"),
        0
    );
    skus.len()
}

#[test]
fn kill_9_at_twenty_moments_then_rerun_gives_every_card_once() {
    kill_9_sweep("", 460, 24, 20);
}

#[test]
fn kill_9_sweep_with_one_session_per_user_gives_every_card_once() {
    kill_9_sweep("luca.single_login=1", 200, 12, 10);
}

/// Kills `products push` with SIGKILL `kills` times mid-push (at least `landed` of them
/// in the sending phase), then lets one run finish: every card exists exactly once.
fn kill_9_sweep(faults: &str, products: usize, kills: usize, landed: usize) {
    let opts = SandboxOptions {
        latency_ms: 10,
        faults: faults.parse().unwrap(),
        ..clean(0, products, 10)
    };
    // Two sessions at 10 ms: the sending phase lasts seconds, so kills land inside it.
    let env = Env::new(
        opts,
        Tool {
            sessions: 2,
            ..Tool::default()
        },
    )
    .in_process();
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    let total = eligible_skus(&env).len();
    assert!(total >= products * 2, "cards to push: {total}");

    // Each run is killed once it has created a chosen number of cards (1 to 40: a
    // different moment every time), so every kill lands in the sending phase however
    // fast or loaded the machine is.
    let mut kills_mid_push = Vec::new();
    let mut i = 0u64;
    while kills_mid_push.len() < kills && i < 60 {
        let target = 1 + (i * 7) % 40;
        let before = env.stats().luca.creates.stock_card;
        let killed =
            env.kill_after_creates(&["products", "push"], target, |s| s.luca.creates.stock_card);
        if !killed {
            break;
        }
        kills_mid_push.push((target, env.stats().luca.creates.stock_card - before));
        i += 1;
    }
    let created_before_final = env.stats().luca.creates.stock_card;
    let (code, run) = env.run_json(&["products", "push"]);
    assert_eq!(code, 0, "{run}");
    let n = assert_each_card_once(&env);
    let stats = env.stats();
    assert_eq!(common::integrity(&env.db()), "ok");
    eprintln!(
        "kill -9 sweep [{faults}]: {} kills mid-push (killed after N creates, cards that run created): {kills_mid_push:?}; \
         {n} cards present; {created_before_final} created by the killed runs, {} by the last; \
         rows in doubt after a kill, found by lookup and adopted: {}; duplicate create attempts {}; \
         duplicate cards 0; integrity ok",
        kills_mid_push.len(),
        stats.luca.creates.stock_card - created_before_final,
        env.count("SELECT count(*) FROM outbox_attempts WHERE outcome = 'adopted'"),
        stats.luca.duplicate_creates.stock_card
    );
    assert!(
        kills_mid_push.len() >= landed,
        "only {} kills landed mid-push",
        kills_mid_push.len()
    );
    assert_eq!(stats.luca.duplicate_creates.stock_card, 0);
}

#[test]
fn lost_answers_are_looked_up_and_adopted_never_sent_twice() {
    lost_answers("luca.lost=0.1");
}

#[test]
fn lost_answers_with_one_session_per_user_are_never_sent_twice() {
    lost_answers("luca.lost=0.1,luca.single_login=1");
}

fn lost_answers(faults: &str) {
    let opts = SandboxOptions {
        faults: faults.parse().unwrap(),
        ..clean(0, 120, 10)
    };
    let env = Env::new(opts, Tool::default()).in_process();
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    // A lost answer leaves the outcome unknown; the same run looks each one up again
    // (never sending it twice) and adopts it, so the pass completes.
    let (code, run) = env.run_json(&["products", "push"]);
    assert_eq!(code, 0, "{run}");
    let lost = env.stats().luca.lost_responses;
    assert!(lost > 0, "some answers were lost");
    assert_eq!(
        run["updated"].as_u64(),
        Some(lost),
        "every lost one adopted: {run}"
    );
    assert_eq!(
        hits(&env.stats(), CREATE),
        run["created"].as_u64().unwrap() + lost,
        "one create per card, none sent again"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM outbox WHERE state = 'unknown'"),
        0
    );
    assert_each_card_once(&env);
    assert_eq!(env.stats().luca.duplicate_creates.stock_card, 0);
    eprintln!(
        "lost answers: {lost} of {} creates, all adopted in the same run, 0 duplicates",
        hits(&env.stats(), CREATE)
    );
}

/// Makes every card's outcome unknown: the creates land, the answers never arrive, and
/// the lookups that would settle them in the same run fail.
fn push_with_every_answer_lost(env: &Env) -> usize {
    assert_eq!(env.run_json(&["products", "pull", "--from", "katana"]).0, 0);
    env.sandbox()
        .set_faults("luca.lost=1,luca.lookup_fail=error".parse().unwrap());
    let (code, _) = env.run_json(&["products", "push"]);
    assert_eq!(code, 1);
    env.count("SELECT count(*) FROM outbox WHERE state = 'unknown'") as usize
}

#[test]
fn a_failing_lookup_never_counts_as_absent() {
    for failure in ["html", "error"] {
        let env = Env::new(clean(0, 15, 10), Tool::default()).in_process();
        let unknown = push_with_every_answer_lost(&env);
        assert!(unknown > 10);
        env.sandbox()
            .set_faults(format!("luca.lookup_fail={failure}").parse().unwrap());
        let creates = hits(&env.stats(), CREATE);
        let (code, run) = env.run_json(&["products", "push"]);
        assert_ne!(code, 0, "{failure}: {run}");
        assert_eq!(
            hits(&env.stats(), CREATE),
            creates,
            "{failure}: a create was sent"
        );
        assert_eq!(
            env.count("SELECT count(*) FROM outbox WHERE state = 'unknown'") as usize,
            unknown
        );
        env.sandbox().set_faults(Default::default());
        assert_eq!(env.run_json(&["products", "push"]).0, 0);
        assert_each_card_once(&env);
        assert_eq!(
            hits(&env.stats(), CREATE),
            creates,
            "{failure}: all adopted"
        );
    }
}

#[test]
fn a_lookup_that_times_out_sends_nothing() {
    let env = Env::new(
        clean(0, 6, 10),
        Tool {
            sessions: 1,
            luca_timeout_secs: 1,
            ..Tool::default()
        },
    )
    .in_process();
    push_with_every_answer_lost(&env);
    env.sandbox()
        .set_faults("luca.lookup_fail=timeout".parse().unwrap());
    let creates = hits(&env.stats(), CREATE);
    let started = Instant::now();
    let (code, run) = env.run_json(&["products", "push"]);
    assert_eq!(code, 69, "Luca unavailable: {run}");
    assert_eq!(hits(&env.stats(), CREATE), creates);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn expiring_sessions_are_logged_in_again_without_duplicates() {
    expiring_sessions("luca.expire_every=7");
}

#[test]
fn expiring_sessions_with_one_session_per_user_give_no_duplicates() {
    expiring_sessions("luca.expire_every=7,luca.single_login=1");
}

fn expiring_sessions(faults: &str) {
    let opts = SandboxOptions {
        faults: faults.parse().unwrap(),
        ..clean(0, 60, 10)
    };
    let env = Env::new(opts, Tool::default()).in_process();
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    // An expiry answered with an HTML page leaves that create's outcome unknown: the
    // next run looks it up first. Sessions keep expiring every 7 calls, so it can take
    // a few runs to settle; none may create a card twice.
    let mut runs = Vec::new();
    loop {
        let (code, run) = env.run_json(&["products", "push"]);
        assert!(code == 0 || code == 1, "{run}");
        runs.push(code);
        if code == 0 || runs.len() == 6 {
            break;
        }
    }
    assert_eq!(runs.last(), Some(&0), "settled within six runs: {runs:?}");
    assert_each_card_once(&env);
    let stats = env.stats();
    assert!(stats.luca.session_expiries > 0);
    assert!(
        stats.luca.logins > 4,
        "logged in again: {}",
        stats.luca.logins
    );
    assert_eq!(stats.luca.duplicate_creates.stock_card, 0);
}

#[test]
fn cards_made_by_a_person_are_adopted_not_rewritten() {
    let env = Env::new(
        SandboxOptions {
            bad_records: false,
            ..SandboxOptions::default()
        },
        Tool::default(),
    )
    .in_process();
    let seeded: Vec<(String, i64, String)> = env.sandbox().with_luca(|l| {
        l.branches[&1]
            .stock_cards
            .iter()
            .map(|c| (c.kart_kodu.clone(), c.skart_id, c.kart_adi.clone()))
            .collect()
    });
    assert_eq!(env.run_json(&["products", "pull", "--from", "katana"]).0, 0);
    // No pull from Luca: the push meets "Kart kodu daha önce kullanılmış" and adopts.
    let (code, run) = env.run_json(&["products", "push"]);
    assert_eq!(code, 0, "{run}");
    let skus = eligible_skus(&env);
    let mut adopted = 0;
    for (code, id, name) in &seeded {
        if !skus.contains(code) {
            continue;
        }
        adopted += 1;
        let (stored, source): (i64, String) = env
            .store()
            .query_row(
                "SELECT skart_id, source FROM luca_stock_cards WHERE sku = ?1",
                [code],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((stored, source.as_str()), (*id, "adopted"), "{code}");
        let now = env
            .sandbox()
            .with_luca(|l| l.stock_cards_with_code(1, code)[0].kart_adi.clone());
        assert_eq!(&now, name, "a person's card is never rewritten");
    }
    assert_eq!(adopted, 5);
    assert_eq!(run["updated"], 5, "{run}");
    assert_each_card_once(&env);
}

#[test]
fn turkish_names_arrive_byte_exact_in_both_charsets() {
    for charset in ["utf-8", "windows-1254"] {
        let env = Env::new(
            clean(0, 40, 10),
            Tool {
                charset,
                ..Tool::default()
            },
        )
        .in_process();
        assert_eq!(env.run_json(&["products", "pull", "--from", "katana"]).0, 0);
        assert_eq!(env.run_json(&["products", "push"]).0, 0, "{charset}");
        let expected: Vec<(String, String)> = {
            let c = env.store();
            let mut stmt = c
                .prepare(
                    "SELECT v.sku, p.name, v.option_values FROM variants v JOIN products p ON p.id = v.product_id
                     WHERE v.deleted_at IS NULL AND v.sku IS NOT NULL",
                )
                .unwrap();
            stmt.query_map([], |r| {
                let options: Vec<String> = serde_json::from_str(&r.get::<_, String>(2)?).unwrap();
                Ok((
                    r.get(0)?,
                    katana_sync::sync::identity::card_name(&r.get::<_, String>(1)?, &options),
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
        };
        let mut turkish = 0;
        for (sku, name) in expected {
            let stored = env.sandbox().with_luca(|l| {
                l.stock_cards_with_code(1, &sku).first().map(|c| {
                    (
                        c.kart_adi.clone(),
                        c.origin == katana_sync::sandbox::ledger::Origin::Seed,
                    )
                })
            });
            let (stored, by_a_person) = stored.expect("a card");
            if by_a_person {
                continue;
            }
            assert_eq!(stored, name, "{charset} {sku}");
            if name.chars().any(|c| "ÇĞİÖŞÜçğıöşü".contains(c)) {
                turkish += 1;
            }
        }
        assert!(
            turkish > 10,
            "{charset}: only {turkish} names with Turkish letters"
        );
    }
}

#[test]
fn delete_sku_uses_the_stored_id_or_one_lookup() {
    let env = Env::new(
        SandboxOptions {
            bad_records: false,
            ..SandboxOptions::default()
        },
        Tool::default(),
    )
    .in_process();
    assert_eq!(env.run_json(&["products", "pull", "--from", "katana"]).0, 0);
    assert_eq!(env.run_json(&["products", "push"]).0, 0);
    // A card the tool created (the person-made ones sit on an opening slip, and Luca
    // refuses to delete a card with movements).
    let pushed = |env: &Env| -> Vec<String> {
        let c = env.store();
        let mut stmt = c
            .prepare("SELECT sku FROM luca_stock_cards WHERE source = 'push' ORDER BY sku")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let mapped = pushed(&env).pop().unwrap();

    env.sandbox().reset_stats();
    let (code, out) = env.run_json(&["delete-sku", &mapped, "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["lookup"], "store");
    assert_eq!(out["deleted"], true);
    assert!(out["elapsed_ms"].is_u64() && out["luca_id"].is_i64());
    let stats = env.stats();
    assert_eq!((hits(&stats, DELETE), hits(&stats, LIST)), (1, 0));
    assert_eq!(cards_with_code(&env, &mapped), 0);

    // A card the store does not map: one lookup by code, whose id is then stored.
    let unmapped = pushed(&env).pop().unwrap();
    rusqlite::Connection::open(env.db())
        .unwrap()
        .execute("DELETE FROM luca_stock_cards WHERE sku = ?1", [&unmapped])
        .unwrap();
    env.sandbox().reset_stats();
    let (code, out) = env.run_json(&["delete-sku", &unmapped, "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["lookup"], "luca");
    let stats = env.stats();
    assert_eq!((hits(&stats, DELETE), hits(&stats, LIST)), (1, 1));

    // Dry run: looked up, not deleted.
    let other = pushed(&env).remove(0);
    let (code, out) = env.run_json(&["delete-sku", &other, "--dry-run"]);
    assert_eq!((code, out["deleted"].as_bool()), (0, Some(false)), "{out}");
    assert_eq!(cards_with_code(&env, &other), 1);

    // No such card: a clear error, non-zero.
    let out = env.run(&["delete-sku", "NO-SUCH-SKU", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("no stock card"),
        "{}",
        common::stderr(&out)
    );

    // Text output names the method and the time.
    let out = env.run(&["delete-sku", &other, "--yes"]);
    let text = common::stdout(&out);
    assert!(text.contains("store") && text.contains(" ms"), "{text}");
}

#[test]
fn dry_run_plans_and_writes_nothing() {
    let env = Env::new(clean(0, 10, 10), Tool::default()).in_process();
    assert_eq!(env.run_json(&["products", "pull", "--from", "katana"]).0, 0);
    let (code, run) = env.run_json(&["products", "push", "--dry-run"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["status"], "dry_run");
    let planned = run["planned"].as_array().unwrap();
    assert_eq!(planned.len(), eligible_skus(&env).len());
    assert_eq!(planned[0]["action"], "create");
    assert!(planned[0]["payload"]["kartAdi"].is_string());
    assert_eq!(env.stats().luca.creates.stock_card, 0);
    assert_eq!(env.count("SELECT count(*) FROM outbox"), 0);
    assert_eq!(
        env.count(
            "SELECT count(*) FROM runs WHERE status = 'dry_run' AND sync_type = 'products_push'"
        ),
        1
    );
}

#[test]
fn a_name_luca_cannot_store_holds_the_card_back_until_fixed() {
    let env = Env::new(
        clean(0, 5, 5),
        Tool {
            charset: "windows-1254",
            ..Tool::default()
        },
    )
    .in_process();
    let product = env.sandbox().with_katana(|k| {
        let p = k.create_product("Łańcuch Dişli", "pcs");
        k.create_variant(p, Some("LZD-01"), rust_decimal::Decimal::new(4500, 2), &[]);
        p
    });
    assert_eq!(env.run_json(&["products", "pull"]).0, 0);
    let (code, run) = env.run_json(&["products", "push"]);
    assert_eq!(code, 1, "{run}");
    let reason = run["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "LZD-01")
        .map(|e| e["reason"].as_str().unwrap().to_string())
        .expect("LZD-01 held back");
    assert!(
        reason.contains("windows-1254") && reason.contains("Ł"),
        "{reason}"
    );
    assert_eq!(cards_with_code(&env, "LZD-01"), 0, "nothing sent");
    assert!(
        run["created"].as_u64().unwrap() > 0,
        "the others went through"
    );

    env.sandbox().with_katana(|k| {
        k.edit::<katana_sync::sandbox::model::Product>(product, |p| p.name = "Zincir Dişli".into());
    });
    assert_eq!(env.run_json(&["products", "pull", "--from", "katana"]).0, 0);
    assert_eq!(env.run_json(&["products", "push"]).0, 0);
    assert_eq!(cards_with_code(&env, "LZD-01"), 1);
}

fn unmapped_skus(env: &Env) -> Vec<String> {
    let c = env.store();
    let mut stmt = c
        .prepare(
            "SELECT DISTINCT sku FROM variants WHERE deleted_at IS NULL AND sku IS NOT NULL
               AND sku NOT IN (SELECT sku FROM luca_stock_cards WHERE skart_id IS NOT NULL)
             ORDER BY sku",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn pull_from_luca_maps_cards_by_code_ranges_and_distrusts_an_incomplete_range() {
    // A catalogue maps in one range lookup per 200 SKUs: no call per SKU, no listing of
    // everything.
    let env = Env::new(clean(0, 100, 5), Tool::default()).in_process();
    assert_eq!(env.run_json(&["products", "pull", "--from", "katana"]).0, 0);
    let unmapped = unmapped_skus(&env).len();
    assert!(unmapped > 200, "more than one batch: {unmapped}");
    env.sandbox().reset_stats();
    let (code, run) = env.run_json(&["products", "pull", "--from", "luca"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(hits(&env.stats(), LIST) as usize, unmapped.div_ceil(200));
    assert_eq!(
        env.stats().katana.total,
        0,
        "--from luca never talks to Katana"
    );
    let adopted = env.count(
        "SELECT count(*) FROM luca_stock_cards WHERE source = 'pull' AND skart_id IS NOT NULL",
    );
    assert!(adopted >= 1, "the cards made by a person are mapped");
    // Luca's names never overwrite the store's Katana data.
    assert_eq!(
        env.count("SELECT count(*) FROM products WHERE name = upper(name)"),
        0
    );

    // A range answer without a card the store maps in that range is not trusted.
    let left = unmapped_skus(&env);
    assert!(left.len() >= 2);
    {
        let c = rusqlite::Connection::open(env.db()).unwrap();
        c.execute(
            "INSERT INTO luca_stock_cards (sku, skart_id, source, seen_at) VALUES (?1, 999999, 'push', 'x')",
            [format!("{}0", left[0])],
        )
        .unwrap();
    }
    let out = env.run(&["products", "pull", "--from", "luca"]);
    assert_eq!(out.status.code(), Some(69), "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("incomplete"));
    assert_eq!(unmapped_skus(&env), left, "nothing was changed");
}
