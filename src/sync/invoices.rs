//! `invoices`: every due order (none of its adjustments pending, at least one approved)
//! becomes one Luca sales invoice, through the exactly-once pipeline.
//!
//! Luca has no key for an invoice: it accepts a second one with the same
//! `belgeTakipNo`, and its list filters by date and number ranges only, answering one
//! record per line that need not carry `belgeTakipNo`. So an invoice is found again by
//! listing its `belgeTarihi` and matching the order number where the answer carries it,
//! else its fingerprint (cari code and the set of (stock code, quantity, unit price)).
//! A match counts only as the single candidate that no other store row claims, and
//! rows sharing a fingerprint are settled one at a time; anything else waits for
//! `adjustments resolve` (docs/invoices.md).

use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::identity::{stock_code, warehouse_code};
use super::push::{self, Item, Kind, Lookup};
use crate::context::Ctx;
use crate::entity::Entity;
use crate::luca::{self, LucaClient, documents, documents::DocKind};
use crate::report::Tally;
use crate::store::luca_ids::AccountKind;
use crate::store::outbox::Row;
use crate::store::{invoices as store, luca_findings, luca_ids, quarantine};

/// The outbox kind, and the quarantine entity of an order held back from its invoice.
pub const KIND: Entity = Entity::Invoice;

/// Two rates disagree when they differ by more than this fraction.
const RATE_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

pub struct Invoices {
    doc_type: i64,
    listings: Listings,
}

/// Each date's documents, listed once per run for the lookups before a row's first
/// create. Such a row was never sent, so no document this run created is its own, and
/// one it could be mistaken for can only come from a row with its fingerprint (rows of
/// one fingerprint are settled one at a time). So a listing from earlier in the run
/// tells as much as a fresh one unless such a row may have reached Luca unclearly: then
/// (and for a row that may itself have reached Luca: an unclear outcome, a `sending`
/// left by a killed run) the date is listed afresh, so that a second unclaimed twin is
/// never created. This halves the requests of a first invoicing; what it widens is the
/// moment in which a person could type the same invoice by hand, from one listing-to-
/// create to the run, a window that exists either way. Keyed by date: a pass lists one
/// kind of document, of one type.
#[derive(Default)]
pub(crate) struct Listings(Mutex<HashMap<String, Arc<Vec<documents::Listed>>>>);

impl Listings {
    async fn of(
        &self,
        luca: &LucaClient,
        kind: DocKind,
        date: &str,
        doc_type: i64,
        fresh: bool,
    ) -> Result<Arc<Vec<documents::Listed>>, luca::Error> {
        let cached = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(date)
            .cloned();
        match cached {
            Some(listed) if !fresh => Ok(listed),
            _ => {
                let listed = Arc::new(documents::list_on(luca, kind, date, doc_type).await?);
                self.0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(date.to_string(), listed.clone());
                Ok(listed)
            }
        }
    }
}

impl Kind for Invoices {
    fn name(&self) -> Entity {
        KIND
    }

    fn endpoint(&self) -> &'static str {
        documents::CREATE_INVOICE
    }

    /// Luca accepts a duplicate, and a person may have typed the invoice already.
    fn look_before_first_create(&self) -> bool {
        true
    }

    async fn lookup(&self, _luca: &LucaClient, _key: &str) -> Result<Lookup, luca::Error> {
        // No lookup by key exists; [`Kind::lookup_row`] matches on the payload.
        Ok(Lookup::Unsupported)
    }

    async fn lookup_row(&self, ctx: &Ctx, luca: &LucaClient, row: &Row) -> anyhow::Result<Lookup> {
        let doc = (DocKind::Invoice, self.doc_type);
        find(ctx, luca, doc, KIND, &self.listings, row).await
    }

    fn created_id(&self, answer: &Value) -> Option<i64> {
        documents::created_id(DocKind::Invoice, answer)
    }

    fn record(&self, _: &Connection, _: &str, _: Option<i64>, _: bool) -> anyhow::Result<()> {
        // The outbox row's remote_id is the ledger; its adjustments follow it.
        Ok(())
    }

    fn serial_group(&self, row: &Row) -> Option<String> {
        Some(Fingerprint::of_payload(&row.payload, true).group())
    }

    fn link(&self, conn: &Connection, row: &Row) -> anyhow::Result<()> {
        match row.key.parse::<i64>() {
            Ok(order) => store::link_adjustments(conn, KIND, &row.key, order),
            Err(_) => Ok(()),
        }
    }

    fn plan_totals(&self, payload: &Value) -> Option<Value> {
        let t = totals(payload);
        Some(json!({
            "currency": payload.get("paraBirimKod"),
            "net": t.net.to_string(),
            "vat": t.vat.to_string(),
            "gross": (t.net + t.vat).to_string(),
        }))
    }
}

