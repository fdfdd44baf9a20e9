//! Customer and supplier accounts (cari) in Luca: the Luca half of `customers pull` /
//! `suppliers pull` (existing accounts matched to Katana records, by code then by tax
//! number, into the store's map) and `customers push` / `suppliers push` (the account
//! of every record that has none, through the exactly-once pipeline).
//!
//! Luca stores a second account with the same code without a word, so nothing here
//! guesses: two accounts that match one record, or one account that matches two
//! records, is a finding for a person, and that record gets no account from the tool.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;
use serde_json::{Value, json};

use super::identity::cari_code;
use super::push::{self, Item, Kind, Lookup};
use crate::context::Ctx;
use crate::entity::Entity;
use crate::luca::accounts::{self, Account, Ledger};
use crate::luca::{self, LucaClient};
use crate::report::{Action, Planned, Tally};
use crate::store::luca_ids::{self, AccountKind, Partner, Source};
use crate::store::{outbox, quarantine};

/// The push kind of one ledger: accounts are looked up by code before their first
/// create, since Luca accepts a duplicate.
pub struct Accounts {
    kind: AccountKind,
    ledger: Ledger,
    prefix: String,
}

impl Accounts {
    pub fn new(ctx: &Ctx, kind: AccountKind) -> Self {
        let m = &ctx.config.mapping;
        let (ledger, prefix) = match kind {
            AccountKind::Customer => (accounts::CUSTOMERS, &m.customer_code_prefix),
            AccountKind::Supplier => (accounts::SUPPLIERS, &m.supplier_code_prefix),
        };
        Accounts {
            kind,
            ledger,
            prefix: prefix.clone(),
        }
    }

    fn code(&self, katana_id: i64) -> String {
        cari_code(&self.prefix, katana_id)
    }

    /// The Katana id behind a code of the tool's own scheme.
    fn katana_id(&self, code: &str) -> Option<i64> {
        code.strip_prefix(&self.prefix)?.parse().ok()
    }
}

impl Kind for Accounts {
    fn name(&self) -> Entity {
        self.kind.entity()
    }

    fn endpoint(&self) -> &'static str {
        self.ledger.create
    }

    fn look_before_first_create(&self) -> bool {
        true
    }

    async fn lookup(&self, luca: &LucaClient, key: &str) -> Result<Lookup, luca::Error> {
        let found = accounts::with_code(luca, self.ledger, key).await?;
        match found.as_slice() {
            [] => Ok(Lookup::Absent),
            [one] => Ok(Lookup::Found(one.id)),
            // Adopting one of them would be a guess, and creating another a third copy.
            several => Err(luca::Error::Refused {
                endpoint: self.ledger.list.to_string(),
                message: format!(
                    "{} accounts carry the code {key} ({}); keep one in Luca (the others \
                     deactivated or recoded), then run the pass again",
                    several.len(),
                    ids(&several.iter().collect::<Vec<_>>())
                ),
            }),
        }
    }

    fn created_id(&self, answer: &Value) -> Option<i64> {
        accounts::created_id(answer)
    }

    fn record(
        &self,
        conn: &Connection,
        key: &str,
        id: Option<i64>,
        adopted: bool,
    ) -> anyhow::Result<()> {
        luca_ids::map_account(
            conn,
            self.kind,
            key,
            id,
            self.katana_id(key),
            Source::settled(adopted),
            &crate::store::now(),
        )
    }
}

