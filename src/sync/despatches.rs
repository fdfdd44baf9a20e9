//! `despatches`: a despatch note (irsaliye) for every invoiced order Katana reports
//! `DELIVERED`, when `[sync] despatches = true`; exactly once by the invoices' means
//! (a list by date, matched on the order number where the answer carries it, else on
//! the cari and lines). Its lines are the invoice's, as sent, with their units. The
//! reference links a despatch to an invoice only from the invoice's side
//! (`irsaliyeBilgisiList`), and the invoice exists first: the despatch note carries the
//! order number instead, and stock moved with the invoice (docs/invoices.md).

use rusqlite::Connection;
use serde_json::{Value, json};

use super::invoices::{Fingerprint, Listings, description, find};
use super::push::{self, Item, Kind, Lookup};
use crate::context::Ctx;
use crate::entity::Entity;
use crate::luca::{self, LucaClient, documents, documents::DocKind};
use crate::report::Tally;
use crate::store::invoices as store;
use crate::store::outbox::Row;
use crate::store::quarantine;

pub const KIND: Entity = Entity::Despatch;

pub struct Despatches {
    doc_type: i64,
    listings: Listings,
}

impl Kind for Despatches {
    fn name(&self) -> Entity {
        KIND
    }

    fn endpoint(&self) -> &'static str {
        documents::CREATE_DESPATCH
    }

    fn look_before_first_create(&self) -> bool {
        true
    }

    async fn lookup(&self, _luca: &LucaClient, _key: &str) -> Result<Lookup, luca::Error> {
        Ok(Lookup::Unsupported)
    }

    async fn lookup_row(&self, ctx: &Ctx, luca: &LucaClient, row: &Row) -> anyhow::Result<Lookup> {
        let doc = (DocKind::Despatch, self.doc_type);
        find(ctx, luca, doc, KIND, &self.listings, row).await
    }

    fn created_id(&self, answer: &Value) -> Option<i64> {
        documents::created_id(DocKind::Despatch, answer)
    }

    fn record(&self, _: &Connection, _: &str, _: Option<i64>, _: bool) -> anyhow::Result<()> {
        Ok(())
    }

    fn serial_group(&self, row: &Row) -> Option<String> {
        Some(format!(
            "{:?}",
            Fingerprint::of_payload(&row.payload, false)
        ))
    }
}

/// The despatch note of an invoiced order: the invoice's header and lines as they were
/// sent, under the despatch series and type.
fn despatch_of(ctx: &Ctx, d: &store::Delivered) -> Result<Value, String> {
    let m = &ctx.config.mapping;
    let inv = &d.invoice;
    let lines = inv
        .get("detayList")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| "its invoice has no lines".to_string())?;
    for l in lines {
        if l.get("olcuBirimi").is_none_or(Value::is_null) {
            return Err(format!(
                "{}: no unit on the invoice line; add the unit to [mapping.units]",
                l.get("kartKodu").and_then(Value::as_str).unwrap_or("?")
            ));
        }
    }
    Ok(json!({
        "belgeSeri": m.despatch_series,
        "belgeTarihi": inv.get("belgeTarihi"),
        "vadeTarihi": inv.get("belgeTarihi"),
        "belgeTakipNo": d.order_no,
        "belgeAciklama": description(&d.order_no),
        "belgeTurDetayId": m.despatch_doc_type,
        "paraBirimKod": inv.get("paraBirimKod"),
        "kdvFlag": false,
        "musteriTedarikci": 1,
        "cariKodu": inv.get("cariKodu"),
        "detayList": lines,
    }))
}

/// `despatches`.
pub async fn run(ctx: &Ctx, tally: &mut Tally) -> anyhow::Result<()> {
    if !ctx.config.sync.despatches {
        tally.say("despatch notes are off: set [sync] despatches = true to send them".into());
        return Ok(());
    }
    let mut items = Vec::new();
    for d in store::delivered_invoiced(ctx.store.conn())? {
        let key = d.order_id.to_string();
        match despatch_of(ctx, &d) {
            Ok(payload) => items.push(Item { key, payload }),
            Err(reason) => {
                ctx.store
                    .write(|tx| quarantine::hold(tx, KIND, &key, &reason, None))?;
                tally.fail(Entity::SalesOrder, d.order_no.clone(), reason);
            }
        }
    }
    let kind = Despatches {
        doc_type: ctx.config.mapping.despatch_doc_type,
        listings: Listings::default(),
    };
    push::run(ctx, tally, &kind, items, None).await
}
