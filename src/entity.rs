//! The names of the records the program reports and holds back: the `entity` of a
//! run's errors, held records and planned writes (`--json`, `run_errors`, `runs.extra_json`),
//! of `quarantine` rows, and the kinds of the push pipeline's outbox. A leaf: it imports
//! nothing of the crate, so every layer may name an entity.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One kind of record, by the name the program writes for it. A name read back from the
/// store that is not one of these is an error, never a guess (`FromStr`, which serde
/// reads through too, so its error says just the name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum Entity {
    /// A run (the error of a run its process never closed).
    Run,
    /// A record of Katana's `/products` listing that did not decode.
    Products,
    /// A record of Katana's `/variants` listing that did not decode.
    Variants,
    /// A record of Katana's `/tax_rates` listing that did not decode.
    TaxRates,
    /// A record of Katana's `/locations` listing that did not decode.
    Locations,
    /// A record of Katana's `/customers` listing that did not decode.
    Customers,
    /// A record of Katana's `/suppliers` listing that did not decode.
    Suppliers,
    /// A product variant (one without a SKU, or a SKU asked for that none carries).
    Variant,
    /// A SKU carried by several live variants.
    Sku,
    SalesOrder,
    SalesOrderRow,
    /// A customer account (Katana customer, Luca cari); also its outbox kind.
    Customer,
    /// A supplier account; also its outbox kind.
    Supplier,
    /// A Katana location that maps to no Luca warehouse.
    Location,
    /// A Luca warehouse (depo); also its outbox kind.
    Warehouse,
    /// A Luca stock card; also its outbox kind.
    StockCard,
    /// A Luca invoice; also its outbox kind.
    Invoice,
    /// A Luca despatch note; also its outbox kind.
    Despatch,
    /// A Luca stock slip (a drift adjustment); also its outbox kind.
    StockSlip,
    /// A Katana inventory level (a variant at a location).
    Inventory,
}

impl Entity {
    /// Every entity, in declaration order.
    pub const ALL: [Entity; 20] = [
        Entity::Run,
        Entity::Products,
        Entity::Variants,
        Entity::TaxRates,
        Entity::Locations,
        Entity::Customers,
        Entity::Suppliers,
        Entity::Variant,
        Entity::Sku,
        Entity::SalesOrder,
        Entity::SalesOrderRow,
        Entity::Customer,
        Entity::Supplier,
        Entity::Location,
        Entity::Warehouse,
        Entity::StockCard,
        Entity::Invoice,
        Entity::Despatch,
        Entity::StockSlip,
        Entity::Inventory,
    ];

    /// The name as written in the store and the JSON (serde's names; a test keeps them
    /// equal).
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Run => "run",
            Entity::Products => "products",
            Entity::Variants => "variants",
            Entity::TaxRates => "tax_rates",
            Entity::Locations => "locations",
            Entity::Customers => "customers",
            Entity::Suppliers => "suppliers",
            Entity::Variant => "variant",
            Entity::Sku => "sku",
            Entity::SalesOrder => "sales_order",
            Entity::SalesOrderRow => "sales_order_row",
            Entity::Customer => "customer",
            Entity::Supplier => "supplier",
            Entity::Location => "location",
            Entity::Warehouse => "warehouse",
            Entity::StockCard => "stock_card",
            Entity::Invoice => "invoice",
            Entity::Despatch => "despatch",
            Entity::StockSlip => "stock_slip",
            Entity::Inventory => "inventory",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A name that is no [`Entity`] of this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEntity(pub String);

impl fmt::Display for UnknownEntity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown entity {:?}", self.0)
    }
}

impl std::error::Error for UnknownEntity {}

impl FromStr for Entity {
    type Err = UnknownEntity;

    fn from_str(s: &str) -> Result<Entity, UnknownEntity> {
        Entity::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| UnknownEntity(s.to_string()))
    }
}

/// Written as its name. Read back through `FromStr`, by the store's readers, which can
/// name the row of a name they do not know.
impl rusqlite::ToSql for Entity {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl TryFrom<String> for Entity {
    type Error = UnknownEntity;

    fn try_from(s: String) -> Result<Entity, UnknownEntity> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names this program wrote while they were strings: the enum must write the
    /// same, no more and no fewer.
    const OLD_NAMES: [&str; 20] = [
        "run",
        "products",
        "variants",
        "tax_rates",
        "locations",
        "customers",
        "suppliers",
        "variant",
        "sku",
        "sales_order",
        "sales_order_row",
        "customer",
        "supplier",
        "location",
        "warehouse",
        "stock_card",
        "invoice",
        "despatch",
        "stock_slip",
        "inventory",
    ];

    #[test]
    fn every_entity_round_trips_through_its_name_and_serde() {
        for e in Entity::ALL {
            let name = e.as_str();
            assert_eq!(name.parse::<Entity>(), Ok(e));
            assert_eq!(Entity::try_from(name.to_string()), Ok(e));
            assert_eq!(e.to_string(), name);
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Entity>(&json).unwrap(), e);
        }
    }

    #[test]
    fn the_names_are_exactly_those_written_before() {
        let mut now: Vec<&str> = Entity::ALL.iter().map(|e| e.as_str()).collect();
        let mut old = OLD_NAMES.to_vec();
        now.sort_unstable();
        old.sort_unstable();
        assert_eq!(now, old);
        let distinct: std::collections::BTreeSet<Entity> = Entity::ALL.into_iter().collect();
        assert_eq!(distinct.len(), Entity::ALL.len(), "ALL lists each once");
    }

    #[test]
    fn an_unknown_name_is_an_error() {
        for bad in ["", "Variant", "gadget", "sales_orders", " sku"] {
            assert_eq!(bad.parse::<Entity>(), Err(UnknownEntity(bad.to_string())));
            let err = serde_json::from_str::<Entity>(&format!("\"{bad}\"")).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("unknown entity {bad:?}")),
                "{err}"
            );
        }
        assert_eq!(
            "gadget".parse::<Entity>().unwrap_err().to_string(),
            "unknown entity \"gadget\""
        );
    }
}