fn ids(accounts: &[&Account]) -> String {
    accounts
        .iter()
        .map(|a| match a.id {
            Some(id) => format!("{} (id {id})", a.code),
            None => a.code.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A listing that lacks an object the store already maps looks incomplete (an expired
/// session's empty page, a truncated answer), and is never taken for the truth:
/// "absent" there would mean a second account or warehouse.
pub(super) fn check_complete(
    listed: &BTreeSet<&str>,
    mapped: Vec<String>,
    what: &str,
    endpoint: &str,
) -> anyhow::Result<()> {
    let missing: Vec<String> = mapped
        .into_iter()
        .filter(|c| !listed.contains(c.as_str()))
        .collect();
    match missing.first() {
        None => Ok(()),
        Some(first) => Err(crate::error::Error::Unavailable {
            remote: crate::error::Remote::Luca,
            detail: format!(
                "Luca's {what} ({endpoint}) lacks {} code(s) the store already maps (e.g. \
                 {first}); the listing looks incomplete, so nothing was changed. Run \
                 `doctor`, then try again",
                missing.len()
            ),
        }
        .into()),
    }
}

/// A tax number read from Katana: a VKN (10 digits) or a TCKN (11, with its check
/// digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaxId {
    Vkn(String),
    Tckn(String),
}

impl TaxId {
    pub fn digits(&self) -> &str {
        match self {
            TaxId::Vkn(d) | TaxId::Tckn(d) => d,
        }
    }
}

/// The tax number written in `reference_id` (else `comment`) as `VKN:1234567890`,
/// `TCKN:12345678901` or bare digits: `Ok(None)` when there is none, an error naming
/// the field when one is written but malformed (an account with a wrong tax number is
/// worse than none: it is held back).
pub fn tax_id(reference_id: Option<&str>, comment: Option<&str>) -> Result<Option<TaxId>, String> {
    for (field, text) in [("reference_id", reference_id), ("comment", comment)] {
        let Some(text) = text else { continue };
        let marked = ["TCKN", "VKN"].iter().find_map(|m| {
            // ASCII needles: a match starts and ends on a character boundary.
            let i = text
                .as_bytes()
                .windows(m.len())
                .position(|w| w.eq_ignore_ascii_case(m.as_bytes()))?;
            let rest = text.get(i + m.len()..)?;
            let rest = rest.trim_start_matches([':', ' ', '=', '-']);
            Some(
                rest.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>(),
            )
        });
        let digits = match marked {
            Some(d) => d,
            None => {
                let t = text.trim();
                if !(matches!(t.len(), 10 | 11) && t.chars().all(|c| c.is_ascii_digit())) {
                    continue;
                }
                t.to_string()
            }
        };
        return match digits.len() {
            10 => Ok(Some(TaxId::Vkn(digits))),
            11 if tckn_is_valid(&digits) => Ok(Some(TaxId::Tckn(digits))),
            11 => Err(format!(
                "its tax number {digits} (in Katana's {field}) is not a valid TCKN (the check \
                 digits do not match); correct it in Katana"
            )),
            n => Err(format!(
                "its tax number \"{}\" (in Katana's {field}) has {n} digits: a VKN has 10, a \
                 TCKN 11; correct it in Katana",
                text.trim()
            )),
        };
    }
    Ok(None)
}

/// The TCKN checks: 11 digits, the first not 0, the 10th and 11th check digits.
fn tckn_is_valid(digits: &str) -> bool {
    let d: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 11 || d[0] == 0 {
        return false;
    }
    let odd = d[0] + d[2] + d[4] + d[6] + d[8];
    let even = d[1] + d[3] + d[5] + d[7];
    let tenth = (odd * 7 + 100 - even) % 10;
    let eleventh = d[..10].iter().sum::<u32>() % 10;
    d[9] == tenth && d[10] == eleventh
}

fn trimmed(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The create body of a record's account (`EkleFinMusteriWS.do` / `EkleFinTedarikciWS.do`,
/// fields as in the Postman collection), or why it cannot have one yet.
fn body(category: &str, code: &str, p: &Partner) -> Result<Value, String> {
    if [&p.katana_name, &p.company, &p.first_name, &p.last_name]
        .iter()
        .all(|s| trimmed(s).is_none())
    {
        return Err("it has no name in Katana; give it one".into());
    }
    let tax = tax_id(p.reference_id.as_deref(), p.comment.as_deref())?;
    let name = p.name.trim();
    let person = trimmed(&p.company).is_none()
        && (trimmed(&p.first_name).is_some()
            || trimmed(&p.last_name).is_some()
            || matches!(tax, Some(TaxId::Tckn(_))));
    let mut b = json!({
        "tip": if person { 2 } else { 1 },
        "kartKod": code,
        "tanim": name,
        "kisaAd": name,
        "yasalUnvan": trimmed(&p.company).unwrap_or(name),
        "paraBirimKod": trimmed(&p.currency).unwrap_or("TRY"),
        "kategoriKod": category,
    });
    match &tax {
        Some(TaxId::Vkn(d)) => b["vergiNo"] = json!(d),
        Some(TaxId::Tckn(d)) => b["tcKimlikNo"] = json!(d),
        None => {}
    }
    if person {
        if let Some(first) = trimmed(&p.first_name) {
            b["ad"] = json!(first);
        }
        if let Some(last) = trimmed(&p.last_name) {
            b["soyad"] = json!(last);
        }
    }
    if let Some(address) = trimmed(&p.address) {
        // 9: the invoice address.
        b["adresTipId"] = json!(9);
        b["adresSerbest"] = json!(address);
        for (key, value) in [("ulke", &p.country), ("il", &p.city), ("ilce", &p.district)] {
            if let Some(v) = trimmed(value) {
                b[key] = json!(v);
            }
        }
    }
    if let Some(email) = trimmed(&p.email) {
        // 5: e-mail.
        b["iletisimTipId"] = json!(5);
        b["iletisimTanim"] = json!(email);
    }
    Ok(b)
}

/// The Luca half of `customers pull` / `suppliers pull`. Its findings are listed (the
/// run is partial) but the pass's records are the Katana ones its Katana half counted.
pub async fn pull(ctx: &Ctx, tally: &mut Tally, kind: AccountKind) -> anyhow::Result<()> {
    let r = reconcile(ctx, tally, &Accounts::new(ctx, kind)).await?;
    for (code, reason) in r.findings {
        tally.note(kind.entity(), code, reason);
    }
    if r.adopted > 0 {
        tally.say(format!(
            "{} existing Luca {} account(s) matched to Katana {}s (by code or tax number): \
             `{}s push` adopts them instead of creating new ones",
            r.adopted,
            kind.as_str(),
            kind.as_str(),
            kind.as_str()
        ));
    }
    Ok(())
}

/// What matching Luca's accounts to the Katana records found.
struct Reconciled {
    /// Records that match several accounts, or share one: no account from the tool.
    held: BTreeSet<i64>,
    /// (cari code, why) of each of them.
    findings: Vec<(String, String)>,
    /// Records newly mapped to their existing account.
    adopted: u64,
}

/// Reads every account of the ledger and maps the live Katana records that have none
/// yet to the one account matching them by code or by tax number.
async fn reconcile(ctx: &Ctx, tally: &mut Tally, kinds: &Accounts) -> anyhow::Result<Reconciled> {
    let kind = kinds.kind;
    let partners = luca_ids::live_partners(ctx.store.conn(), kind)?;
    let luca = ctx.luca().await?;
    push::learn_wrappers(ctx, luca)?;
    let listed = accounts::all(luca, kinds.ledger).await?;
    let codes: BTreeSet<&str> = listed.iter().map(|a| a.code.as_str()).collect();
    let mapped = luca_ids::mapped_accounts(ctx.store.conn(), kind)?;
    check_complete(
        &codes,
        mapped,
        &format!("{} listing", kind.as_str()),
        kinds.ledger.list,
    )?;
    let mut by_code: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut by_tax: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, a) in listed.iter().enumerate() {
        by_code.entry(a.code.as_str()).or_default().push(i);
        for t in &a.tax_nos {
            by_tax.entry(t.as_str()).or_default().push(i);
        }
    }
    // The accounts matching each record: its mapped one, else those with its code or
    // its tax number.
    let mut matches: Vec<(&Partner, Vec<usize>, Option<TaxId>)> = Vec::new();
    let mut claims: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    for p in &partners {
        let tax = tax_id(p.reference_id.as_deref(), p.comment.as_deref())
            .ok()
            .flatten();
        let own = kinds.code(p.id);
        let code = p.account.clone().unwrap_or_else(|| own.clone());
        let mut found: Vec<usize> = by_code.get(code.as_str()).cloned().unwrap_or_default();
        // An account under the tool's own code besides the one adopted under another
        // code is a second account (an interrupted create that landed late, a person).
        if code != own {
            found.extend(by_code.get(own.as_str()).into_iter().flatten());
        }
        if p.account.is_none()
            && let Some(t) = &tax
        {
            found.extend(by_tax.get(t.digits()).into_iter().flatten());
        }
        found.sort_unstable();
        found.dedup();
        for &i in &found {
            claims.entry(i).or_default().push(p.id);
        }
        matches.push((p, found, tax));
    }
    let mut held = BTreeSet::new();
    let mut findings = Vec::new();
    let mut adopt: Vec<(i64, &Account)> = Vec::new();
    let noun = kind.as_str();
    for (p, found, tax) in &matches {
        let code = p.account.clone().unwrap_or_else(|| kinds.code(p.id));
        let accounts: Vec<&Account> = found.iter().map(|&i| &listed[i]).collect();
        let shared: Vec<i64> = found
            .iter()
            .flat_map(|i| claims[i].iter().copied())
            .filter(|id| *id != p.id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if accounts.len() > 1 {
            held.insert(p.id);
            let tax = tax
                .as_ref()
                .map(|t| format!(" or its tax number {}", t.digits()))
                .unwrap_or_default();
            findings.push((
                code.clone(),
                format!(
                    "{} Luca accounts match Katana {noun} {} ({}) by its code {code}{tax}: {}; \
                     the tool picks none and creates none. Keep one in Luca (the others \
                     deactivated or recoded), then run `{noun}s pull` again",
                    accounts.len(),
                    p.id,
                    p.name,
                    ids(&accounts)
                ),
            ));
        } else if !shared.is_empty() {
            held.insert(p.id);
            let others = shared
                .iter()
                .map(|id| format!("{noun} {id}"))
                .collect::<Vec<_>>()
                .join(", ");
            findings.push((
                code.clone(),
                format!(
                    "the Luca account {} matches Katana {noun} {} ({}) and also {others} (same \
                     code or tax number); the tool picks none and creates none. Correct the \
                     tax numbers in Katana, or give each its own account in Luca, then run \
                     `{noun}s pull` again",
                    ids(&accounts),
                    p.id,
                    p.name
                ),
            ));
        } else if let ([account], None) = (accounts.as_slice(), &p.account) {
            adopt.push((p.id, account));
        }
    }
    let now = crate::store::now();
    ctx.store.write(|tx| {
        for (katana_id, account) in &adopt {
            luca_ids::map_account(
                tx,
                kind,
                &account.code,
                account.id,
                Some(*katana_id),
                Source::Pull,
                &now,
            )?;
        }
        Ok(())
    })?;
    let adopted = adopt.len() as u64;
    if ctx.dry_run() {
        for (_, account) in adopt {
            tally.plan(Planned {
                action: Action::Adopt,
                entity: None,
                key: account.code.clone(),
                kind: Some(kind.entity()),
                luca_id: Some(account.id),
                payload: None,
                totals: None,
            });
        }
    }
    Ok(Reconciled {
        held,
        findings,
        adopted,
    })
}

/// `customers push`: creates the cari of these Katana customer ids (all when `None`)
/// that have none, after matching Luca's existing accounts, through the exactly-once
/// pipeline. `invoices` calls it to create a missing customer first.
pub async fn push_customers(
    ctx: &Ctx,
    tally: &mut Tally,
    only: Option<&[i64]>,
) -> anyhow::Result<()> {
    push_accounts(ctx, tally, AccountKind::Customer, only).await
}

/// `suppliers push`: the same for suppliers.
pub async fn push_suppliers(
    ctx: &Ctx,
    tally: &mut Tally,
    only: Option<&[i64]>,
) -> anyhow::Result<()> {
    push_accounts(ctx, tally, AccountKind::Supplier, only).await
}

async fn push_accounts(
    ctx: &Ctx,
    tally: &mut Tally,
    kind: AccountKind,
    only: Option<&[i64]>,
) -> anyhow::Result<()> {
    let kinds = Accounts::new(ctx, kind);
    let wanted = |p: &Partner| only.is_none_or(|ids| ids.contains(&p.id));
    if let Some(ids) = only {
        let live = luca_ids::live_partners(ctx.store.conn(), kind)?;
        for id in ids {
            if !live.iter().any(|p| p.id == *id) {
                tally.fail(
                    kind.entity(),
                    kinds.code(*id),
                    format!(
                        "no live Katana {} has the id {id}; check it, or run `{}s pull` first",
                        kind.as_str(),
                        kind.as_str()
                    ),
                );
            }
        }
    }
    let unmapped = |ctx: &Ctx| -> anyhow::Result<Vec<Partner>> {
        Ok(luca_ids::live_partners(ctx.store.conn(), kind)?
            .into_iter()
            .filter(|p| p.account.is_none() && wanted(p))
            .collect())
    };
    // Every account already mapped: nothing to match, nothing to create, no call to Luca.
    let held = if unmapped(ctx)?.is_empty() {
        BTreeSet::new()
    } else {
        let r = reconcile(ctx, tally, &kinds).await?;
        for (code, reason) in r.findings {
            tally.processed += 1;
            tally.fail(kind.entity(), code, reason);
        }
        tally.processed += r.adopted;
        tally.updated += r.adopted;
        r.held
    };
    let category = match kind {
        AccountKind::Customer => &ctx.config.mapping.customer_category,
        AccountKind::Supplier => &ctx.config.mapping.supplier_category,
    };
    let mut items = Vec::new();
    for p in unmapped(ctx)?.into_iter().filter(|p| !held.contains(&p.id)) {
        let code = kinds.code(p.id);
        match body(category, &code, &p) {
            Ok(payload) => items.push(Item { key: code, payload }),
            Err(reason) => {
                tally.processed += 1;
                let reason = format!("Katana {} {} ({}): {reason}", kind.as_str(), p.id, p.name);
                ctx.store.write(|tx| {
                    quarantine::hold(tx, kind.entity(), &code, &reason, None)?;
                    Ok(())
                })?;
                tally.fail(kind.entity(), code, reason);
            }
        }
    }
    // Only the records that may have an account made now: an earlier intent of a record
    // since held back, adopted under another code or deleted is never sent. An earlier
    // intent whose account the matching found under the same code is settled too (its
    // lookup finds it), so no outcome stays unknown once the account is known.
    let mut keys: Vec<String> = items.iter().map(|i| i.key.clone()).collect();
    let mapped: BTreeSet<String> = luca_ids::live_partners(ctx.store.conn(), kind)?
        .into_iter()
        .filter(|p| wanted(p) && !held.contains(&p.id))
        .filter_map(|p| p.account)
        .collect();
    for row in outbox::open_rows(ctx.store.conn(), kind.entity())? {
        if mapped.contains(&row.key) && !keys.contains(&row.key) {
            keys.push(row.key);
        }
    }
    push::run(ctx, tally, &kinds, items, Some(&keys)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tax_numbers_are_read_and_checked() {
        let vkn = tax_id(Some("VKN:1234567890"), None).unwrap();
        assert_eq!(vkn, Some(TaxId::Vkn("1234567890".into())));
        // 10000000146 is a valid TCKN; a changed last digit is not.
        assert_eq!(
            tax_id(None, Some("TCKN 10000000146 şahıs")).unwrap(),
            Some(TaxId::Tckn("10000000146".into()))
        );
        assert!(tax_id(Some("TCKN:10000000147"), None).is_err());
        assert!(tax_id(Some("VKN:12345"), None).is_err());
        assert_eq!(tax_id(Some("REF-42"), Some("good customer")).unwrap(), None);
        assert_eq!(
            tax_id(Some("1234567890"), None).unwrap(),
            Some(TaxId::Vkn("1234567890".into()))
        );
        assert_eq!(tax_id(None, None).unwrap(), None);
    }

    fn partner() -> Partner {
        Partner {
            id: 42,
            name: "Ayşe Yılmaz".into(),
            katana_name: Some("Ayşe Yılmaz".into()),
            company: None,
            first_name: Some("Ayşe".into()),
            last_name: Some("Yılmaz".into()),
            email: Some("ayse@example.com".into()),
            currency: None,
            reference_id: Some("TCKN:10000000146".into()),
            comment: None,
            address: Some("Bağdat Cd. No:5".into()),
            city: Some("İstanbul".into()),
            district: Some("Kadıköy".into()),
            country: Some("TR".into()),
            account: None,
        }
    }

    #[test]
    fn a_person_gets_tip_2_and_a_tckn() {
        let b = body("120.01", "K00000042", &partner()).unwrap();
        assert_eq!(b["tip"], 2);
        assert_eq!(b["tcKimlikNo"], "10000000146");
        assert_eq!(b["ad"], "Ayşe");
        assert_eq!(b["kartKod"], "K00000042");
        assert_eq!(b["paraBirimKod"], "TRY");
        assert_eq!(b["kategoriKod"], "120.01");
        assert_eq!(b["iletisimTipId"], 5);
        assert_eq!(b["adresTipId"], 9);
        assert!(b.get("vergiNo").is_none());
    }

    #[test]
    fn a_company_gets_tip_1_and_a_vkn_and_no_name_holds_back() {
        let mut p = partner();
        p.company = Some("Yıldız Makine A.Ş.".into());
        p.reference_id = Some("VKN:1234567890".into());
        let b = body("120.01", "K00000042", &p).unwrap();
        assert_eq!(b["tip"], 1);
        assert_eq!(b["vergiNo"], "1234567890");
        assert_eq!(b["yasalUnvan"], "Yıldız Makine A.Ş.");
        assert!(b.get("ad").is_none());
        p.reference_id = Some("VKN:123".into());
        assert!(body("120.01", "K00000042", &p).is_err());
        let mut nameless = partner();
        nameless.katana_name = None;
        nameless.first_name = None;
        nameless.last_name = None;
        assert!(body("120.01", "K00000042", &nameless).is_err());
    }
}
