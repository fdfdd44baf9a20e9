//! The lists both sides keep of what the `[mapping]` block maps (read-only): Katana's
//! locations, units of measure and tax rates; Luca's warehouses, units
//! (`ListeleGnlOlcumBirimi.do`) and document series (`ListeleGnlOrgSsSeri.do`). For
//! `mapping init`, which proposes the block, and `doctor`, which checks it, so both
//! judge a match the same way.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::context::Ctx;
use crate::katana::model::{Location, Product, TaxRate, decode};
use crate::luca::answer::{id_field, text_field};

/// What Katana has that needs a Luca counterpart.
#[derive(Debug, Default)]
pub struct KatanaSide {
    /// Live locations: id and name.
    pub locations: Vec<(i64, String)>,
    /// Tax rates: id, name, percent as Katana reports it.
    pub tax_rates: Vec<(i64, String, Option<Decimal>)>,
    /// Units of measure of live products, with how many products use each.
    pub units: BTreeMap<String, usize>,
}

/// A Luca record of a lookup list: its id (0 when the list gives none), code and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LucaEntry {
    pub id: i64,
    pub code: String,
    pub name: String,
}

#[derive(Debug, Default)]
pub struct LucaSide {
    pub warehouses: Vec<LucaEntry>,
    pub units: Vec<LucaEntry>,
    /// Series per document type (`belgeTurDetayId`).
    pub series: BTreeMap<i64, Vec<String>>,
}

/// Every page of a Katana list (no watermark: these lists are short).
async fn all_pages(ctx: &Ctx, path: &str) -> anyhow::Result<Vec<Value>> {
    let client = ctx.katana().await?;
    let mut out = Vec::new();
    for n in 1.. {
        let page = client.page(path, &[], n).await?;
        let p = page.pagination;
        let len = page.records.len() as u64;
        out.extend(page.records);
        let last = len == 0
            || p.last_page == Some(true)
            || p.total_pages.is_some_and(|t| u64::from(n) >= t)
            || (p.total_pages.is_none() && len < u64::from(ctx.config.katana.page_size));
        if last {
            break;
        }
    }
    Ok(out)
}

pub async fn katana_side(ctx: &Ctx) -> anyhow::Result<KatanaSide> {
    let mut side = KatanaSide::default();
    for raw in all_pages(ctx, "/locations").await? {
        let Ok(l) = decode::<Location>(&raw) else {
            continue; // `warehouses pull` quarantines what cannot be read
        };
        if raw.get("deleted_at").is_some_and(|d| !d.is_null()) {
            continue;
        }
        side.locations
            .push((l.id, l.name.unwrap_or_else(|| format!("location {}", l.id))));
    }
    for raw in all_pages(ctx, "/tax_rates").await? {
        if let Ok(t) = decode::<TaxRate>(&raw) {
            let name = t.name.unwrap_or_else(|| format!("tax rate {}", t.id));
            side.tax_rates.push((t.id, name, t.rate));
        }
    }
    for raw in all_pages(ctx, "/products").await? {
        let Ok(p) = decode::<Product>(&raw) else {
            continue;
        };
        if raw.get("deleted_at").is_some_and(|d| !d.is_null()) || p.archived_at.is_some() {
            continue;
        }
        if let Some(u) = p
            .uom
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
        {
            *side.units.entry(u).or_default() += 1;
        }
    }
    Ok(side)
}

/// Luca's lists; `doc_types` are the document types whose series are asked for.
pub async fn luca_side(ctx: &Ctx, doc_types: &[i64]) -> anyhow::Result<LucaSide> {
    let luca = ctx.luca().await?;
    let entry = |v: &Value, id_keys: &[&str], code_keys: &[&str], name_keys: &[&str]| LucaEntry {
        id: id_field(v, id_keys).unwrap_or(0),
        code: text_field(v, code_keys).unwrap_or("").trim().to_string(),
        name: text_field(v, name_keys).unwrap_or("").trim().to_string(),
    };
    let warehouses = luca
        .list("ListeleStkDepo.do", &json!({}))
        .await?
        .iter()
        .map(|v| {
            entry(
                v,
                &["depoId", "id"],
                &["kod", "depoKodu"],
                &["tanim", "depoAdi"],
            )
        })
        .collect();
    let units = luca
        .list("ListeleGnlOlcumBirimi.do", &json!({}))
        .await?
        .iter()
        .map(|v| {
            entry(
                v,
                &["olcumBirimiId", "id"],
                &["kod", "kisaAd"],
                &["tanim", "ad"],
            )
        })
        .collect();
    let mut series = BTreeMap::new();
    for &t in doc_types.iter().collect::<BTreeSet<_>>() {
        let body = json!({ "gnlBelgeTurDetay": { "belgeTurDetayId": t } });
        let items = luca.list("ListeleGnlOrgSsSeri.do", &body).await?;
        let names: BTreeSet<String> = items
            .iter()
            // A list that names the type of each series is trusted on it; one that
            // does not is taken as answering the question asked.
            .filter(|v| id_field(v, &["belgeTurDetayId"]).is_none_or(|x| x == t))
            .filter_map(|v| text_field(v, &["seri", "belgeSeri", "seriNo"]))
            .map(|s| s.trim().to_string())
            .collect();
        series.insert(t, names.into_iter().collect());
    }
    Ok(LucaSide {
        warehouses,
        units,
        series,
    })
}

