//! `warehouses pull`: Katana locations into the store, and Luca's warehouses (depo)
//! into the store's depoKodu → depoId map; `warehouses push`: the depo of every mapped
//! location that Luca lacks. A location's depoKodu comes from `[mapping.warehouses]`
//! (else `default_warehouse`), through `identity::warehouse_code`, the one function
//! every document uses.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;
use serde_json::{Value, json};

use super::identity::warehouse_code;
use super::products::PullFrom;
use super::push::{self, Item, Kind, Lookup};
use crate::context::Ctx;
use crate::entity::Entity;
use crate::katana::model::Location;
use crate::luca::accounts::{self as luca_accounts, Depot};
use crate::luca::{self, LucaClient};
use crate::report::Tally;
use crate::store::catalog::upsert_location;
use crate::store::luca_ids::{self, Source};

use super::window::Filters;

pub async fn pull(ctx: &Ctx, tally: &mut Tally, from: PullFrom) -> anyhow::Result<()> {
    if matches!(from, PullFrom::Katana | PullFrom::Both) {
        super::pull_entity::<Location, _>(
            ctx,
            tally,
            Entity::Locations,
            "/locations",
            Filters {
                include_deleted: true,
            },
            |tx, l, raw, _| upsert_location(tx, l, raw),
        )
        .await?;
    }
    if from == PullFrom::Katana {
        return Ok(());
    }
    let depots = pull_luca(ctx).await?;
    // The pass's records are the locations its Katana half counted: an unmapped one is
    // listed (the run is partial), not counted twice.
    let (codes, _) = report_mapping(ctx, tally, &depots, |t, e, k, r| t.note(e, k, r))?;
    for (code, names) in codes {
        if !depots.iter().any(|d| d.code == code) {
            tally.say(format!(
                "warehouse {code} (for {names}) is not in Luca yet: `warehouses push` creates it"
            ));
        }
    }
    Ok(())
}

/// The push kind of warehouses: Luca refuses a second depo with the same code ("Depo
/// kodu kullanımda!"), and that answer is adopted, so no lookup is needed first.
pub struct Warehouses;

impl Kind for Warehouses {
    fn name(&self) -> Entity {
        Entity::Warehouse
    }

    fn endpoint(&self) -> &'static str {
        luca_accounts::WAREHOUSE_CREATE
    }

    fn look_before_first_create(&self) -> bool {
        false
    }

    async fn lookup(&self, luca: &LucaClient, key: &str) -> Result<Lookup, luca::Error> {
        Ok(match luca_accounts::warehouse(luca, key).await? {
            Some(d) => Lookup::Found(d.id),
            None => Lookup::Absent,
        })
    }

    fn created_id(&self, answer: &Value) -> Option<i64> {
        luca_accounts::created_depot_id(answer)
    }

    fn record(
        &self,
        conn: &Connection,
        key: &str,
        id: Option<i64>,
        adopted: bool,
    ) -> anyhow::Result<()> {
        luca_ids::map_warehouse(
            conn,
            key,
            id,
            None,
            Source::settled(adopted),
            &crate::store::now(),
        )
    }
}

/// Reads Luca's warehouses into the store's map.
async fn pull_luca(ctx: &Ctx) -> anyhow::Result<Vec<Depot>> {
    let luca = ctx.luca().await?;
    push::learn_wrappers(ctx, luca)?;
    let depots = luca_accounts::warehouses(luca).await?;
    let codes: BTreeSet<&str> = depots.iter().map(|d| d.code.as_str()).collect();
    super::accounts::check_complete(
        &codes,
        luca_ids::mapped_warehouses(ctx.store.conn())?,
        "warehouse listing",
        luca_accounts::WAREHOUSE_LIST,
    )?;
    let now = crate::store::now();
    ctx.store.write(|tx| {
        for d in &depots {
            luca_ids::map_warehouse(tx, &d.code, d.id, d.name.as_deref(), Source::Pull, &now)?;
        }
        Ok(())
    })?;
    Ok(depots)
}

/// The live locations per warehouse code; each location that maps to none is reported
/// with the line that fixes it.
fn report_mapping(
    ctx: &Ctx,
    tally: &mut Tally,
    depots: &[Depot],
    report: fn(&mut Tally, Entity, String, String),
) -> anyhow::Result<(BTreeMap<String, String>, Vec<luca_ids::Location>)> {
    let mut codes: BTreeMap<String, String> = BTreeMap::new();
    let mut first: BTreeMap<String, luca_ids::Location> = BTreeMap::new();
    let known = depots
        .iter()
        .map(|d| match &d.name {
            Some(n) => format!("{} {n}", d.code),
            None => d.code.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    for l in luca_ids::live_locations(ctx.store.conn())? {
        match warehouse_code(&ctx.config.mapping, Some(l.id)) {
            Some(code) => {
                let label = format!("location {} {}", l.id, l.name);
                codes
                    .entry(code.clone())
                    .and_modify(|names| {
                        names.push_str(", ");
                        names.push_str(&label);
                    })
                    .or_insert(label);
                first.entry(code).or_insert(l);
            }
            None => report(
                tally,
                Entity::Location,
                l.id.to_string(),
                format!(
                    "Katana location {} ({}) maps to no Luca warehouse, so nothing is created \
                     for it and its stock and documents cannot be sent: add the line \
                     `\"{}\" = \"<depoKodu>\"` under [mapping.warehouses] in {} (Luca has: {}), \
                     or set mapping.default_warehouse",
                    l.id,
                    l.name,
                    l.id,
                    ctx.config
                        .file
                        .as_ref()
                        .map_or("sync.toml".into(), |f| f.display().to_string()),
                    if known.is_empty() {
                        "no warehouse"
                    } else {
                        &known
                    }
                ),
            ),
        }
    }
    Ok((codes, first.into_values().collect()))
}

/// `warehouses push`: creates the depo of every mapped code Luca lacks, named after
/// the (first) location mapped to it.
pub async fn push(ctx: &Ctx, tally: &mut Tally) -> anyhow::Result<()> {
    let depots = pull_luca(ctx).await?;
    let (_, locations) = report_mapping(ctx, tally, &depots, |t, e, k, r| t.fail(e, k, r))?;
    let mut items = Vec::new();
    for l in locations {
        let Some(code) = warehouse_code(&ctx.config.mapping, Some(l.id)) else {
            continue;
        };
        if luca_ids::warehouse_of(ctx.store.conn(), &code)?.is_some() {
            continue;
        }
        let mut body = json!({"kod": code, "tanim": l.name.trim()});
        if let Some(city) = l.city.as_deref().filter(|c| !c.trim().is_empty()) {
            body["il"] = json!(city.trim());
        }
        if let Some(address) = l.address.as_deref().filter(|a| !a.trim().is_empty()) {
            body["adresSerbest"] = json!(address.trim());
        }
        items.push(Item {
            key: code,
            payload: body,
        });
    }
    push::run(ctx, tally, &Warehouses, items, None).await
}
