//! What a pass is, in one list: its history name (`sync_type`), its command line path,
//! its `[sync.intervals]` key, the passes it runs after, the remotes it talks to, and
//! the file under `commands/passes/` that owns its arguments and how it runs.
//!
//! The list is written once, in [`for_each_pass!`], and expanded twice: here into the
//! plain facts every layer may read (`SyncType`, `PassInfo`: the report, the store's
//! history, the config's intervals, metrics), and in `commands::passes` into the command
//! line and its dispatch. So the facts sit below the commands, and the arrows keep
//! pointing down (commands → sync → store / clients), yet a pass is named once.
//!
//! Adding a pass: one line here, its file `commands/passes/<file>.rs` with `Args` and
//! `run(ctx, tally, args)`, and a `mod` line in `commands/passes.rs`.

use crate::error::Remote;

/// The schedules of `[sync.intervals]` (SPEC section 2), with their defaults. Every pass
/// with a command names one; passes of one group (`customers pull` and `push`) share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Warehouses,
    Customers,
    Suppliers,
    Products,
    Orders,
    Stock,
    Invoices,
    Despatches,
}

impl Interval {
    /// In the order `all` runs them.
    pub const ALL: [(Interval, &'static str, &'static str); 8] = [
        (Interval::Warehouses, "warehouses", "6h"),
        (Interval::Customers, "customers", "6h"),
        (Interval::Suppliers, "suppliers", "6h"),
        (Interval::Products, "products", "6h"),
        (Interval::Orders, "orders", "5m"),
        (Interval::Stock, "stock", "6h"),
        (Interval::Invoices, "invoices", "5m"),
        (Interval::Despatches, "despatches", "5m"),
    ];

    pub fn key(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(i, ..)| *i == self)
            .map_or("", |e| e.1)
    }
}

/// What the registry knows of a pass besides how to run it.
#[derive(Debug, Clone, Copy)]
pub struct PassInfo {
    pub sync_type: SyncType,
    /// Words on the command line (`["products", "pull"]`); empty: a command of its own.
    pub cli: &'static [&'static str],
    pub about: &'static str,
    pub interval: Option<Interval>,
    /// Passes that must have run first (for `all`'s order).
    pub after: &'static [SyncType],
    pub remotes: &'static [Remote],
}