/// What identifies a document when nothing else does: the cari and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    date: String,
    cari: String,
    /// (stock code, quantity, unit price), normalised and sorted.
    lines: Vec<(String, String, Option<String>)>,
}

fn number(v: &Value, key: &str) -> Option<Decimal> {
    match v.get(key)? {
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        Value::String(s) => Decimal::from_str(s).ok(),
        _ => None,
    }
}

fn norm(d: Decimal) -> String {
    d.normalize().to_string()
}

impl Fingerprint {
    pub fn of_payload(p: &Value, with_price: bool) -> Fingerprint {
        let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mut lines: Vec<_> = p
            .get("detayList")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .map(|line| {
                        (
                            line.get("kartKodu")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string(),
                            number(line, "miktar").map(norm).unwrap_or_default(),
                            number(line, "birimFiyat").filter(|_| with_price).map(norm),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        lines.sort();
        Fingerprint {
            date: text("belgeTarihi"),
            cari: text("cariKodu"),
            lines,
        }
    }

    fn of_listed(d: &documents::Listed, date: &str, with_price: bool) -> Fingerprint {
        let mut lines: Vec<_> = d
            .lines
            .iter()
            .map(|l| {
                (
                    l.code.clone(),
                    norm(l.quantity),
                    l.price.filter(|_| with_price).map(norm),
                )
            })
            .collect();
        lines.sort();
        Fingerprint {
            date: date.to_string(),
            cari: d.cari.clone().unwrap_or_default(),
            lines,
        }
    }

    fn group(&self) -> String {
        serde_json::to_string(&(&self.date, &self.cari, &self.lines)).unwrap_or_default()
    }
}

/// Finds the Luca document of an outbox row of `outbox_kind` (SPEC section 5): the
/// documents of its date; those that carry the order number match on it, the others on
/// the fingerprint; a candidate another row claims is not one. The single unclaimed
/// candidate is adopted, unless it was matched on the fingerprint alone and another
/// row with that fingerprint may own it. None: absent. More: unclear.
pub(crate) async fn find(
    ctx: &Ctx,
    luca: &LucaClient,
    (kind, doc_type): (DocKind, i64),
    outbox_kind: Entity,
    listings: &Listings,
    row: &Row,
) -> anyhow::Result<Lookup> {
    let with_price = kind == DocKind::Invoice;
    let mine = Fingerprint::of_payload(&row.payload, with_price);
    let order_no = row
        .payload
        .get("belgeTakipNo")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let conn = ctx.store.conn();
    // What `doctor --probe` learnt: a field the tenant's list never fills is not read.
    let trusted = |key: &str| -> anyhow::Result<bool> {
        Ok(kind == DocKind::Despatch || luca_findings::get(conn, key)?.as_deref() != Some("no"))
    };
    let (use_no, use_note) = (
        trusted(luca_findings::INVOICE_LIST_TAKIP_NO)?,
        trusted(luca_findings::INVOICE_LIST_ACIKLAMA)?,
    );
    // Rows of this fingerprint that may have reached Luca: their documents would match
    // this row too, so it must see them, in a listing of now.
    let rivals: Vec<String> = store::open_siblings(conn, outbox_kind, row.id)?
        .into_iter()
        .filter(|s| s.may_exist && Fingerprint::of_payload(&s.payload, with_price) == mine)
        .map(|s| s.key)
        .collect();
    let fresh = row.may_exist() || !rivals.is_empty();
    let listed = listings.of(luca, kind, &mine.date, doc_type, fresh).await?;
    let note = description(&order_no);
    let mut unclaimed = Vec::new();
    let mut claimed = Vec::new();
    let mut by_number = false;
    for d in listed.iter() {
        let number_match = match (&d.takip_no, &d.aciklama) {
            (Some(Some(t)), _) if use_no => Some(*t == order_no),
            (_, Some(Some(a))) if use_note => Some(*a == note),
            _ => None,
        };
        let matches = number_match
            .unwrap_or_else(|| Fingerprint::of_listed(d, &mine.date, with_price) == mine);
        if !matches {
            continue;
        }
        match store::claimed_by(conn, outbox_kind, d.id, row.id)? {
            Some(other) => claimed.push(format!("{} (claimed by order {other})", d.id)),
            None => {
                by_number |= number_match.is_some();
                unclaimed.push(d.id);
            }
        }
    }
    let order = format!("order {order_no} ({} {})", outbox_kind, row.key);
    let resolve = resolve_hint(conn, &row.key)?;
    Ok(match unclaimed.as_slice() {
        [] => Lookup::Absent,
        [id] if by_number || rivals.is_empty() => Lookup::Found(Some(*id)),
        [id] => Lookup::Unclear(format!(
            "{order}: Luca document {id} dated {} matches it, but so would the in-doubt \
             order(s) {} with the same cari and lines{resolve}",
            mine.date,
            rivals.join(", ")
        )),
        ids => Lookup::Unclear(format!(
            "{order}: {} unclaimed Luca documents dated {} match it (Luca ids {}){}{resolve}",
            ids.len(),
            mine.date,
            ids.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            if claimed.is_empty() {
                String::new()
            } else {
                format!("; also {}", claimed.join(", "))
            }
        )),
    })
}

/// Names the adjustments `adjustments resolve` takes for an order.
fn resolve_hint(conn: &Connection, key: &str) -> anyhow::Result<String> {
    let Ok(order) = key.parse::<i64>() else {
        return Ok(String::new());
    };
    let ids = crate::store::adjustments::live_of_order(conn, order)?;
    Ok(if ids.is_empty() {
        String::new()
    } else {
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        format!(" (adjustments {})", ids.join(", "))
    })
}

/// The `belgeAciklama` of an order's documents.
pub fn description(order_no: &str) -> String {
    format!("Katana {order_no}")
}

/// Net and VAT of an invoice body, per line then summed (2 decimals per line).
pub struct Totals {
    pub net: Decimal,
    pub vat: Decimal,
}

pub fn totals(payload: &Value) -> Totals {
    let mut t = Totals {
        net: Decimal::ZERO,
        vat: Decimal::ZERO,
    };
    for line in payload
        .get("detayList")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let net = (number(line, "miktar").unwrap_or_default()
            * number(line, "birimFiyat").unwrap_or_default())
        .round_dp(2);
        t.net += net;
        t.vat += (net * number(line, "kdvOran").unwrap_or_default()).round_dp(2);
    }
    t
}

/// Why an order cannot be invoiced yet: the reason names the fix.
type Held = String;

/// The invoice body of a due order, or why it is held back.
fn invoice_of(
    ctx: &Ctx,
    order: &store::DueOrder,
    cards_failed: &[(String, String)],
) -> anyhow::Result<Result<Value, Held>> {
    let conn = ctx.store.conn();
    let m = &ctx.config.mapping;
    let Some(customer) = order.customer_id else {
        return Ok(Err("the order has no customer in Katana; set one".into()));
    };
    let Some((cari, _)) = luca_ids::account_of(conn, AccountKind::Customer, customer)? else {
        return Ok(Err(format!(
            "customer {customer} has no Luca account (cari) yet; run `customers push`"
        )));
    };
    let Some(date) = order
        .created_date
        .as_deref()
        .and_then(|d| d.parse::<jiff::Timestamp>().ok())
    else {
        return Ok(Err(format!(
            "the order's created date {:?} is not a time; fix it in Katana",
            order.created_date
        )));
    };
    let date = luca::date(m.timezone.to_datetime(date).date());
    let currency = order
        .currency
        .clone()
        .unwrap_or_else(|| "TRY".into())
        .to_uppercase();
    let rate = match rate_of(order, &currency) {
        Ok(r) => r,
        Err(why) => return Ok(Err(why)),
    };
    let mut lines = Vec::new();
    for l in &order.lines {
        let Some(code) = stock_code(Some(&l.sku)) else {
            return Ok(Err(format!("adjustment {} has no SKU", l.adjustment_id)));
        };
        if let Some((_, why)) = cards_failed.iter().find(|(s, _)| *s == code) {
            return Ok(Err(format!(
                "the stock card of {code} could not be created ({why}); fix it, then run `products push`"
            )));
        }
        if luca_ids::card_of(conn, &code)?.is_none() && !ctx.dry_run() {
            return Ok(Err(format!(
                "{code} has no Luca stock card; run `products pull` and `products push`"
            )));
        }
        let Ok(quantity) = Decimal::from_str(l.quantity.trim()) else {
            return Ok(Err(format!(
                "{code}: quantity {:?} is not a number",
                l.quantity
            )));
        };
        let Some(price) = l
            .price_per_unit
            .as_deref()
            .and_then(|p| Decimal::from_str(p.trim()).ok())
        else {
            return Ok(Err(format!(
                "{code}: unit price {:?} is not a number; fix the row in Katana",
                l.price_per_unit
            )));
        };
        if let Some(d) = l
            .total_discount
            .as_deref()
            .and_then(|d| Decimal::from_str(d.trim()).ok())
            .filter(|d| !d.is_zero())
        {
            return Ok(Err(format!(
                "{code}: the row has a discount of {d}, which an invoice line here cannot \
                 carry exactly; remove it in Katana or invoice the order by hand"
            )));
        }
        let vat = match l.tax_rate_id {
            Some(id) => m.tax_rates.get(&id).copied().or_else(|| {
                l.tax_rate_pct
                    .as_deref()
                    .and_then(|p| Decimal::from_str(p.trim()).ok())
                    .map(|p| (p / Decimal::ONE_HUNDRED).normalize())
            }),
            None => None,
        };
        let Some(vat) = vat.filter(|v| *v >= Decimal::ZERO && *v <= Decimal::ONE) else {
            return Ok(Err(format!(
                "{code}: unknown tax rate {}; run `products pull` (it pulls tax rates) or \
                 add it to [mapping.tax_rates]",
                l.tax_rate_id
                    .map_or("(none on the row)".to_string(), |i| i.to_string())
            )));
        };
        let Some(depo) = warehouse_code(m, l.location_id) else {
            return Ok(Err(format!(
                "{code}: location {} has no Luca warehouse; add it to [mapping.warehouses] \
                 or set mapping.default_warehouse",
                l.location_id
                    .map_or("(none)".to_string(), |i| i.to_string())
            )));
        };
        let unit = l
            .uom
            .as_deref()
            .and_then(|u| m.units.get(u).copied())
            .unwrap_or(m.default_unit_id);
        if unit == 0 {
            return Ok(Err(format!(
                "{code}: unit \"{}\" has no Luca olcumBirimiId; add it to [mapping.units]",
                l.uom.as_deref().unwrap_or("")
            )));
        }
        lines.push(json!({
            "kartTuru": 1,
            "kartKodu": code,
            "miktar": luca::number(quantity),
            "birimFiyat": luca::number(price),
            "kdvOran": luca::number(vat),
            "depoKodu": depo,
            "olcuBirimi": unit,
        }));
    }
    Ok(Ok(json!({
        "belgeSeri": m.invoice_series,
        "belgeTarihi": date,
        "vadeTarihi": date,
        "belgeTakipNo": order.order_no,
        "belgeAciklama": description(&order.order_no),
        "belgeTurDetayId": m.invoice_doc_type,
        "faturaTur": 1,
        "paraBirimKod": currency,
        "kurBedeli": luca::number(rate),
        "kdvFlag": false,
        "musteriTedarikci": 1,
        "cariKodu": cari,
        "detayList": lines,
    })))
}

/// `kurBedeli`: 1 for TRY; for a foreign currency, Katana's `conversion_rate` in the
/// direction its own totals confirm (`total_in_base_currency / total`), within 1 %.
fn rate_of(order: &store::DueOrder, currency: &str) -> Result<Decimal, Held> {
    if currency == "TRY" {
        return Ok(Decimal::ONE);
    }
    let dec = |t: &Option<String>| t.as_deref().and_then(|s| Decimal::from_str(s.trim()).ok());
    let derived = match (dec(&order.total_in_base), dec(&order.total)) {
        (Some(base), Some(total)) if !total.is_zero() && base > Decimal::ZERO => Some(base / total),
        _ => None,
    };
    let given = dec(&order.conversion_rate).filter(|r| *r > Decimal::ZERO);
    let (Some(derived), Some(given)) = (derived, given) else {
        return Err(format!(
            "a {currency} order without a trustworthy rate (conversion_rate {}, totals {} / {}); \
             set the order's conversion rate in Katana",
            order.conversion_rate.as_deref().unwrap_or("missing"),
            order.total_in_base.as_deref().unwrap_or("?"),
            order.total.as_deref().unwrap_or("?"),
        ));
    };
    let close = |r: Decimal| ((r - derived) / derived).abs() <= RATE_TOLERANCE;
    if close(given) {
        return Ok(given);
    }
    let inverse = (Decimal::ONE / given).round_dp(6);
    if close(inverse) {
        return Ok(inverse);
    }
    Err(format!(
        "the {currency} rate is not trustworthy: conversion_rate {given} and Katana's totals \
         ({} / {} = {}) disagree by more than 1 % either way; fix the rate in Katana",
        order.total_in_base.as_deref().unwrap_or("?"),
        order.total.as_deref().unwrap_or("?"),
        derived.round_dp(6)
    ))
}

/// `invoices`.
pub async fn run(ctx: &Ctx, tally: &mut Tally) -> anyhow::Result<()> {
    let due = store::due_orders(ctx.store.conn())?;
    create_missing_customers(ctx, tally, &due).await?;
    let cards_failed = create_missing_cards(ctx, tally, &due).await?;
    let mut items = Vec::new();
    for order in &due {
        let key = order.id.to_string();
        match invoice_of(ctx, order, &cards_failed)? {
            Ok(payload) => {
                if ctx.dry_run() {
                    let t = totals(&payload);
                    tally.say(format!(
                        "would invoice {}: {} line(s), net {}, VAT {}, gross {} {}",
                        order.order_no,
                        order.lines.len(),
                        t.net,
                        t.vat,
                        t.net + t.vat,
                        payload["paraBirimKod"].as_str().unwrap_or("")
                    ));
                }
                items.push(Item { key, payload });
            }
            Err(reason) => {
                if !ctx.dry_run() {
                    ctx.store
                        .write(|tx| quarantine::hold(tx, KIND, &key, &reason, None))?;
                }
                tally.fail(Entity::SalesOrder, order.order_no.clone(), reason);
            }
        }
    }
    let kind = Invoices {
        doc_type: ctx.config.mapping.invoice_doc_type,
        listings: Listings::default(),
    };
    push::run(ctx, tally, &kind, items, None).await
}

/// Creates (or adopts, by code or tax number) the customer accounts the due orders need
/// and do not have, through the accounts' own pipeline. A customer that still has none
/// afterwards holds its order back with the reason.
async fn create_missing_customers(
    ctx: &Ctx,
    tally: &mut Tally,
    due: &[store::DueOrder],
) -> anyhow::Result<()> {
    let mut missing: Vec<i64> = Vec::new();
    for id in due.iter().filter_map(|o| o.customer_id) {
        if luca_ids::account_of(ctx.store.conn(), AccountKind::Customer, id)?.is_none()
            && !missing.contains(&id)
        {
            missing.push(id);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    if ctx.dry_run() {
        tally.say(format!(
            "{} customer account(s) would be created or adopted first",
            missing.len()
        ));
        return Ok(());
    }
    let mut accounts = Tally::default();
    super::accounts::push_customers(ctx, &mut accounts, Some(&missing)).await?;
    if accounts.created + accounts.updated > 0 {
        tally.say(format!(
            "created {} and adopted {} missing customer account(s) first",
            accounts.created, accounts.updated
        ));
    }
    Ok(())
}

/// Creates the stock cards the due orders need and do not have (the card push's own
/// counts are not this pass's); returns the SKUs whose card could not be created.
async fn create_missing_cards(
    ctx: &Ctx,
    tally: &mut Tally,
    due: &[store::DueOrder],
) -> anyhow::Result<Vec<(String, String)>> {
    let mut missing: Vec<String> = Vec::new();
    for l in due.iter().flat_map(|o| &o.lines) {
        if let Some(code) = stock_code(Some(&l.sku))
            && luca_ids::card_of(ctx.store.conn(), &code)?.is_none()
            && !missing.contains(&code)
        {
            missing.push(code);
        }
    }
    if missing.is_empty() || ctx.dry_run() {
        if !missing.is_empty() {
            let shown: Vec<&str> = missing.iter().take(10).map(String::as_str).collect();
            let more = missing.len().saturating_sub(shown.len());
            tally.say(format!(
                "{} stock card(s) would be created first: {}{}",
                missing.len(),
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        return Ok(Vec::new());
    }
    let mut cards = Tally::default();
    super::products::push(ctx, &mut cards, missing).await?;
    if cards.created + cards.updated > 0 {
        tally.say(format!(
            "created {} and adopted {} missing stock card(s) first",
            cards.created, cards.updated
        ));
    }
    Ok(cards
        .errors
        .into_iter()
        .map(|e| (e.key, e.reason))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(currency: &str, rate: Option<&str>, total: &str, base: &str) -> store::DueOrder {
        store::DueOrder {
            id: 1,
            order_no: "SO-1".into(),
            customer_id: Some(1),
            currency: Some(currency.into()),
            conversion_rate: rate.map(Into::into),
            total: Some(total.into()),
            total_in_base: Some(base.into()),
            created_date: None,
            lines: Vec::new(),
        }
    }

    #[test]
    fn a_foreign_rate_is_taken_in_the_direction_katanas_totals_confirm() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(
            rate_of(&order("TRY", None, "10", "10"), "TRY"),
            Ok(Decimal::ONE)
        );
        // Multiply: 100 EUR = 3650 TRY.
        assert_eq!(
            rate_of(&order("EUR", Some("36.5"), "100", "3650"), "EUR"),
            Ok(d("36.5"))
        );
        // Divide: the same order with Katana's other convention.
        assert_eq!(
            rate_of(&order("EUR", Some("0.0273972603"), "100", "3650"), "EUR"),
            Ok(d("36.5"))
        );
        // Within 1 % of the totals (rounding), taken as Katana states it.
        assert_eq!(
            rate_of(&order("EUR", Some("36.6"), "100", "3650"), "EUR"),
            Ok(d("36.6"))
        );
        for bad in [
            order("EUR", Some("40"), "100", "3650"),
            order("EUR", None, "100", "3650"),
            order("EUR", Some("36.5"), "0", "0"),
            order("EUR", Some("1"), "100", "100.5"),
        ] {
            let r = rate_of(&bad, "EUR");
            // Equal totals and rate 1 agree: only rate 1 *without* confirmation is refused.
            if bad.conversion_rate.as_deref() == Some("1") {
                assert_eq!(r, Ok(Decimal::ONE));
            } else {
                assert!(r.is_err(), "{r:?}");
            }
        }
    }

    #[test]
    fn the_fingerprint_ignores_line_order_and_trailing_zeros() {
        let a = json!({"belgeTarihi": "01/12/2026", "cariKodu": "K1", "detayList": [
            {"kartKodu": "A", "miktar": 2, "birimFiyat": 10.5},
            {"kartKodu": "B", "miktar": 1, "birimFiyat": 3}]});
        let b = json!({"belgeTarihi": "01/12/2026", "cariKodu": "K1", "detayList": [
            {"kartKodu": "B", "miktar": 1.0, "birimFiyat": "3.00"},
            {"kartKodu": "A", "miktar": 2, "birimFiyat": 10.50}]});
        assert_eq!(
            Fingerprint::of_payload(&a, true),
            Fingerprint::of_payload(&b, true)
        );
        let mut c = a.clone();
        c["detayList"][0]["birimFiyat"] = json!(10.51);
        assert_ne!(
            Fingerprint::of_payload(&a, true),
            Fingerprint::of_payload(&c, true)
        );
        assert_eq!(
            Fingerprint::of_payload(&a, false),
            Fingerprint::of_payload(&c, false)
        );
    }
}
