//! `mapping init`: reads both sides and prints a proposed `[mapping]` block as TOML on
//! stdout. Every entry is commented with both names and how it was matched; what it
//! cannot match is left commented out with its candidates, for the accountant to
//! decide. It writes nothing, to the store or to either remote.

use std::fmt::Write as _;

use crate::config::MappingConfig;
use crate::context::{Ctx, Needs, Options};
use crate::error::Exit;
use crate::progress::Mode;
use crate::sync::lookups::{self, KatanaSide, LucaEntry, LucaSide, Match};

pub async fn init(opts: &Options, progress: Mode) -> anyhow::Result<Exit> {
    let needs = Needs {
        config_file: !opts.sandbox,
        lock: false,
    };
    // The scratch store (if any) lives as long as the context that uses it.
    let (ctx, scratch) = open(opts, progress, needs).await?;
    let m = &ctx.config.mapping;
    let katana = lookups::katana_side(&ctx).await?;
    let luca = lookups::luca_side(&ctx, &[m.invoice_doc_type]).await?;
    let origin = format!(
        "Katana {} and Luca {} (branch {})",
        ctx.config.katana.base_url, ctx.config.luca.base_url, ctx.config.luca.branch_id
    );
    opts.host.print(propose(m, &katana, &luca, &origin))?;
    drop(ctx);
    drop(scratch);
    Ok(Exit::Ok)
}