/// The one list of passes, handed to `$callback` (a macro that takes the lines).
/// The order is that of `SyncType` (history and `--json` names), not `all`'s: `all`
/// orders passes by their `after` lists and `Interval::ALL`.
macro_rules! for_each_pass {
    ($callback:ident) => {
        $callback! {
            OrdersPull = "orders_pull", ["orders", "pull"],
                "Pull sales orders (with rows) into the store, incrementally; queue stock adjustments",
                interval: Some(Interval::Orders), after: [WarehousesPull, ProductsPull],
                remotes: [Katana], file: orders_pull;
            ProductsPull = "products_pull", ["products", "pull"],
                "Pull Katana products and variants, and/or Luca stock cards (the SKU -> skartId map)",
                interval: Some(Interval::Products), after: [], remotes: [Katana, Luca],
                file: products_pull;
            ProductsPush = "products_push", ["products", "push"],
                "Create the Luca stock card of every variant that has none (append-only)",
                interval: Some(Interval::Products), after: [ProductsPull], remotes: [Luca],
                file: products_push;
            CustomersPull = "customers_pull", ["customers", "pull"],
                "Pull Katana customers into the store, and match their existing Luca accounts (by code, then tax number)",
                interval: Some(Interval::Customers), after: [], remotes: [Katana, Luca],
                file: customers_pull;
            SuppliersPull = "suppliers_pull", ["suppliers", "pull"],
                "Pull Katana suppliers into the store, and match their existing Luca accounts (by code, then tax number)",
                interval: Some(Interval::Suppliers), after: [], remotes: [Katana, Luca],
                file: suppliers_pull;
            WarehousesPull = "warehouses_pull", ["warehouses", "pull"],
                "Pull Katana locations into the store, and Luca's warehouses (depo) into its map",
                interval: Some(Interval::Warehouses), after: [], remotes: [Katana, Luca],
                file: warehouses_pull;
            CustomersPush = "customers_push", ["customers", "push"],
                "Create the Luca account (cari) of every Katana customer that has none (exactly once)",
                interval: Some(Interval::Customers), after: [CustomersPull], remotes: [Luca],
                file: customers_push;
            SuppliersPush = "suppliers_push", ["suppliers", "push"],
                "Create the Luca account of every Katana supplier that has none (exactly once)",
                interval: Some(Interval::Suppliers), after: [SuppliersPull], remotes: [Luca],
                file: suppliers_push;
            WarehousesPush = "warehouses_push", ["warehouses", "push"],
                "Create the Luca warehouse (depo) of every mapped Katana location that has none",
                interval: Some(Interval::Warehouses), after: [WarehousesPull], remotes: [Luca],
                file: warehouses_push;
            Invoices = "invoices", ["invoices"],
                "Push every approved, not yet invoiced order to Luca as one sales invoice",
                interval: Some(Interval::Invoices), after: [OrdersPull, ProductsPush, CustomersPush],
                remotes: [Luca], file: invoices;
            Despatches = "despatches", ["despatches"],
                "Push a despatch note for every invoiced order Katana reports delivered",
                interval: Some(Interval::Despatches), after: [Invoices], remotes: [Luca],
                file: despatches;
            Stock = "stock", ["stock"],
                "Compare Katana inventory with Luca on-hand; queue drift adjustments; send approved slips",
                interval: Some(Interval::Stock), after: [ProductsPull, WarehousesPull, OrdersPull],
                remotes: [Katana, Luca], file: stock;
            DeleteSku = "delete_sku", [], "Delete the Luca stock card of a SKU",
                interval: None, after: [], remotes: [Luca], file: ;
        }
    };
}
pub(crate) use for_each_pass;

macro_rules! sync_types {
    ($(
        $variant:ident = $name:literal, [$($word:literal),*], $about:literal,
        interval: $interval:expr, after: [$($after:ident),*], remotes: [$($remote:ident),*],
        file: $($file:ident)?;
    )*) => {
    /// The kinds of pass, as named in history and `--json`.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash,
        serde::Serialize, serde::Deserialize, clap::ValueEnum,
    )]
    #[serde(rename_all = "snake_case")]
    #[value(rename_all = "snake_case")]
    pub enum SyncType { $($variant),* }

    impl SyncType {
        pub const ALL: &'static [SyncType] = &[$(SyncType::$variant),*];

        pub fn info(self) -> &'static PassInfo {
            const INFOS: &[PassInfo] = &[$(PassInfo {
                sync_type: SyncType::$variant,
                cli: &[$($word),*],
                about: $about,
                interval: $interval,
                after: &[$(SyncType::$after),*],
                remotes: &[$(Remote::$remote),*],
            }),*];
            &INFOS[self as usize]
        }

        pub fn as_str(self) -> &'static str {
            match self { $(SyncType::$variant => $name),* }
        }

        pub fn parse(s: &str) -> Option<SyncType> {
            Self::ALL.iter().copied().find(|t| t.as_str() == s)
        }
    }

    };
}

for_each_pass!(sync_types);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_types_round_trip() {
        for &t in SyncType::ALL {
            assert_eq!(SyncType::parse(t.as_str()), Some(t));
            assert_eq!(t.info().sync_type, t);
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::Value::String(t.as_str().into())
            );
            let v = clap::ValueEnum::to_possible_value(&t).unwrap();
            assert_eq!(v.get_name(), t.as_str());
        }
        assert_eq!(SyncType::parse("nope"), None);
    }
}
