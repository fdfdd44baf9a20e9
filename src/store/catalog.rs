//! Katana reference data in the store: tax rates, locations, customers and suppliers,
//! products and variants. Every upsert goes through [`upsert`], which keeps the newer
//! copy of a record: a stale copy (an older `updated_at`) never overwrites a newer one.

use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, params};

use crate::entity::Entity;
use crate::katana::model::{Location, Partner, Product, TaxRate, Variant};

/// What an upsert did: the run's vocabulary, which counts it.
pub use crate::report::Change;

/// Inserts or updates one row of `table`, keyed by `key`, unless the stored copy is at
/// least as new (by `updated_at`). Column names are the caller's constants.
pub fn upsert(
    conn: &Connection,
    table: &'static str,
    key: &[(&'static str, &dyn ToSql)],
    updated_at: Option<&str>,
    cols: &[(&'static str, &dyn ToSql)],
) -> anyhow::Result<Change> {
    let values: Vec<&dyn ToSql> = key
        .iter()
        .map(|(_, v)| *v)
        .chain(std::iter::once(&updated_at as &dyn ToSql))
        .chain(cols.iter().map(|(_, v)| *v))
        .collect();
    let sql = UpsertSql::of(table, key, cols);
    // A new record costs one statement (the common case of a backfill); the statements
    // are cached by their text.
    let inserted = conn
        .prepare_cached(&sql.insert)?
        .execute(values.as_slice())?;
    if inserted == 1 {
        return Ok(Change::Created);
    }
    let updated = conn
        .prepare_cached(&sql.update)?
        .execute(values.as_slice())?;
    Ok(if updated == 1 {
        Change::Updated
    } else {
        Change::Unchanged
    })
}

/// The two statements of [`upsert`] for one table and column list, written once per
/// process: a backfill upserts the same few shapes hundreds of thousands of times.
struct UpsertSql {
    names: Vec<&'static str>,
    insert: String,
    update: String,
}

impl UpsertSql {
    fn of(
        table: &'static str,
        key: &[(&'static str, &dyn ToSql)],
        cols: &[(&'static str, &dyn ToSql)],
    ) -> std::sync::Arc<UpsertSql> {
        use std::collections::HashMap;
        use std::sync::{Arc, LazyLock, Mutex};
        // By table and key width; the column names are checked, so a second shape for
        // one table is written fresh rather than served the wrong statement.
        type Memo = HashMap<(&'static str, usize), Arc<UpsertSql>>;
        static MEMO: LazyLock<Mutex<Memo>> = LazyLock::new(Mutex::default);
        let names = || {
            key.iter()
                .map(|(c, _)| *c)
                .chain(std::iter::once("updated_at"))
                .chain(cols.iter().map(|(c, _)| *c))
        };
        let mut memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sql) = memo.get(&(table, key.len()))
            && sql.names.iter().copied().eq(names())
        {
            return sql.clone();
        }
        let names: Vec<&'static str> = names().collect();
        let marks = (1..=names.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let key_names = names[..key.len()].join(", ");
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({marks}) ON CONFLICT ({key_names}) DO NOTHING",
            names.join(", ")
        );
        let where_key = names[..key.len()]
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ?{}", i + 1))
            .collect::<Vec<_>>()
            .join(" AND ");
        let updates = names[key.len()..]
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ?{}", key.len() + i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        let stamp = key.len() + 1;
        let update = format!(
            "UPDATE {table} SET {updates} WHERE {where_key}
               AND NOT (updated_at IS NOT NULL AND ?{stamp} IS NOT NULL AND ?{stamp} <= updated_at)"
        );
        let sql = Arc::new(UpsertSql {
            names,
            insert,
            update,
        });
        memo.insert((table, key.len()), sql.clone());
        sql
    }
}

pub fn upsert_tax_rate(conn: &Connection, t: &TaxRate, raw: &str) -> anyhow::Result<Change> {
    let rate = t.rate.map(|r| r.normalize().to_string());
    upsert(
        conn,
        "tax_rates",
        &[("id", &t.id)],
        t.updated_at.as_deref(),
        &[("name", &t.name), ("rate", &rate), ("raw_json", &raw)],
    )
}

pub fn upsert_location(conn: &Connection, l: &Location, raw: &str) -> anyhow::Result<Change> {
    let name = l
        .name
        .clone()
        .unwrap_or_else(|| format!("location {}", l.id));
    let address = l.address.as_ref().and_then(|a| a.one_line());
    let city = l.address.as_ref().and_then(|a| a.city.clone());
    upsert(
        conn,
        "locations",
        &[("id", &l.id)],
        l.at.updated_at.as_deref(),
        &[
            ("name", &name),
            ("legal_name", &l.legal_name),
            ("is_primary", &l.is_primary.unwrap_or(false)),
            ("address", &address),
            ("city", &city),
            ("created_at", &l.at.created_at),
            ("deleted_at", &l.at.deleted_at),
            ("raw_json", &raw),
        ],
    )
}

pub fn upsert_partner(
    conn: &Connection,
    kind: &str,
    p: &Partner,
    name: &str,
    raw: &str,
) -> anyhow::Result<Change> {
    let addr = p.billing_address();
    let address = addr.and_then(|a| a.one_line());
    let city = addr.and_then(|a| a.city.clone());
    let district = addr.and_then(|a| a.state.clone());
    let country = addr.and_then(|a| a.country.clone());
    upsert(
        conn,
        "partners",
        &[("kind", &kind), ("id", &p.id)],
        p.at.updated_at.as_deref(),
        &[
            ("name", &name),
            ("first_name", &p.first_name),
            ("last_name", &p.last_name),
            ("company", &p.company),
            ("email", &p.email),
            ("phone", &p.phone),
            ("currency", &p.currency),
            ("reference_id", &p.reference_id),
            ("tax_no", &p.tax_no()),
            ("address", &address),
            ("city", &city),
            ("district", &district),
            ("country", &country),
            ("created_at", &p.at.created_at),
            ("deleted_at", &p.at.deleted_at),
            ("raw_json", &raw),
        ],
    )
}

pub fn upsert_product(
    conn: &Connection,
    p: &Product,
    name: &str,
    raw: &str,
) -> anyhow::Result<Change> {
    upsert(
        conn,
        "products",
        &[("id", &p.id)],
        p.at.updated_at.as_deref(),
        &[
            ("name", &name),
            ("uom", &p.uom),
            ("category_name", &p.category_name),
            ("is_sellable", &p.is_sellable),
            ("archived_at", &p.archived_at),
            ("created_at", &p.at.created_at),
            ("deleted_at", &p.at.deleted_at),
            ("raw_json", &raw),
        ],
    )
}

/// Stores a variant; its SKU is kept trimmed (the stock code sent to Luca is exactly
/// this text, see `sync::identity`).
pub fn upsert_variant(
    conn: &Connection,
    v: &Variant,
    sku: Option<&str>,
    raw: &str,
) -> anyhow::Result<Change> {
    let options = serde_json::to_string(&v.option_values())?;
    let sales = v.sales_price.map(|d| d.normalize().to_string());
    let purchase = v.purchase_price.map(|d| d.normalize().to_string());
    upsert(
        conn,
        "variants",
        &[("id", &v.id)],
        v.at.updated_at.as_deref(),
        &[
            ("product_id", &v.product_id),
            ("material_id", &v.material_id),
            ("sku", &sku),
            ("option_values", &options),
            ("sales_price", &sales),
            ("purchase_price", &purchase),
            ("kind", &v.kind),
            ("created_at", &v.at.created_at),
            ("deleted_at", &v.at.deleted_at),
            ("raw_json", &raw),
        ],
    )
}

/// A variant as far as the store knows it: `None` when unknown, else its SKU (which may
/// itself be missing).
pub fn variant_sku(conn: &Connection, id: i64) -> anyhow::Result<Option<Option<String>>> {
    Ok(conn
        .prepare_cached("SELECT sku FROM variants WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

pub fn partner_known(conn: &Connection, kind: &str, id: i64) -> anyhow::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM partners WHERE kind = ?1 AND id = ?2")?
        .query_row(params![kind, id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// SKUs carried by more than one live variant: none of them can own the stock code.
pub fn duplicate_skus(conn: &Connection) -> anyhow::Result<Vec<(String, Vec<i64>)>> {
    let mut stmt = conn.prepare(
        "SELECT sku, group_concat(id) FROM variants
         WHERE sku IS NOT NULL AND deleted_at IS NULL
         GROUP BY sku HAVING count(*) > 1 ORDER BY sku",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .map(|(sku, ids)| (sku, ids.split(',').filter_map(|i| i.parse().ok()).collect()))
        .collect())
}

/// A live variant with a SKU and no Luca stock card, with what its card is made of.
pub struct CardCandidate {
    pub sku: String,
    /// The variant's option values, as the JSON array Katana sent.
    pub option_values: String,
    pub created_at: Option<String>,
    pub product: String,
    pub uom: Option<String>,
}

/// Every live variant without a card, by SKU, leaving out SKUs held under `held_entity`.
pub fn variants_without_card(
    conn: &Connection,
    held_entity: Entity,
) -> anyhow::Result<Vec<CardCandidate>> {
    let mut stmt = conn.prepare(
        "SELECT v.sku, v.option_values, v.created_at, p.name, p.uom
         FROM variants v JOIN products p ON p.id = v.product_id
         WHERE v.deleted_at IS NULL AND p.deleted_at IS NULL AND v.sku IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM luca_stock_cards c WHERE c.sku = v.sku)
           AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.entity = ?1 AND q.key = v.sku
                           AND q.resolved_at IS NULL)
         ORDER BY v.sku",
    )?;
    let rows = stmt
        .query_map([held_entity], |r| {
            Ok(CardCandidate {
                sku: r.get(0)?,
                option_values: r.get(1)?,
                created_at: r.get(2)?,
                product: r.get(3)?,
                uom: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Katana's default sales tax rate (id, rate in percent), if it names one.
pub fn default_sales_tax_rate(conn: &Connection) -> Option<(i64, Option<String>)> {
    conn.query_row(
        "SELECT id, rate FROM tax_rates WHERE json_extract(raw_json, '$.is_default_sales') IN (1, 'true')
         ORDER BY id LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .ok()
}

/// The SKUs of live variants.
pub fn live_skus(conn: &Connection) -> anyhow::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT v.sku FROM variants v JOIN products p ON p.id = v.product_id
         WHERE v.deleted_at IS NULL AND v.sku IS NOT NULL",
    )?;
    let skus = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(skus)
}

/// The SKUs of live variants that the store maps to no card id, sorted.
pub fn skus_without_card_id(conn: &Connection) -> anyhow::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT v.sku FROM variants v
         WHERE v.deleted_at IS NULL AND v.sku IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM luca_stock_cards c WHERE c.sku = v.sku AND c.skart_id IS NOT NULL)
         ORDER BY v.sku",
    )?;
    let skus = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(skus)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temp_store;

    #[test]
    fn a_stale_copy_never_overwrites_a_newer_one() {
        let (_d, s) = temp_store();
        let c = s.conn();
        let up = |name: &str, at: &str| {
            upsert(
                c,
                "tax_rates",
                &[("id", &7i64)],
                Some(at),
                &[("name", &name), ("rate", &"20"), ("raw_json", &"{}")],
            )
            .unwrap()
        };
        assert_eq!(up("KDV", "2026-01-02T00:00:00.000Z"), Change::Created);
        assert_eq!(up("KDV", "2026-01-02T00:00:00.000Z"), Change::Unchanged);
        assert_eq!(up("old", "2026-01-01T00:00:00.000Z"), Change::Unchanged);
        assert_eq!(up("KDV %20", "2026-01-03T00:00:00.000Z"), Change::Updated);
        let name: String = c
            .query_row("SELECT name FROM tax_rates WHERE id = 7", [], |r| r.get(0))
            .unwrap();
        assert_eq!(name, "KDV %20");
    }
}