/// A context that reads: no lock, and no store created where none is (a scratch one,
/// returned beside it, to be dropped after it).
async fn open(
    opts: &Options,
    progress: Mode,
    needs: Needs,
) -> anyhow::Result<(Ctx, Option<tempfile::TempDir>)> {
    if opts.sandbox {
        return Ok((Ctx::open(opts, progress, needs).await?, None));
    }
    let mut config = opts.load_config(true)?;
    // The Katana client keeps its rate log in the store; with no store yet, in a
    // scratch one, so that proposing a mapping creates nothing.
    let scratch = match crate::store::check_path(&config.store.path, crate::store::Access::Existing)
    {
        Ok(_) => None,
        Err(_) => Some(tempfile::tempdir()?),
    };
    if let Some(dir) = &scratch {
        config.store.path = dir.path().join("mapping.db");
    }
    let needs = Needs {
        config_file: false,
        lock: scratch.is_some(),
    };
    let ctx = Ctx::with_config(opts, progress, needs, config)?;
    Ok((ctx, scratch))
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn entry(e: &LucaEntry) -> String {
    match (e.code.is_empty(), e.name.is_empty()) {
        (false, false) => format!("{} {}", e.code, e.name),
        (true, _) => e.name.clone(),
        (_, true) => e.code.clone(),
    }
}

fn candidates(list: &[&LucaEntry]) -> String {
    if list.is_empty() {
        "no candidate".into()
    } else {
        let shown: Vec<String> = list.iter().take(5).map(|e| entry(e)).collect();
        format!("candidates: {}", shown.join("; "))
    }
}

/// The proposed block, from what both sides listed and the mapping configured now.
pub fn propose(m: &MappingConfig, katana: &KatanaSide, luca: &LucaSide, origin: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Proposed by `katana-sync mapping init` at {} from\n# {origin}.\n\
         # Check every line, then put this block in sync.toml in place of its [mapping]\n\
         # section; `katana-sync doctor` checks it against both sides.",
        crate::time::now()
    );
    let _ = writeln!(out, "[mapping]");
    let series = luca
        .series
        .get(&m.invoice_doc_type)
        .cloned()
        .unwrap_or_default();
    let listed = if series.is_empty() {
        "Luca lists none".to_string()
    } else {
        format!("Luca lists {}", series.join(", "))
    };
    let invoice_series = if series.contains(&m.invoice_series) || series.is_empty() {
        m.invoice_series.clone()
    } else {
        series[0].clone()
    };
    let _ = writeln!(
        out,
        "invoice_series = {}   # belgeSeri of invoices (type {}): {listed}{}",
        quote(&invoice_series),
        m.invoice_doc_type,
        if invoice_series != m.invoice_series {
            format!(
                "; the configured {} is not among them",
                quote(&m.invoice_series)
            )
        } else {
            String::new()
        }
    );
    let _ = writeln!(out, "invoice_doc_type = {}", m.invoice_doc_type);
    let _ = writeln!(out, "stock_in_doc_type = {}", m.stock_in_doc_type);
    let _ = writeln!(out, "stock_out_doc_type = {}", m.stock_out_doc_type);
    let _ = writeln!(
        out,
        "customer_code_prefix = {}",
        quote(&m.customer_code_prefix)
    );
    let _ = writeln!(
        out,
        "supplier_code_prefix = {}",
        quote(&m.supplier_code_prefix)
    );
    let _ = writeln!(out, "category_code = {}", quote(&m.category_code));
    let _ = writeln!(out, "timezone = {}", quote(&m.timezone_name));
    let default_depot = luca
        .warehouses
        .iter()
        .find(|w| w.code == m.default_warehouse);
    match (m.default_warehouse.is_empty(), default_depot) {
        (true, _) => {
            let _ = writeln!(
                out,
                "default_warehouse = \"\"   # a location with no entry below is unmapped; Luca \
                 lists: {}",
                luca.warehouses
                    .iter()
                    .map(entry)
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        (false, Some(w)) => {
            let _ = writeln!(
                out,
                "default_warehouse = {}   # Luca {} takes every location with no entry below",
                quote(&m.default_warehouse),
                entry(w)
            );
        }
        (false, None) => {
            let _ = writeln!(
                out,
                "default_warehouse = \"\"   # was {}, which Luca does not list; a location with \
                 no entry below is unmapped",
                quote(&m.default_warehouse)
            );
        }
    }
    let default_unit = luca.units.iter().find(|u| u.id == m.default_unit_id);
    match default_unit {
        Some(u) if m.default_unit_id != 0 => {
            let _ = writeln!(
                out,
                "default_unit_id = {}   # Luca {} takes every unit with no entry below",
                m.default_unit_id,
                entry(u)
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "default_unit_id = 0   # a unit with no entry below is unmapped{}",
                if m.default_unit_id != 0 {
                    format!(" (was {}, which Luca does not list)", m.default_unit_id)
                } else {
                    String::new()
                }
            );
        }
    }

    let _ = writeln!(
        out,
        "\n[mapping.warehouses]   # Katana location id = Luca depoKodu"
    );
    for (id, name) in &katana.locations {
        let key = quote(&id.to_string());
        match lookups::find(name, &luca.warehouses, false) {
            Match::Exact(w) | Match::Synonym(w) => {
                let _ = writeln!(
                    out,
                    "{key} = {}   # Katana {name} = Luca {} (same code or name)",
                    quote(&w.code),
                    entry(w)
                );
            }
            Match::Candidates(c) => {
                let code = c.first().map_or(String::new(), |w| w.code.clone());
                let _ = writeln!(
                    out,
                    "# {key} = {}   # Katana {name}: no match; {}{}",
                    quote(&code),
                    candidates(&c),
                    if c.is_empty() {
                        "; choose a new depoKodu and `warehouses push` creates it"
                    } else {
                        ""
                    }
                );
            }
        }
    }

    let _ = writeln!(
        out,
        "\n[mapping.units]   # Katana unit of measure = Luca olcumBirimiId"
    );
    for (unit, products) in &katana.units {
        let key = quote(unit);
        match lookups::find(unit, &luca.units, true) {
            Match::Exact(u) => {
                let _ = writeln!(
                    out,
                    "{key} = {}   # Katana {unit} ({products} product(s)) = Luca {} (same code or name)",
                    u.id,
                    entry(u)
                );
            }
            Match::Synonym(u) => {
                let _ = writeln!(
                    out,
                    "{key} = {}   # Katana {unit} ({products} product(s)) = Luca {} (the same unit)",
                    u.id,
                    entry(u)
                );
            }
            Match::Candidates(c) => {
                let _ = writeln!(
                    out,
                    "# {key} = {}   # Katana {unit} ({products} product(s)): no match; {}",
                    c.first().map_or(0, |u| u.id),
                    candidates(&c)
                );
            }
        }
    }

    let _ = writeln!(
        out,
        "\n[mapping.tax_rates]   # Katana tax rate id = VAT fraction; overrides Katana's rate"
    );
    for (id, name, rate) in &katana.tax_rates {
        let key = quote(&id.to_string());
        match rate {
            Some(r) => {
                let fraction = (*r / rust_decimal::Decimal::ONE_HUNDRED).normalize();
                let _ = writeln!(
                    out,
                    "# {key} = {}   # Katana {name}, rate {r} %: used as Katana reports it; \
                     uncomment only to override",
                    quote(&fraction.to_string())
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "# {key} = \"\"   # Katana {name} reports no rate: set its VAT fraction \
                     (e.g. \"0.20\"), or its orders are held back"
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn e(id: i64, code: &str, name: &str) -> LucaEntry {
        LucaEntry {
            id,
            code: code.into(),
            name: name.into(),
        }
    }

    #[test]
    fn the_proposal_is_toml_that_the_config_accepts() {
        let katana = KatanaSide {
            locations: vec![
                (1001, "Merkez Fabrika".into()),
                (1002, "İzmir Depo".into()),
                (1003, "Ankara \"Showroom\"".into()),
            ],
            tax_rates: vec![
                (301, "KDV %20".into(), Some(20.into())),
                (9, "?".into(), None),
            ],
            units: [
                ("pcs".to_string(), 4),
                ("kg".to_string(), 1),
                ("box".to_string(), 1),
            ]
            .into_iter()
            .collect(),
        };
        let luca = LucaSide {
            warehouses: vec![e(1, "001", "Merkez Depo"), e(2, "002", "İzmir Depo")],
            units: vec![e(5, "AD", "ADET"), e(3, "KG", "KİLOGRAM")],
            series: BTreeMap::from([(76, vec!["A".to_string(), "EFA2025".to_string()])]),
        };
        let base = crate::config::from_str(
            "",
            std::path::Path::new("t.toml"),
            &Default::default(),
            &|_| None,
        )
        .unwrap();
        let text = propose(&base.mapping, &katana, &luca, "test");
        let parsed = crate::config::from_str(
            &text,
            std::path::Path::new("t.toml"),
            &Default::default(),
            &|_| None,
        )
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
        let m = parsed.mapping;
        assert_eq!(m.warehouses, BTreeMap::from([(1002, "002".to_string())]));
        assert_eq!(
            m.units,
            BTreeMap::from([("kg".to_string(), 3), ("pcs".to_string(), 5)])
        );
        assert!(m.tax_rates.is_empty(), "overrides stay commented out");
        assert!(
            text.contains("# \"1001\" = \"001\"") && text.contains("candidates: 001 Merkez Depo")
        );
        assert!(text.contains("# \"box\" = 0") && text.contains("no candidate"));
        assert!(text.contains("Luca lists A, EFA2025"));
    }
}
