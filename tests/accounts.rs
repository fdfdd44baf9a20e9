//! Customer, supplier and warehouse accounts in the sandbox's Luca, through the real
//! binary: matched by code and tax number, created exactly once under kill -9 and lost
//! answers, findings instead of guesses, warehouses through `[mapping.warehouses]`.

mod common;

use std::collections::BTreeMap;

use common::{Env, Tool, clean, hits};
use katana_sync::sandbox::SandboxOptions;
use katana_sync::sandbox::model::Customer;
use serde_json::{Value, json};

const CREATE: &str = "POST /Yetki/EkleFinMusteriWS.do";

/// Luca's accounts (branch 1) with this code.
fn caris_with_code(env: &Env, supplier: bool, code: &str) -> usize {
    env.sandbox().with_luca(|l| {
        let b = &l.branches[&1];
        let list = if supplier { &b.suppliers } else { &b.customers };
        list.iter().filter(|c| c.kod == code).count()
    })
}

/// The store's account map: Katana id → cari code.
fn mapped(env: &Env, kind: &str) -> BTreeMap<i64, String> {
    let c = env.store();
    let mut stmt = c
        .prepare(
            "SELECT katana_id, code FROM luca_accounts WHERE kind = ?1 AND katana_id IS NOT NULL",
        )
        .unwrap();
    stmt.query_map([kind], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn live(env: &Env, kind: &str) -> Vec<i64> {
    let c = env.store();
    let mut stmt = c
        .prepare("SELECT id FROM partners WHERE kind = ?1 AND deleted_at IS NULL ORDER BY id")
        .unwrap();
    stmt.query_map([kind], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Every live record (but `except`) has exactly one account in Luca, the one the store
/// maps, and no second one under the tool's own code. Returns how many were adopted
/// under another code.
fn assert_each_account_once(env: &Env, kind: &str, prefix: &str, except: &[i64]) -> usize {
    let supplier = kind == "supplier";
    let map = mapped(env, kind);
    let mut other_code = 0;
    for id in live(env, kind)
        .into_iter()
        .filter(|id| !except.contains(id))
    {
        let own = format!("{prefix}{id:08}");
        let code = map
            .get(&id)
            .unwrap_or_else(|| panic!("{kind} {id} has no account in the store"));
        assert_eq!(
            caris_with_code(env, supplier, code),
            1,
            "{kind} {id}: {code}"
        );
        if *code != own {
            other_code += 1;
            assert_eq!(
                caris_with_code(env, supplier, &own),
                0,
                "{kind} {id}: {own}"
            );
        }
    }
    other_code
}

fn errors(run: &Value) -> Vec<(String, String, String)> {
    run["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["entity"].as_str().unwrap().to_string(),
                e["key"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn accounts_in_luca_are_adopted_by_code_and_tax_number_and_a_rerun_creates_nothing() {
    let env = Env::new(clean(0, 2, 40), Tool::default()).in_process();
    // Only the Katana half first: the push matches Luca's accounts itself.
    assert_eq!(
        env.run_json(&["customers", "pull", "--from", "katana"]).0,
        0
    );
    let customers = live(&env, "customer").len();
    let (code, run) = env.run_json(&["customers", "push"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["sync_type"], "customers_push");
    assert_eq!(
        run["updated"], 2,
        "one adopted by code, one by tax number: {run}"
    );
    assert_eq!(run["created"].as_u64().unwrap() as usize, customers - 2);
    assert_eq!(assert_each_account_once(&env, "customer", "K", &[]), 1);
    // The account adopted by tax number keeps its own code, for invoices too.
    assert!(mapped(&env, "customer").values().any(|c| c == "120.00017"));
    assert_eq!(env.stats().luca.duplicate_creates.customer, 0);

    // A rerun creates nothing and does not even ask Luca.
    env.sandbox().reset_stats();
    let (code, again) = env.run_json(&["customers", "push"]);
    assert_eq!(code, 0, "{again}");
    assert_eq!(again["created"], 0);
    assert_eq!(env.stats().luca.total, 0, "{:?}", env.stats().requests);
    // And a full pull (Katana and Luca) finds every account where the store has it.
    let (code, pulled) = env.run_json(&["customers", "pull"]);
    assert_eq!(code, 0, "{pulled}");
    assert_eq!(hits(&env.stats(), CREATE), 0);

    // Suppliers: the same, with their own prefix and ledger.
    assert_eq!(env.run_json(&["suppliers", "pull"]).0, 0);
    let (code, run) = env.run_json(&["suppliers", "push"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["updated"], 0, "adopted by the pull already: {run}");
    assert_eq!(assert_each_account_once(&env, "supplier", "T", &[]), 0);
    let (code, again) = env.run_json(&["suppliers", "push"]);
    assert_eq!((code, again["created"].as_u64()), (0, Some(0)), "{again}");
    assert_eq!(env.stats().luca.duplicate_creates.supplier, 0);
    // What a created account carries, as Luca stored it.
    let (company, person) = env.sandbox().with_luca(|l| {
        let api: Vec<_> = l.branches[&1]
            .customers
            .iter()
            .filter(|c| c.raw.is_some())
            .collect();
        (
            api.iter()
                .find(|c| c.tip == 1)
                .map(|c| c.raw.clone().unwrap()),
            api.iter()
                .find(|c| c.tip == 2)
                .map(|c| c.raw.clone().unwrap()),
        )
    });
    let company: Value = serde_json::from_str(&company.unwrap()).unwrap();
    assert_eq!(company["kategoriKod"], "120.01");
    assert!(company["kartKod"].as_str().unwrap().starts_with('K'));
    for key in [
        "tanim",
        "kisaAd",
        "yasalUnvan",
        "paraBirimKod",
        "iletisimTanim",
    ] {
        assert!(company.get(key).is_some(), "{key}: {company}");
    }
    let person: Value = serde_json::from_str(&person.unwrap()).unwrap();
    assert!(
        person.get("ad").is_some() && person.get("soyad").is_some(),
        "{person}"
    );

    // A second account appears under the tool's own code of the customer adopted by tax
    // number: the next pull says so, and nothing is created.
    let (&adopted, _) = mapped(&env, "customer")
        .iter()
        .find(|(_, c)| *c == "120.00017")
        .unwrap();
    let own = format!("K{adopted:08}");
    env.sandbox().with_luca(|l| {
        let katana_sync::sandbox::ledger::LucaData { branches, ids } = l;
        let body = json!({"tip": 1, "kartKod": own, "tanim": "Elle Açılmış Cari"});
        assert!(
            branches
                .get_mut(&1)
                .unwrap()
                .create_cari(ids, false, &body, "")
                .stored
        );
    });
    let (code, run) = env.run_json(&["customers", "pull"]);
    assert_eq!(code, 1, "{run}");
    let errs = errors(&run);
    assert_eq!(errs.len(), 1, "{run}");
    assert!(
        errs[0].2.contains("120.00017") && errs[0].2.contains(&own),
        "{run}"
    );
}

#[test]
fn kill_9_at_twenty_moments_and_lost_answers_leave_one_account_per_customer() {
    let opts = SandboxOptions {
        latency_ms: 10,
        ..clean(0, 2, 600)
    };
    let env = Env::new(
        opts,
        Tool {
            sessions: 2,
            ..Tool::default()
        },
    )
    .in_process();
    assert_eq!(env.run_json(&["customers", "pull"]).0, 0);
    let mut kills = Vec::new();
    let mut i = 0u64;
    while kills.len() < 24 && i < 60 {
        let target = 1 + (i * 7) % 23;
        let before = env.stats().luca.creates.customer;
        let killed =
            env.kill_after_creates(&["customers", "push"], target, |s| s.luca.creates.customer);
        if !killed {
            break;
        }
        kills.push(env.stats().luca.creates.customer - before);
        i += 1;
    }
    let by_killed = env.stats().luca.creates.customer;
    // The last runs lose 10 % of their answers: each such account exists in Luca but
    // the tool never heard so.
    env.sandbox().set_faults("luca.lost=0.1".parse().unwrap());
    let (code, run) = env.run_json(&["customers", "push"]);
    let lost = env.stats().luca.lost_responses;
    assert!(code == 0 || code == 1, "{run}");
    assert_eq!(
        run["unknown_outcomes"].as_u64().unwrap_or(0),
        lost,
        "each lost answer is an unknown outcome, never a resend: {run}"
    );
    env.sandbox().set_faults("".parse().unwrap());
    let (code, last) = env.run_json(&["customers", "push"]);
    assert_eq!(code, 0, "{last}");
    assert_eq!(last["created"], 0, "{last}");
    assert_each_account_once(&env, "customer", "K", &[]);
    let stats = env.stats();
    assert_eq!(stats.luca.duplicate_creates.customer, 0);
    assert_eq!(
        env.count("SELECT count(*) FROM outbox WHERE kind = 'customer' AND state <> 'done'"),
        0
    );
    assert_eq!(common::integrity(&env.db()), "ok");
    assert!(
        kills.len() >= 20,
        "only {} kills landed mid-push",
        kills.len()
    );
    assert!(lost > 0, "some answers were lost");
    eprintln!(
        "customers kill -9 sweep: {} kills mid-push (accounts created by each killed run: \
         {kills:?}); {by_killed} accounts created by the killed runs, {} by the last two; \
         {lost} answers lost, adopted by lookup; {} customers, duplicate accounts 0, \
         duplicate create attempts {}",
        kills.len(),
        stats.luca.creates.customer - by_killed,
        live(&env, "customer").len(),
        stats.luca.duplicate_creates.customer
    );
}

#[test]
fn a_malformed_tax_number_is_held_back_and_the_rest_are_created() {
    let env = Env::new(clean(0, 2, 20), Tool::default()).in_process();
    let ids: Vec<i64> = env.sandbox().with_katana(|k| {
        let ids: Vec<i64> = k.customers.keys().copied().rev().take(2).collect();
        k.edit::<Customer>(ids[0], |c| c.reference_id = Some("VKN:12345".into()));
        // 11 digits whose check digits do not match: not a TCKN.
        k.edit::<Customer>(ids[1], |c| c.reference_id = Some("TCKN:12345678901".into()));
        ids
    });
    assert_eq!(env.run_json(&["customers", "pull"]).0, 0);
    let (code, run) = env.run_json(&["customers", "push"]);
    assert_eq!(code, 1, "{run}");
    let errs = errors(&run);
    assert_eq!(errs.len(), 2, "{run}");
    for id in &ids {
        let key = format!("K{id:08}");
        let (_, _, reason) = errs.iter().find(|e| e.1 == key).expect("listed");
        assert!(reason.contains("tax number") && reason.contains("correct it in Katana"));
        assert_eq!(caris_with_code(&env, false, &key), 0);
    }
    assert_each_account_once(&env, "customer", "K", &ids);
    assert_eq!(
        env.count(
            "SELECT count(*) FROM quarantine WHERE entity = 'customer' AND resolved_at IS NULL"
        ),
        2
    );
    // Fixed in Katana, they are created by the next pull and push.
    env.sandbox().with_katana(|k| {
        k.edit::<Customer>(ids[0], |c| c.reference_id = Some("VKN:1234567890".into()));
        k.edit::<Customer>(ids[1], |c| c.reference_id = None);
    });
    assert_eq!(env.run_json(&["customers", "pull"]).0, 0);
    let (code, run) = env.run_json(&["customers", "push"]);
    assert_eq!((code, run["created"].as_u64()), (0, Some(2)), "{run}");
    assert_each_account_once(&env, "customer", "K", &[]);
    assert_eq!(
        env.count(
            "SELECT count(*) FROM quarantine WHERE entity = 'customer' AND resolved_at IS NULL"
        ),
        0
    );
}

#[test]
fn several_accounts_for_one_customer_or_one_for_several_are_findings_never_guesses() {
    let env = Env::new(clean(0, 2, 20), Tool::default()).in_process();
    assert_eq!(
        env.run_json(&["customers", "pull", "--from", "katana"]).0,
        0
    );
    // The seeded account K<id> carries its customer's tax number; a person adds a second
    // account with that number. Two customers share a VKN that one account carries.
    let (by_code, shared) = env.sandbox().with_katana(|k| {
        let with_tax = k
            .customers
            .values()
            .find(|c| c.reference_id.is_some())
            .map(|c| (c.id, c.reference_id.clone().unwrap()))
            .unwrap();
        let plain: Vec<i64> = k
            .customers
            .values()
            .filter(|c| c.reference_id.is_none())
            .map(|c| c.id)
            .take(2)
            .collect();
        let shared: Vec<i64> = if plain.len() == 2 {
            plain
        } else {
            k.customers.keys().copied().rev().take(2).collect()
        };
        for id in &shared {
            k.edit::<Customer>(*id, |c| c.reference_id = Some("VKN:9876543210".into()));
        }
        (with_tax, shared)
    });
    let number = by_code.1.split_once(':').unwrap().1.to_string();
    env.sandbox().with_luca(|l| {
        let katana_sync::sandbox::ledger::LucaData { branches, ids } = l;
        let b = branches.get_mut(&1).unwrap();
        for (kod, vergi) in [("120.00099", number.as_str()), ("120.00098", "9876543210")] {
            let tax = if vergi.len() == 10 {
                "vergiNo"
            } else {
                "tcKimlikNo"
            };
            let body = json!({"tip": 1, "kartKod": kod, "tanim": "Elle Açılmış Cari", tax: vergi});
            assert!(b.create_cari(ids, false, &body, "").stored);
        }
    });
    let creates_before = env.stats().luca.creates.customer;
    let (code, run) = env.run_json(&["customers", "pull"]);
    assert_eq!(code, 1, "{run}");
    let errs = errors(&run);
    let own = format!("K{:08}", by_code.0);
    let two = errs
        .iter()
        .find(|e| e.1 == own)
        .expect("finding for the customer");
    assert!(
        two.2.contains("2 Luca accounts match") && two.2.contains("120.00099"),
        "{two:?}"
    );
    for id in &shared {
        let key = format!("K{id:08}");
        let f = errs
            .iter()
            .find(|e| e.1 == key)
            .expect("finding for each sharer");
        assert!(f.2.contains("120.00098") && f.2.contains("also"), "{f:?}");
    }
    // The push creates none of them, and says why; the others get their account.
    let (code, run) = env.run_json(&["customers", "push"]);
    assert_eq!(code, 1, "{run}");
    assert_eq!(errors(&run).len(), 3, "{run}");
    assert_eq!(caris_with_code(&env, false, &own), 1, "the seeded one only");
    for id in &shared {
        assert_eq!(caris_with_code(&env, false, &format!("K{id:08}")), 0);
    }
    let mut held = shared.clone();
    held.push(by_code.0);
    for id in &held {
        assert!(!mapped(&env, "customer").contains_key(id), "{id} guessed");
    }
    assert_each_account_once(&env, "customer", "K", &held);
    assert_eq!(
        env.stats().luca.creates.customer - creates_before,
        run["created"].as_u64().unwrap()
    );
}

#[test]
fn an_unmapped_location_is_reported_with_its_fix_and_gets_nothing() {
    let env = Env::new(clean(0, 2, 5), Tool::default()).in_process();
    let (code, run) = env.run_json(&["warehouses", "pull"]);
    assert_eq!(code, 1, "{run}");
    let errs = errors(&run);
    let (_, _, reason) = errs
        .iter()
        .find(|e| e.0 == "location" && e.1 == "1003")
        .expect("location 1003 reported");
    assert!(
        reason.contains("\"1003\" = \"<depoKodu>\"") && reason.contains("[mapping.warehouses]"),
        "{reason}"
    );
    let (code, run) = env.run_json(&["warehouses", "push"]);
    assert_eq!(code, 1, "{run}");
    assert_eq!(env.stats().luca.creates.warehouse, 0);
    assert_eq!(env.stats().luca.duplicate_creates.warehouse, 0);
    assert_eq!(
        env.count("SELECT count(*) FROM luca_warehouses WHERE code IN ('001', '002') AND depo_id IS NOT NULL"),
        2
    );

    // With its line added, the push creates the depo once; a rerun creates nothing.
    env.write_config(&Tool {
        extra: "\"1003\" = \"003\"",
        ..Tool::default()
    });
    let (code, run) = env.run_json(&["warehouses", "push", "--dry-run"]);
    assert_eq!(code, 0, "{run}");
    let planned = run["planned"].as_array().unwrap();
    assert_eq!(planned.len(), 1, "{run}");
    assert_eq!(planned[0]["key"], "003");
    assert_eq!(planned[0]["payload"]["tanim"], "Ankara Showroom");
    let (code, run) = env.run_json(&["warehouses", "push"]);
    assert_eq!((code, run["created"].as_u64()), (0, Some(1)), "{run}");
    let (code, run) = env.run_json(&["warehouses", "push"]);
    assert_eq!((code, run["created"].as_u64()), (0, Some(0)), "{run}");
    assert_eq!(env.stats().luca.creates.warehouse, 1);
    assert_eq!(
        env.count(
            "SELECT count(*) FROM luca_warehouses WHERE code = '003' AND depo_id IS NOT NULL"
        ),
        1
    );
    assert_eq!(env.run_json(&["warehouses", "pull"]).0, 0);
}

#[test]
fn dry_run_lists_the_accounts_it_would_create_and_history_records_the_pushes() {
    let env = Env::new(clean(0, 2, 12), Tool::default()).in_process();
    assert_eq!(
        env.run_json(&["customers", "pull", "--from", "katana"]).0,
        0
    );
    let customers = live(&env, "customer").len();
    let (code, run) = env.run_json(&["customers", "push", "--dry-run"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["status"], "dry_run");
    let planned = run["planned"].as_array().unwrap();
    let count = |action: &str| {
        planned
            .iter()
            .filter(|p| p["action"] == action && p["kind"] == "customer")
            .count()
    };
    assert_eq!(count("adopt"), 2, "{run}");
    assert_eq!(count("create"), customers - 2, "{run}");
    assert!(
        planned
            .iter()
            .filter(|p| p["action"] == "create")
            .all(|p| p["payload"]["kartKod"] == p["key"])
    );
    assert_eq!(env.stats().luca.creates.customer, 0);
    assert_eq!(env.count("SELECT count(*) FROM luca_accounts"), 0);
    assert_eq!(env.count("SELECT count(*) FROM outbox"), 0);
    let out = env.run(&["customers", "push", "--dry-run"]);
    let text = common::stdout(&out);
    let first = planned.iter().find(|p| p["action"] == "create").unwrap();
    assert!(text.contains(first["key"].as_str().unwrap()), "{text}");

    let (code, real) = env.run_json(&["customers", "push"]);
    assert_eq!(code, 0, "{real}");
    for key in [
        "run_id",
        "started_at",
        "finished_at",
        "processed",
        "created",
        "updated",
        "skipped",
        "failed",
    ] {
        assert!(real.get(key).is_some(), "{key}: {real}");
    }
    assert!(real["requests"]["luca"].as_u64().unwrap() > 0);
    let (code, history) = env.run_json(&["history", "--type", "customers_push"]);
    assert_eq!(code, 0);
    let runs = history["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3, "{history}");
    assert!(runs.iter().all(|r| r["sync_type"] == "customers_push"));
    assert_eq!(runs[0]["status"], "ok");
    assert_eq!(runs[0]["run_id"], real["run_id"]);
    assert_eq!(runs[0]["created"], real["created"]);
    assert_eq!(runs[1]["status"], "dry_run");
    let out = env.run(&["history", "--type", "customers_push"]);
    assert!(common::stdout(&out).contains("customers_push"));
}

#[test]
fn push_by_id_creates_only_those_and_names_an_unknown_id() {
    let env = Env::new(clean(0, 2, 12), Tool::default()).in_process();
    assert_eq!(env.run_json(&["customers", "pull"]).0, 0);
    let unmapped: Vec<i64> = {
        let map = mapped(&env, "customer");
        live(&env, "customer")
            .into_iter()
            .filter(|id| !map.contains_key(id))
            .collect()
    };
    let id = unmapped[0].to_string();
    let (code, run) = env.run_json(&["customers", "push", "--id", &id]);
    assert_eq!((code, run["created"].as_u64()), (0, Some(1)), "{run}");
    assert_eq!(env.stats().luca.creates.customer, 1);
    assert_eq!(
        mapped(&env, "customer").len(),
        3,
        "two adopted, one created"
    );
    let (code, run) = env.run_json(&["customers", "push", "--id", "99999999"]);
    assert_eq!(code, 1, "{run}");
    assert!(
        errors(&run)[0].2.contains("no live Katana customer"),
        "{run}"
    );
    assert_eq!(env.stats().luca.creates.customer, 1);
}
