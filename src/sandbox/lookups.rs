//! Luca's lookup lists that `mapping init` and `doctor` read: units of measure
//! (`ListeleGnlOlcumBirimi.do`) and document series (`ListeleGnlOrgSsSeri.do`). The
//! reference gives their request bodies only; the answers are unverified, so they take
//! Koza's naming (`olcumBirimiId`, `kod`, `tanim`; `seri`, `belgeTurDetayId`) in
//! wrappers that differ (units under `list`, series a bare array), and the series list
//! ignores a filter it does not know rather than refusing it (docs/sandbox.md).

use serde_json::{Value, json};

use super::ledger::DocKind;

/// The simulator's units: the ids `--sandbox` maps `pcs`, `m` and `kg` to, and a few
/// that no Katana unit of the demo data uses.
const UNITS: &[(i64, &str, &str)] = &[
    (2, "GR", "GRAM"),
    (3, "KG", "KİLOGRAM"),
    (4, "LT", "LİTRE"),
    (5, "AD", "ADET"),
    (8, "MT", "METRE"),
    (9, "M2", "METREKARE"),
    (12, "PK", "PAKET"),
];

/// `{}` lists every unit; `{"gnlOlcumBirimi":{"tanim":T}}` those named exactly T.
pub fn units(body: &Value) -> Result<Vec<Value>, String> {
    let wanted = body
        .pointer("/gnlOlcumBirimi/tanim")
        .and_then(Value::as_str)
        .map(str::trim);
    Ok(UNITS
        .iter()
        .filter(|(_, _, tanim)| wanted.is_none_or(|w| w == *tanim))
        .map(|(id, kod, tanim)| json!({ "olcumBirimiId": id, "kod": kod, "tanim": tanim }))
        .collect())
}

/// `{"gnlBelgeTurDetay":{"belgeTurDetayId":N}}` lists the series of document type N;
/// without it, the series of every type, each naming its type.
pub fn series(body: &Value) -> Result<Vec<Value>, String> {
    let wanted = body
        .pointer("/gnlBelgeTurDetay/belgeTurDetayId")
        .and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok()));
    let mut out = Vec::new();
    let mut id = 100;
    for kind in [DocKind::Invoice, DocKind::Despatch, DocKind::StockSlip] {
        for (doc_type, _) in kind.doc_types() {
            for seri in kind.series() {
                id += 1;
                if wanted.is_none_or(|w| w == *doc_type) {
                    out.push(json!({
                        "orgSsSeriId": id,
                        "seri": seri,
                        "belgeTurDetayId": doc_type,
                        "aktif": true,
                    }));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_filter_as_asked() {
        let invoice = series(&json!({"gnlBelgeTurDetay": {"belgeTurDetayId": 76}})).unwrap();
        let names: Vec<&str> = invoice.iter().filter_map(|v| v["seri"].as_str()).collect();
        assert_eq!(names, ["A", "EFA2025"]);
        let despatch = series(&json!({"gnlBelgeTurDetay": {"belgeTurDetayId": "52"}})).unwrap();
        assert!(despatch.iter().any(|v| v["seri"] == "GND2022"));
        assert!(series(&json!({})).unwrap().len() > invoice.len());
        assert_eq!(
            units(&json!({"gnlOlcumBirimi": {"tanim": "GRAM"}}))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(units(&json!({})).unwrap().len(), UNITS.len());
    }
}