/// Text compared case- and accent-insensitively, the Turkish way (`İ`/`ı` → `i`).
pub fn fold(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            'İ' | 'I' | 'ı' => vec!['i'],
            'Ş' | 'ş' => vec!['s'],
            'Ğ' | 'ğ' => vec!['g'],
            'Ü' | 'ü' => vec!['u'],
            'Ö' | 'ö' => vec!['o'],
            'Ç' | 'ç' => vec!['c'],
            'Â' | 'â' => vec!['a'],
            other => other.to_lowercase().collect(),
        })
        .filter(|c| c.is_alphanumeric() || *c == ' ')
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Spellings of the common units, so that Katana's `pcs` finds Luca's `ADET`.
const UNIT_SYNONYMS: &[&[&str]] = &[
    &[
        "pcs", "pc", "piece", "pieces", "ea", "each", "unit", "adet", "ad",
    ],
    &["m", "mt", "metre", "meter", "metres", "meters"],
    &["kg", "kgs", "kilogram", "kilogramme", "kilo"],
    &["g", "gr", "gram", "gramme"],
    &["l", "lt", "litre", "liter"],
    &["m2", "sqm", "metrekare", "square metre"],
    &["pk", "pack", "package", "paket"],
    &["box", "koli", "kutu"],
];

/// How a Katana thing was matched to a Luca entry, said in the proposal's comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match<'a> {
    /// The one entry whose code or name is the same text.
    Exact(&'a LucaEntry),
    /// The one entry that is a known spelling of the same unit.
    Synonym(&'a LucaEntry),
    /// No single match: the entries that share a word with it, best first.
    Candidates(Vec<&'a LucaEntry>),
}

/// A Katana name (or unit) against Luca's entries: by code or name, exactly (folded);
/// for units also by a known synonym; else the candidates that share a word.
pub fn find<'a>(katana: &str, luca: &'a [LucaEntry], units: bool) -> Match<'a> {
    let k = fold(katana);
    let same = |e: &&LucaEntry| fold(&e.code) == k || fold(&e.name) == k;
    let exact: Vec<&LucaEntry> = luca.iter().filter(same).collect();
    if let [one] = exact.as_slice() {
        return Match::Exact(one);
    }
    if units && exact.is_empty() {
        let group = UNIT_SYNONYMS.iter().find(|g| g.contains(&k.as_str()));
        if let Some(group) = group {
            let hits: Vec<&LucaEntry> = luca
                .iter()
                .filter(|e| {
                    group.contains(&fold(&e.code).as_str())
                        || group.contains(&fold(&e.name).as_str())
                })
                .collect();
            if let [one] = hits.as_slice() {
                return Match::Synonym(one);
            }
        }
    }
    let words: BTreeSet<String> = k.split(' ').map(str::to_string).collect();
    let mut scored: Vec<(usize, &LucaEntry)> = luca
        .iter()
        .map(|e| {
            let theirs: BTreeSet<String> = fold(&format!("{} {}", e.code, e.name))
                .split(' ')
                .map(str::to_string)
                .collect();
            (words.intersection(&theirs).count(), e)
        })
        .filter(|(n, _)| *n > 0)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.code.cmp(&b.1.code)));
    Match::Candidates(scored.into_iter().map(|(_, e)| e).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(id: i64, code: &str, name: &str) -> LucaEntry {
        LucaEntry {
            id,
            code: code.into(),
            name: name.into(),
        }
    }

    #[test]
    fn matches_by_code_name_or_synonym_else_lists_candidates() {
        let depots = [e(1, "001", "Merkez Depo"), e(2, "002", "İZMİR DEPO")];
        assert_eq!(find("İzmir Depo", &depots, false), Match::Exact(&depots[1]));
        assert_eq!(find("001", &depots, false), Match::Exact(&depots[0]));
        assert_eq!(
            find("Merkez Fabrika", &depots, false),
            Match::Candidates(vec![&depots[0]])
        );
        assert_eq!(
            find("Ankara Showroom", &depots, false),
            Match::Candidates(vec![])
        );
        let units = [
            e(5, "AD", "ADET"),
            e(3, "KG", "KİLOGRAM"),
            e(8, "MT", "METRE"),
        ];
        assert_eq!(find("kg", &units, true), Match::Exact(&units[1]));
        assert_eq!(find("pcs", &units, true), Match::Synonym(&units[0]));
        assert_eq!(find("m", &units, true), Match::Synonym(&units[2]));
        // A synonym is for units only: a warehouse named "m" matches nothing.
        assert_eq!(find("pcs", &units, false), Match::Candidates(vec![]));
    }
}
