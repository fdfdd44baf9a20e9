//! The store's map of Luca identities: SKU → skartId, cari code → account (with the
//! Katana customer or supplier it belongs to), depoKodu → depo.

use rusqlite::{Connection, OptionalExtension, params};

use crate::entity::Entity;

/// Where a mapping came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// We created the object.
    Push,
    /// It existed; a create answered "already exists" or a lookup found it.
    Adopted,
    /// Read from Luca by `products pull --from luca` or `delete-sku`.
    Pull,
}

impl Source {
    /// How the push pipeline settled an object: created by us, or found and adopted.
    pub fn settled(adopted: bool) -> Source {
        if adopted {
            Source::Adopted
        } else {
            Source::Push
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Source::Push => "push",
            Source::Adopted => "adopted",
            Source::Pull => "pull",
        }
    }
}

/// Maps a stock code to its card. A known id is never replaced by an unknown one.
pub fn map_card(
    conn: &Connection,
    sku: &str,
    skart_id: Option<i64>,
    name: Option<&str>,
    source: Source,
    now: &str,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO luca_stock_cards (sku, skart_id, name, source, seen_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (sku) DO UPDATE SET skart_id = coalesce(excluded.skart_id, skart_id),
            name = coalesce(excluded.name, name), seen_at = excluded.seen_at",
        params![sku, skart_id, name, source.as_str(), now],
    )?;
    Ok(())
}

/// The card of a stock code: `None` when unmapped; `Some(None)` when a card is known
/// to exist but its id is not.
pub fn card_of(conn: &Connection, sku: &str) -> anyhow::Result<Option<Option<i64>>> {
    Ok(conn
        .query_row(
            "SELECT skart_id FROM luca_stock_cards WHERE sku = ?1",
            [sku],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn unmap_card(conn: &Connection, sku: &str) -> anyhow::Result<()> {
    conn.execute("DELETE FROM luca_stock_cards WHERE sku = ?1", [sku])?;
    Ok(())
}

/// How many cards the store maps with a known id.
pub fn mapped_card_count(conn: &Connection) -> anyhow::Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM luca_stock_cards WHERE skart_id IS NOT NULL",
        [],
        |r| r.get(0),
    )?)
}

/// The codes the store maps to a card id, within `[first, last]`.
pub fn mapped_in_range(conn: &Connection, first: &str, last: &str) -> anyhow::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT sku FROM luca_stock_cards WHERE skart_id IS NOT NULL AND sku >= ?1 AND sku <= ?2",
    )?;
    let codes = stmt
        .query_map([first, last], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(codes)
}

/// Whose accounts: Luca keeps customers and suppliers in separate ledgers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    Customer,
    Supplier,
}

impl AccountKind {
    /// The entity its accounts are reported, held and sent (outbox kind) under.
    pub fn entity(self) -> Entity {
        match self {
            AccountKind::Customer => Entity::Customer,
            AccountKind::Supplier => Entity::Supplier,
        }
    }

    /// As the store (and the outbox, and the run's errors) name it: its entity's name.
    pub fn as_str(self) -> &'static str {
        self.entity().as_str()
    }
}

/// Maps a cari code to its account (and, when known, the Katana record it belongs to;
/// the tax number is the one the store holds for that record). A known id or owner is
/// never replaced by an unknown one.
pub fn map_account(
    conn: &Connection,
    kind: AccountKind,
    code: &str,
    luca_id: Option<i64>,
    katana_id: Option<i64>,
    source: Source,
    now: &str,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO luca_accounts (kind, code, luca_id, katana_id, tax_no, source, seen_at)
         VALUES (?1, ?2, ?3, ?4, (SELECT tax_no FROM partners WHERE kind = ?1 AND id = ?4), ?5, ?6)
         ON CONFLICT (kind, code) DO UPDATE SET luca_id = coalesce(excluded.luca_id, luca_id),
            katana_id = coalesce(excluded.katana_id, katana_id),
            tax_no = coalesce(excluded.tax_no, tax_no), seen_at = excluded.seen_at",
        params![
            kind.as_str(),
            code,
            luca_id,
            katana_id,
            source.as_str(),
            now
        ],
    )?;
    Ok(())
}

