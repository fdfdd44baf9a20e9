//! One mapping function per identity, used everywhere: the stock code sent on a stock
//! card is byte for byte the code sent on invoice and slip lines, the cari code of a
//! customer is the same in every document.

use rusqlite::Connection;

use crate::config::MappingConfig;
use crate::entity::Entity;

/// A variant's Luca stock code (`kartKodu`): its SKU, trimmed. `None` when it has none.
pub fn stock_code(sku: Option<&str>) -> Option<String> {
    sku.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A stock card's name: the product name, then ` / ` and the option values joined by
/// `, ` when there are any (`Çelik Raf / Mavi, 120 cm`).
pub fn card_name(product: &str, options: &[String]) -> String {
    if options.is_empty() {
        product.trim().to_string()
    } else {
        format!("{} / {}", product.trim(), options.join(", "))
    }
}

/// The Luca warehouse (depoKodu) of a Katana location: its entry in
/// `[mapping.warehouses]`, else `default_warehouse`; `None` = unmapped.
pub fn warehouse_code(mapping: &MappingConfig, location: Option<i64>) -> Option<String> {
    location
        .and_then(|id| mapping.warehouses.get(&id).cloned())
        .or_else(|| Some(mapping.default_warehouse.clone()))
        .filter(|c| !c.trim().is_empty())
}

/// The cari code the tool gives the account of a Katana customer or supplier: the
/// prefix + the Katana id padded to 8 digits (`K00000042`). An account adopted by tax
/// number keeps its own code: use `store::luca_ids::account_of` for documents.
pub fn cari_code(prefix: &str, katana_id: i64) -> String {
    format!("{prefix}{katana_id:08}")
}

/// The quarantine entity under which a SKU carried by several live variants is held.
pub const DUPLICATE_SKU: Entity = Entity::Sku;

pub fn sku_is_quarantined(conn: &Connection, sku: &str) -> anyhow::Result<bool> {
    crate::store::quarantine::is_held(conn, DUPLICATE_SKU, sku)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities() {
        assert_eq!(stock_code(Some("  RAF-01 ")).as_deref(), Some("RAF-01"));
        assert_eq!(stock_code(Some("   ")), None);
        assert_eq!(stock_code(None), None);
        assert_eq!(
            card_name("Çelik Raf", &["Mavi".into(), "120 cm".into()]),
            "Çelik Raf / Mavi, 120 cm"
        );
        assert_eq!(card_name("Döküm Kapak ", &[]), "Döküm Kapak");
        assert_eq!(cari_code("K", 42), "K00000042");
    }
}