/// The account of a Katana customer or supplier: its cari code (which, for an account
/// adopted by tax number, is not prefix + id) and its Luca id when known; `None` when
/// it has no account yet.
pub fn account_of(
    conn: &Connection,
    kind: AccountKind,
    katana_id: i64,
) -> anyhow::Result<Option<(String, Option<i64>)>> {
    Ok(conn
        .query_row(
            "SELECT code, luca_id FROM luca_accounts WHERE kind = ?1 AND katana_id = ?2",
            params![kind.as_str(), katana_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// The codes the store maps to an account with a known id.
pub fn mapped_accounts(conn: &Connection, kind: AccountKind) -> anyhow::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT code FROM luca_accounts WHERE kind = ?1 AND luca_id IS NOT NULL ORDER BY code",
    )?;
    let codes = stmt
        .query_map([kind.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(codes)
}

/// A live Katana customer or supplier as an account needs it.
#[derive(Debug, Clone)]
pub struct Partner {
    pub id: i64,
    pub name: String,
    /// Katana's own `name`, company, first and last name (the store's `name` falls back
    /// to "customer 42" when all are empty).
    pub katana_name: Option<String>,
    pub company: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub currency: Option<String>,
    /// Where a VKN/TCKN is written in Katana (`reference_id`, `comment`).
    pub reference_id: Option<String>,
    pub comment: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub country: Option<String>,
    /// The cari code of its account in the store's map, if it has one.
    pub account: Option<String>,
}

/// The live (not deleted) customers or suppliers, by id, with their mapped account.
pub fn live_partners(conn: &Connection, kind: AccountKind) -> anyhow::Result<Vec<Partner>> {
    let mut stmt = conn.prepare(
        "SELECT p.id, p.name, json_extract(p.raw_json, '$.name'), p.company, p.first_name,
                p.last_name, p.email, p.currency, p.reference_id,
                json_extract(p.raw_json, '$.comment'), p.address, p.city, p.district, p.country,
                (SELECT a.code FROM luca_accounts a WHERE a.kind = p.kind AND a.katana_id = p.id)
         FROM partners p WHERE p.kind = ?1 AND p.deleted_at IS NULL ORDER BY p.id",
    )?;
    let text = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<Option<String>> {
        // `json_extract` gives a number for a numeric comment; it is text all the same.
        Ok(match r.get_ref(i)? {
            rusqlite::types::ValueRef::Null => None,
            rusqlite::types::ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
            rusqlite::types::ValueRef::Integer(n) => Some(n.to_string()),
            rusqlite::types::ValueRef::Real(x) => Some(x.to_string()),
            rusqlite::types::ValueRef::Blob(_) => None,
        })
    };
    let rows = stmt
        .query_map([kind.as_str()], |r| {
            Ok(Partner {
                id: r.get(0)?,
                name: r.get(1)?,
                katana_name: text(r, 2)?,
                company: r.get(3)?,
                first_name: r.get(4)?,
                last_name: r.get(5)?,
                email: r.get(6)?,
                currency: r.get(7)?,
                reference_id: r.get(8)?,
                comment: text(r, 9)?,
                address: r.get(10)?,
                city: r.get(11)?,
                district: r.get(12)?,
                country: r.get(13)?,
                account: r.get(14)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Maps a warehouse code (depoKodu) to its depo. A known id is never replaced by an
/// unknown one.
pub fn map_warehouse(
    conn: &Connection,
    code: &str,
    depo_id: Option<i64>,
    name: Option<&str>,
    source: Source,
    now: &str,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO luca_warehouses (code, depo_id, name, source, seen_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (code) DO UPDATE SET depo_id = coalesce(excluded.depo_id, depo_id),
            name = coalesce(excluded.name, name), seen_at = excluded.seen_at",
        params![code, depo_id, name, source.as_str(), now],
    )?;
    Ok(())
}

/// The depo of a warehouse code: `None` when unmapped; `Some(None)` when it is known to
/// exist but its id is not.
pub fn warehouse_of(conn: &Connection, code: &str) -> anyhow::Result<Option<Option<i64>>> {
    Ok(conn
        .query_row(
            "SELECT depo_id FROM luca_warehouses WHERE code = ?1",
            [code],
            |r| r.get(0),
        )
        .optional()?)
}

/// A live Katana location as a warehouse needs it.
#[derive(Debug, Clone)]
pub struct Location {
    pub id: i64,
    pub name: String,
    pub address: Option<String>,
    pub city: Option<String>,
}

pub fn live_locations(conn: &Connection) -> anyhow::Result<Vec<Location>> {
    let mut stmt = conn.prepare(
        "SELECT id, name, address, city FROM locations WHERE deleted_at IS NULL ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Location {
                id: r.get(0)?,
                name: r.get(1)?,
                address: r.get(2)?,
                city: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The warehouse codes the store maps to a depo with a known id.
pub fn mapped_warehouses(conn: &Connection) -> anyhow::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT code FROM luca_warehouses WHERE depo_id IS NOT NULL ORDER BY code")?;
    let codes = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(codes)
}
