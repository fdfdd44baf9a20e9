//! The Katana side's records, in the wire shape of `reference/katana/openapi.yaml`, and
//! the mutators tests use to change them "in Katana" while a client syncs.
//!
//! Field types follow what the live API sends, not what would be convenient: decimal
//! strings for `price_per_unit`, `total_discount` and every inventory quantity, JSON
//! numbers for `total` and `conversion_rate`, a row `quantity` that is sometimes a number
//! and sometimes a string. Amounts are held as `Decimal` (or the exact wire string) and
//! only become JSON numbers on the way out.

use std::collections::BTreeMap;
use std::str::FromStr;

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The current time at millisecond precision, as Katana stamps records.
pub fn now() -> Timestamp {
    let ms = Timestamp::now().as_millisecond();
    Timestamp::from_millisecond(ms).unwrap_or_else(|_| Timestamp::now())
}

/// `t` plus whole days (saturating at the end of time).
pub fn plus_days(t: Timestamp, days: i64) -> Timestamp {
    Timestamp::from_millisecond(t.as_millisecond().saturating_add(days * 86_400_000)).unwrap_or(t)
}

/// Serde adapters for Katana's wire formats.
pub mod wire {
    use std::fmt;
    use std::str::FromStr;

    use jiff::Timestamp;
    use rust_decimal::Decimal;
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    /// `2026-11-28T09:00:00.000Z`: UTC, milliseconds, `Z`, as Katana prints every timestamp.
    pub fn format_time(ts: Timestamp) -> String {
        format!("{ts:.3}")
    }

    /// Katana's filters take "ISO 8601": a full timestamp with an offset, or a bare date or
    /// date-time, read as UTC.
    pub fn parse_time(text: &str) -> Option<Timestamp> {
        if let Ok(ts) = Timestamp::from_str(text) {
            return Some(ts);
        }
        if let Ok(dt) = jiff::civil::DateTime::from_str(text) {
            return dt
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .ok()
                .map(|z| z.timestamp());
        }
        None
    }

    pub mod time {
        use super::*;

        pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&format_time(*ts))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
            let text: String = serde::Deserialize::deserialize(d)?;
            parse_time(&text).ok_or_else(|| de::Error::custom(format!("bad timestamp {text:?}")))
        }
    }

    pub mod opt_time {
        use super::*;

        pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match ts {
                Some(ts) => s.serialize_str(&format_time(*ts)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            let text: Option<String> = serde::Deserialize::deserialize(d)?;
            text.map(|t| {
                parse_time(&t).ok_or_else(|| de::Error::custom(format!("bad timestamp {t:?}")))
            })
            .transpose()
        }
    }

    /// A `Decimal` written as a JSON number (the wire's `total`, `conversion_rate`, ...).
    pub fn decimal_to_json(d: Decimal) -> serde_json::Value {
        crate::luca::number(d)
    }

    /// Reads a number or a numeric string into a `Decimal`.
    pub struct DecimalVisitor;

    impl<'de> Visitor<'de> for DecimalVisitor {
        type Value = Decimal;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a decimal number or string")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        // A JSON number arrives as f64; its shortest round-trip text is the text that was
        // written, so parsing that text restores the exact decimal.
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
            self.visit_str(&v.to_string())
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
            Decimal::from_str(v)
                .or_else(|_| Decimal::from_scientific(v))
                .map_err(|_| E::custom(format!("bad decimal {v:?}")))
        }

        // With serde_json's `arbitrary_precision`, a number arrives as a one-entry map
        // holding its exact text.
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Decimal, A::Error> {
            let Some((_, text)) = map.next_entry::<String, String>()? else {
                return Err(de::Error::custom("an empty object is not a number"));
            };
            self.visit_str(&text)
        }
    }

    pub mod number {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
            serde::Serialize::serialize(&decimal_to_json(*d), s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
            d.deserialize_any(DecimalVisitor)
        }
    }

    pub mod opt_number {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => serde::Serialize::serialize(&decimal_to_json(*d), s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
            let v: Option<serde_json::Value> = serde::Deserialize::deserialize(d)?;
            match v {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(v) => v
                    .deserialize_any(DecimalVisitor)
                    .map(Some)
                    .map_err(de::Error::custom),
            }
        }
    }

    /// Inventory quantities: decimal strings with five places (`"7.00000"`).
    pub mod qty {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&format!("{:.5}", d))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
            d.deserialize_any(DecimalVisitor)
        }
    }

    /// Money held as a decimal string with ten places (`"1250.0000000000"`).
    pub mod money {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&format!("{:.10}", d))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
            d.deserialize_any(DecimalVisitor)
        }
    }
}

/// `price_per_unit`-style money string with Katana's ten decimal places.
pub fn money_string(d: Decimal) -> String {
    format!("{:.10}", d)
}

/// A row quantity: the live API sends it as a number or as a decimal string.
#[derive(Debug, Clone, PartialEq)]
pub enum Quantity {
    Number(Decimal),
    Text(String),
}

impl Quantity {
    /// The quantity, when it parses.
    pub fn decimal(&self) -> Option<Decimal> {
        match self {
            Quantity::Number(d) => Some(*d),
            Quantity::Text(t) => Decimal::from_str(t).ok(),
        }
    }
}

impl Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Quantity::Number(d) => wire::decimal_to_json(*d).serialize(s),
            Quantity::Text(t) => s.serialize_str(t),
        }
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::Deserializer as _;
        match Value::deserialize(d)? {
            Value::String(t) => Ok(Quantity::Text(t)),
            Value::Number(n) => n
                .deserialize_any(wire::DecimalVisitor)
                .map(Quantity::Number)
                .map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "quantity must be a number or a string, got {other}"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SalesOrderStatus {
    Pending,
    NotShipped,
    PartiallyPacked,
    Packed,
    PartiallyDelivered,
    Delivered,
}

impl SalesOrderStatus {
    pub const ALL: [SalesOrderStatus; 6] = [
        SalesOrderStatus::Pending,
        SalesOrderStatus::NotShipped,
        SalesOrderStatus::PartiallyPacked,
        SalesOrderStatus::Packed,
        SalesOrderStatus::PartiallyDelivered,
        SalesOrderStatus::Delivered,
    ];

    /// The wire name (`NOT_SHIPPED`), as the `status` filter takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SalesOrderStatus::Pending => "PENDING",
            SalesOrderStatus::NotShipped => "NOT_SHIPPED",
            SalesOrderStatus::PartiallyPacked => "PARTIALLY_PACKED",
            SalesOrderStatus::Packed => "PACKED",
            SalesOrderStatus::PartiallyDelivered => "PARTIALLY_DELIVERED",
            SalesOrderStatus::Delivered => "DELIVERED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub id: i64,
    /// Set on a sales order's addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sales_order_id: Option<i64>,
    /// Set on a customer's addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<i64>,
    pub entity_type: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub line_1: Option<String>,
    pub line_2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    #[serde(with = "wire::time")]
    pub created_at: Timestamp,
    #[serde(with = "wire::time")]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalesOrder {
    pub id: i64,
    pub customer_id: i64,
    pub order_no: String,
    pub source: Option<String>,
    #[serde(with = "wire::time")]
    pub order_created_date: Timestamp,
    #[serde(with = "wire::opt_time")]
    pub delivery_date: Option<Timestamp>,
    #[serde(with = "wire::opt_time")]
    pub picked_date: Option<Timestamp>,
    pub location_id: i64,
    pub status: SalesOrderStatus,
    pub currency: String,
    /// Null for orders in the base currency (TRY).
    #[serde(with = "wire::opt_number")]
    pub conversion_rate: Option<Decimal>,
    #[serde(with = "wire::opt_time")]
    pub conversion_date: Option<Timestamp>,
    pub invoicing_status: Option<String>,
    /// Tax included, order currency.
    #[serde(with = "wire::number")]
    pub total: Decimal,
    #[serde(with = "wire::number")]
    pub total_in_base_currency: Decimal,
    pub additional_info: Option<String>,
    pub customer_ref: Option<String>,
    pub ecommerce_order_type: Option<String>,
    pub ecommerce_store_name: Option<String>,
    pub ecommerce_order_id: Option<String>,
    pub product_availability: Option<String>,
    pub production_status: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_number_url: Option<String>,
    pub billing_address_id: Option<i64>,
    pub shipping_address_id: Option<i64>,
    pub addresses: Vec<Address>,
    #[serde(with = "wire::time")]
    pub created_at: Timestamp,
    #[serde(with = "wire::time")]
    pub updated_at: Timestamp,
    #[serde(with = "wire::opt_time")]
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalesOrderRow {
    pub id: i64,
    pub sales_order_id: i64,
    pub quantity: Quantity,
    pub variant_id: i64,
    pub tax_rate_id: Option<i64>,
    pub location_id: Option<i64>,
    pub product_availability: Option<String>,
    /// Tax excluded, order currency, a decimal string (or whatever Katana sent).
    pub price_per_unit: String,
    #[serde(with = "wire::number")]
    pub price_per_unit_in_base_currency: Decimal,
    /// Tax excluded.
    #[serde(with = "wire::number")]
    pub total: Decimal,
    #[serde(with = "wire::number")]
    pub total_in_base_currency: Decimal,
    pub total_discount: Option<String>,
    pub cogs_value: Option<String>,
    pub linked_manufacturing_order_id: Option<i64>,
    #[serde(with = "wire::opt_number")]
    pub conversion_rate: Option<Decimal>,
    #[serde(with = "wire::opt_time")]
    pub conversion_date: Option<Timestamp>,
    #[serde(with = "wire::time")]
    pub created_at: Timestamp,
    #[serde(with = "wire::time")]
    pub updated_at: Timestamp,
    #[serde(with = "wire::opt_time")]
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub comment: Option<String>,
    pub currency: String,
    /// The tax id by convention: `VKN:1234567890` or `TCKN:12345678901`.
    pub reference_id: Option<String>,
    pub category: Option<String>,
    #[serde(with = "wire::opt_number")]
    pub discount_rate: Option<Decimal>,
    pub default_billing_id: Option<i64>,
    pub default_shipping_id: Option<i64>,
    pub addresses: Vec<Address>,
    #[serde(with = "wire::time")]
    pub created_at: Timestamp,
    #[serde(with = "wire::time")]
    pub updated_at: Timestamp,
    #[serde(with = "wire::opt_time")]
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Supplier {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub currency: String,
    pub comment: Option<String>,
    pub default_address_id: Option<i64>,
    pub addresses: Vec<Address>,
    #[serde(with = "wire::time")]
    pub created_at: Timestamp,
    #[serde(with = "wire::time")]
    pub updated_at: Timestamp,
    #[serde(with = "wire::opt_time")]
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemConfig {
    pub id: i64,
    pub name: String,
    pub values: Vec<String>,
    pub product_id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub uom: String,
    pub category_name: Option<String>,
    pub is_sellable: bool,
    pub is_producible: bool,
    pub is_purchasable: bool,
    pub is_auto_assembly: bool,
    pub default_supplier_id: Option<i64>,
    pub additional_info: String,
    pub batch_tracked: bool,
    pub serial_tracked: bool,
    pub operations_in_sequence: bool,
    #[serde(rename = "type")]
    pub kind: String,
    pub purchase_uom: Option<String>,
    pub purchase_uom_conversion_rate: Option<String>,
    pub lead_time: Option<i64>,
    pub custom_field_collection_id: Option<i64>,
    pub configs: Vec<ItemConfig>,
    #[serde(with = "wire::opt_time")]
    pub archived_at: Option<Timestamp>,
    #[serde(with = "wire::time")]
    pub created_at: Timestamp,
    #[serde(with = "wire::time")]
    pub updated_at: Timestamp,
    #[serde(with = "wire::opt_time")]
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigAttribute {
    pub config_name: String,
    pub config_value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub id: i64,
    /// Nullable and not unique, as on the live API.
    pub sku: Option<String>,
    #[serde(with = "wire::opt_number")]
    pub sales_price: Option<Decimal>,
    #[serde(with = "wire::number")]
    pub purchase_price: Decimal,
    pub product_id: Option<i64>,
    pub material_id: Option<i64>,
    #[serde(rename = "type")]
    pub kind: String,
    pub internal_barcode: Option<String>,
    pub registered_barcode: Option<String>,
    pub supplier_item_codes: Vec<String>,
    pub lead_time: Option<i64>,
    /// Arrives as null rather than `[]` on the live API.
    pub custom_fields: Option<Vec<Value>>,
    pub config_attributes: Vec<ConfigAttribute>,
    #[serde(with = "wire::time")]
    pub created_at: Timestamp,
    #[serde(with = "wire::time")]
    pub updated_at: Timestamp,
    #[serde(with = "wire::opt_time")]
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationAddress {
    pub id: i64,
    pub city: String,
    pub country: String,
    pub line_1: String,
    pub line_2: String,
    pub state: String,
    pub zip: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub id: i64,
    pub name: String,
    pub legal_name: String,
    pub address_id: Option<i64>,
    pub address: Option<LocationAddress>,
    pub is_primary: bool,
    pub sales_allowed: bool,
    pub purchase_allowed: bool,
    pub manufacturing_allowed: bool,
    #[serde(with = "wire::time")]
    pub created_at: Timestamp,
    #[serde(with = "wire::time")]
    pub updated_at: Timestamp,
    #[serde(with = "wire::opt_time")]
    pub deleted_at: Option<Timestamp>,
}

/// One row per (variant, location); every quantity and value is a decimal string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryLevel {
    pub variant_id: i64,
    pub location_id: i64,
    #[serde(with = "wire::qty")]
    pub quantity_in_stock: Decimal,
    #[serde(with = "wire::qty")]
    pub quantity_committed: Decimal,
    #[serde(with = "wire::qty")]
    pub quantity_expected: Decimal,
    #[serde(with = "wire::qty")]
    pub quantity_missing_or_excess: Decimal,
    pub quantity_potential: Option<String>,
    #[serde(with = "wire::qty")]
    pub safety_stock_level: Decimal,
    #[serde(with = "wire::qty")]
    pub reorder_point: Decimal,
    #[serde(with = "wire::money")]
    pub average_cost: Decimal,
    #[serde(with = "wire::money")]
    pub value_in_stock: Decimal,
    #[serde(with = "wire::opt_time")]
    pub archived_at: Option<Timestamp>,
    pub default_storage_bin: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaxRate {
    pub id: i64,
    pub name: String,
    /// A percentage: 20 means 20 %.
    #[serde(with = "wire::number")]
    pub rate: Decimal,
    pub is_default_sales: bool,
    pub is_default_purchases: bool,
    pub display_name: String,
    #[serde(with = "wire::time")]
    pub created_at: Timestamp,
    #[serde(with = "wire::time")]
    pub updated_at: Timestamp,
}

/// What the list filters read from a record.
pub trait Listed {
    fn id(&self) -> i64;
    fn created_at(&self) -> Timestamp;
    fn updated_at(&self) -> Timestamp;
    fn deleted_at(&self) -> Option<Timestamp>;
}

/// A record the mutators can edit and soft-delete.
pub trait Entity: Listed + Sized {
    fn table(data: &mut KatanaData) -> &mut BTreeMap<i64, Self>;
    fn stamp_updated(&mut self, at: Timestamp);
    fn stamp_deleted(&mut self, at: Timestamp);
    /// Knock-on changes after record `id` was edited (`deleted` false) or soft-deleted.
    fn after_change(_data: &mut KatanaData, _id: i64, _at: Timestamp, _deleted: bool) {}
}

macro_rules! listed {
    ($($t:ty),*) => {$(
        impl Listed for $t {
            fn id(&self) -> i64 { self.id }
            fn created_at(&self) -> Timestamp { self.created_at }
            fn updated_at(&self) -> Timestamp { self.updated_at }
            fn deleted_at(&self) -> Option<Timestamp> { self.deleted_at }
        }
    )*};
}

listed!(
    SalesOrder,
    SalesOrderRow,
    Customer,
    Supplier,
    Product,
    Variant,
    Location
);

impl Listed for TaxRate {
    fn id(&self) -> i64 {
        self.id
    }
    fn created_at(&self) -> Timestamp {
        self.created_at
    }
    fn updated_at(&self) -> Timestamp {
        self.updated_at
    }
    fn deleted_at(&self) -> Option<Timestamp> {
        None
    }
}

macro_rules! entity {
    ($($t:ty => $field:ident),*) => {$(
        impl Entity for $t {
            fn table(data: &mut KatanaData) -> &mut BTreeMap<i64, Self> { &mut data.$field }
            fn stamp_updated(&mut self, at: Timestamp) { self.updated_at = at; }
            fn stamp_deleted(&mut self, at: Timestamp) {
                self.deleted_at = Some(at);
                self.updated_at = at;
            }
            fn after_change(data: &mut KatanaData, id: i64, at: Timestamp, deleted: bool) {
                data.knock_on(stringify!($field), id, at, deleted);
            }
        }
    )*};
}

entity!(
    SalesOrder => sales_orders,
    SalesOrderRow => sales_order_rows,
    Customer => customers,
    Supplier => suppliers,
    Product => products,
    Variant => variants,
    Location => locations
);

/// The next id of each entity; kept with the data so a persisted sandbox resumes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KatanaIds {
    pub sales_order: i64,
    pub sales_order_row: i64,
    pub address: i64,
    pub customer: i64,
    pub supplier: i64,
    pub product: i64,
    pub config: i64,
    pub variant: i64,
    pub location: i64,
    pub order_no: i64,
}

impl Default for KatanaIds {
    fn default() -> Self {
        // Realistic magnitudes, distinct per entity so a mixed-up id is caught.
        Self {
            sales_order: 1_700_001,
            sales_order_row: 3_710_001,
            address: 1_200_001,
            customer: 4_600_001,
            supplier: 520_001,
            product: 980_001,
            config: 201,
            variant: 4_160_001,
            location: 1001,
            order_no: 1001,
        }
    }
}

fn take(counter: &mut i64) -> i64 {
    let id = *counter;
    *counter += 1;
    id
}

/// Everything the simulated Katana account holds. Tests read and change it through
/// [`super::Sandbox::with_katana`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KatanaData {
    /// Orders without their rows; rows live in `sales_order_rows` and are embedded on output.
    pub sales_orders: BTreeMap<i64, SalesOrder>,
    pub sales_order_rows: BTreeMap<i64, SalesOrderRow>,
    pub customers: BTreeMap<i64, Customer>,
    pub suppliers: BTreeMap<i64, Supplier>,
    /// Products without their variants; variants are embedded on output.
    pub products: BTreeMap<i64, Product>,
    pub variants: BTreeMap<i64, Variant>,
    pub locations: BTreeMap<i64, Location>,
    /// In `/inventory` order (oldest first).
    pub inventory: Vec<InventoryLevel>,
    pub tax_rates: BTreeMap<i64, TaxRate>,
    pub ids: KatanaIds,
}

/// A new sales order for [`KatanaData::create_sales_order`].
#[derive(Debug, Clone)]
pub struct NewSalesOrder {
    pub customer_id: i64,
    pub location_id: i64,
    pub status: SalesOrderStatus,
    pub currency: String,
    pub conversion_rate: Option<Decimal>,
    pub rows: Vec<NewOrderRow>,
}

impl NewSalesOrder {
    /// A PENDING order in TRY with no rows yet.
    pub fn new(customer_id: i64, location_id: i64) -> Self {
        Self {
            customer_id,
            location_id,
            status: SalesOrderStatus::Pending,
            currency: "TRY".into(),
            conversion_rate: None,
            rows: Vec::new(),
        }
    }

    pub fn row(mut self, row: NewOrderRow) -> Self {
        self.rows.push(row);
        self
    }
}

/// A new order row for [`KatanaData::add_order_row`].
#[derive(Debug, Clone)]
pub struct NewOrderRow {
    pub variant_id: i64,
    pub quantity: Decimal,
    pub price_per_unit: Decimal,
    pub tax_rate_id: Option<i64>,
}

impl KatanaData {
    /// Changes record `id` of type `T` through `f` and stamps `updated_at` = now (never
    /// earlier than the record's previous stamp). False when there is no such record.
    pub fn edit<T: Entity>(&mut self, id: i64, f: impl FnOnce(&mut T)) -> bool {
        self.edit_at(id, now(), f)
    }

    pub(crate) fn edit_at<T: Entity>(
        &mut self,
        id: i64,
        at: Timestamp,
        f: impl FnOnce(&mut T),
    ) -> bool {
        let Some(rec) = T::table(self).get_mut(&id) else {
            return false;
        };
        f(rec);
        let at = at.max(rec.updated_at());
        rec.stamp_updated(at);
        T::after_change(self, id, at, false);
        true
    }

    /// Soft-deletes record `id`: `deleted_at` and `updated_at` = now. False when there is
    /// no such record or it is already deleted.
    pub fn soft_delete<T: Entity>(&mut self, id: i64) -> bool {
        self.soft_delete_at::<T>(id, now())
    }

    pub(crate) fn soft_delete_at<T: Entity>(&mut self, id: i64, at: Timestamp) -> bool {
        let Some(rec) = T::table(self).get_mut(&id) else {
            return false;
        };
        if rec.deleted_at().is_some() {
            return false;
        }
        let at = at.max(rec.updated_at());
        rec.stamp_deleted(at);
        T::after_change(self, id, at, true);
        true
    }

    /// What an edit or deletion changes besides the record itself, as Katana does it.
    fn knock_on(&mut self, table: &str, id: i64, at: Timestamp, deleted: bool) {
        match (table, deleted) {
            ("sales_orders", false) => self.recompute_order(id),
            // An edited row changes its order's totals, and so the order. A deleted row
            // does NOT touch its order: Katana drops it from the embedded rows without
            // bumping the parent's updated_at (katana-api.md section 9).
            ("sales_order_rows", false) => {
                if let Some(order_id) = self.sales_order_rows.get(&id).map(|r| r.sales_order_id) {
                    if let Some(order) = self.sales_orders.get_mut(&order_id) {
                        order.updated_at = at.max(order.updated_at);
                    }
                    self.recompute_order(order_id);
                }
            }
            // Deleting a product deletes its variants.
            ("products", true) => {
                let ids: Vec<i64> = self
                    .variants
                    .values()
                    .filter(|v| v.product_id == Some(id) && v.deleted_at.is_none())
                    .map(|v| v.id)
                    .collect();
                for vid in ids {
                    self.soft_delete_at::<Variant>(vid, at);
                }
            }
            _ => {}
        }
    }

    /// Creates a sales order (and its rows) stamped now; returns its id.
    pub fn create_sales_order(&mut self, new: NewSalesOrder) -> i64 {
        self.insert_order(new, now())
    }

    pub(crate) fn insert_order(&mut self, new: NewSalesOrder, at: Timestamp) -> i64 {
        let id = take(&mut self.ids.sales_order);
        let order_no = format!("SO-{}", take(&mut self.ids.order_no));
        let addresses = self.order_addresses(id, new.customer_id, at);
        let conversion_date = new.conversion_rate.map(|_| at);
        let order = SalesOrder {
            id,
            customer_id: new.customer_id,
            order_no,
            source: Some("katana".into()),
            order_created_date: at,
            delivery_date: Some(plus_days(at, 14)),
            picked_date: None,
            location_id: new.location_id,
            status: new.status,
            currency: new.currency,
            conversion_rate: new.conversion_rate,
            conversion_date,
            invoicing_status: Some("notInvoiced".into()),
            total: Decimal::ZERO,
            total_in_base_currency: Decimal::ZERO,
            additional_info: Some(String::new()),
            customer_ref: None,
            ecommerce_order_type: None,
            ecommerce_store_name: None,
            ecommerce_order_id: None,
            product_availability: Some("IN_STOCK".into()),
            production_status: Some("NOT_APPLICABLE".into()),
            tracking_number: None,
            tracking_number_url: None,
            billing_address_id: addresses.first().map(|a| a.id),
            shipping_address_id: addresses.get(1).map(|a| a.id),
            addresses,
            created_at: at,
            updated_at: at,
            deleted_at: None,
        };
        self.sales_orders.insert(id, order);
        let rows: Vec<i64> = new
            .rows
            .into_iter()
            .map(|row| self.insert_row(id, row, at))
            .collect();
        self.recompute_rows(id, &rows);
        id
    }

    /// Billing and shipping addresses copied from the customer's first address.
    fn order_addresses(&mut self, order_id: i64, customer_id: i64, at: Timestamp) -> Vec<Address> {
        let Some(source) = self
            .customers
            .get(&customer_id)
            .and_then(|c| c.addresses.first().cloned())
        else {
            return Vec::new();
        };
        ["billing", "shipping"]
            .into_iter()
            .map(|kind| Address {
                id: take(&mut self.ids.address),
                sales_order_id: Some(order_id),
                customer_id: None,
                entity_type: kind.into(),
                created_at: at,
                updated_at: at,
                ..source.clone()
            })
            .collect()
    }

    /// Adds a row to an order (bumping the order's `updated_at`); None when there is no
    /// such order.
    pub fn add_order_row(&mut self, order_id: i64, row: NewOrderRow) -> Option<i64> {
        if !self.sales_orders.contains_key(&order_id) {
            return None;
        }
        let at = now();
        let id = self.insert_row(order_id, row, at);
        if let Some(order) = self.sales_orders.get_mut(&order_id) {
            order.updated_at = at.max(order.updated_at);
        }
        self.recompute_order(order_id);
        Some(id)
    }

    pub(crate) fn insert_row(&mut self, order_id: i64, row: NewOrderRow, at: Timestamp) -> i64 {
        let id = take(&mut self.ids.sales_order_row);
        let (location_id, conversion_rate) = self
            .sales_orders
            .get(&order_id)
            .map(|o| (Some(o.location_id), o.conversion_rate))
            .unwrap_or((None, None));
        self.sales_order_rows.insert(
            id,
            SalesOrderRow {
                id,
                sales_order_id: order_id,
                quantity: Quantity::Number(row.quantity),
                variant_id: row.variant_id,
                tax_rate_id: row.tax_rate_id,
                location_id,
                product_availability: Some("IN_STOCK".into()),
                price_per_unit: money_string(row.price_per_unit),
                price_per_unit_in_base_currency: Decimal::ZERO,
                total: Decimal::ZERO,
                total_in_base_currency: Decimal::ZERO,
                total_discount: Some("0.00".into()),
                cogs_value: None,
                linked_manufacturing_order_id: None,
                conversion_rate,
                conversion_date: conversion_rate.map(|_| at),
                created_at: at,
                updated_at: at,
                deleted_at: None,
            },
        );
        id
    }

    /// The live rows of an order, oldest first.
    pub fn order_rows(&self, order_id: i64) -> Vec<&SalesOrderRow> {
        self.sales_order_rows
            .values()
            .filter(|r| r.sales_order_id == order_id && r.deleted_at.is_none())
            .collect()
    }

    /// Recomputes the derived amounts of an order and its live rows, as Katana does after
    /// an edit. Rows whose quantity or price does not parse count as zero.
    pub(crate) fn recompute_order(&mut self, order_id: i64) {
        let rows: Vec<i64> = self.order_rows(order_id).iter().map(|r| r.id).collect();
        self.recompute_rows(order_id, &rows);
    }

    /// [`Self::recompute_order`] given the order's live row ids (the generator knows them,
    /// which spares a scan of every row per order).
    pub(crate) fn recompute_rows(&mut self, order_id: i64, row_ids: &[i64]) {
        let Some(order) = self.sales_orders.get(&order_id) else {
            return;
        };
        let rate = order.conversion_rate.unwrap_or(Decimal::ONE);
        let conversion_rate = order.conversion_rate;
        let tax_rates: BTreeMap<i64, Decimal> =
            self.tax_rates.values().map(|t| (t.id, t.rate)).collect();
        let mut total = Decimal::ZERO;
        for id in row_ids {
            let Some(row) = self.sales_order_rows.get_mut(id) else {
                continue;
            };
            let price = Decimal::from_str(&row.price_per_unit).unwrap_or_default();
            let qty = row.quantity.decimal().unwrap_or_default();
            let discount = row
                .total_discount
                .as_deref()
                .and_then(|d| Decimal::from_str(d).ok())
                .unwrap_or_default();
            row.total = (qty * price - discount).round_dp(2);
            row.total_in_base_currency = (row.total * rate).round_dp(2);
            row.price_per_unit_in_base_currency = (price * rate).round_dp(4);
            row.conversion_rate = conversion_rate;
            let tax = row
                .tax_rate_id
                .and_then(|t| tax_rates.get(&t))
                .copied()
                .unwrap_or_default();
            total += row.total * (Decimal::ONE + tax / Decimal::ONE_HUNDRED);
        }
        if let Some(order) = self.sales_orders.get_mut(&order_id) {
            order.total = total.round_dp(2);
            order.total_in_base_currency = (total * rate).round_dp(2);
        }
    }

    /// Creates a customer with just a name (TRY, no address); returns its id.
    pub fn create_customer(&mut self, name: &str) -> i64 {
        self.insert_customer(name, now())
    }

    pub(crate) fn insert_customer(&mut self, name: &str, at: Timestamp) -> i64 {
        let id = take(&mut self.ids.customer);
        self.customers.insert(
            id,
            Customer {
                id,
                name: name.into(),
                first_name: None,
                last_name: None,
                company: None,
                email: None,
                phone: None,
                comment: None,
                currency: "TRY".into(),
                reference_id: None,
                category: None,
                discount_rate: None,
                default_billing_id: None,
                default_shipping_id: None,
                addresses: Vec::new(),
                created_at: at,
                updated_at: at,
                deleted_at: None,
            },
        );
        id
    }

    /// Creates a supplier with just a name; returns its id.
    pub fn create_supplier(&mut self, name: &str) -> i64 {
        self.insert_supplier(name, now())
    }

    pub(crate) fn insert_supplier(&mut self, name: &str, at: Timestamp) -> i64 {
        let id = take(&mut self.ids.supplier);
        self.suppliers.insert(
            id,
            Supplier {
                id,
                name: name.into(),
                email: None,
                phone: None,
                currency: "TRY".into(),
                comment: None,
                default_address_id: None,
                addresses: Vec::new(),
                created_at: at,
                updated_at: at,
                deleted_at: None,
            },
        );
        id
    }

    /// Creates a product without variants (add them with [`Self::create_variant`]).
    pub fn create_product(&mut self, name: &str, uom: &str) -> i64 {
        self.insert_product(name, uom, now())
    }

    pub(crate) fn insert_product(&mut self, name: &str, uom: &str, at: Timestamp) -> i64 {
        let id = take(&mut self.ids.product);
        self.products.insert(
            id,
            Product {
                id,
                name: name.into(),
                uom: uom.into(),
                category_name: None,
                is_sellable: true,
                is_producible: true,
                is_purchasable: false,
                is_auto_assembly: false,
                default_supplier_id: None,
                additional_info: String::new(),
                batch_tracked: false,
                serial_tracked: false,
                operations_in_sequence: false,
                kind: "product".into(),
                purchase_uom: None,
                purchase_uom_conversion_rate: None,
                lead_time: None,
                custom_field_collection_id: None,
                configs: Vec::new(),
                archived_at: None,
                created_at: at,
                updated_at: at,
                deleted_at: None,
            },
        );
        id
    }

    /// Adds a variant to a product (bumping the product and merging the option values
    /// into its `configs`); None when there is no such product.
    pub fn create_variant(
        &mut self,
        product_id: i64,
        sku: Option<&str>,
        sales_price: Decimal,
        options: &[(&str, &str)],
    ) -> Option<i64> {
        self.insert_variant(product_id, sku, sales_price, options, now())
    }

    pub(crate) fn insert_variant(
        &mut self,
        product_id: i64,
        sku: Option<&str>,
        sales_price: Decimal,
        options: &[(&str, &str)],
        at: Timestamp,
    ) -> Option<i64> {
        let product = self.products.get_mut(&product_id)?;
        for (name, value) in options {
            match product.configs.iter_mut().find(|c| c.name == *name) {
                Some(config) if !config.values.iter().any(|v| v == value) => {
                    config.values.push((*value).into())
                }
                Some(_) => {}
                None => product.configs.push(ItemConfig {
                    id: take(&mut self.ids.config),
                    name: (*name).into(),
                    values: vec![(*value).into()],
                    product_id,
                }),
            }
        }
        product.updated_at = at.max(product.updated_at);
        let id = take(&mut self.ids.variant);
        self.variants.insert(
            id,
            Variant {
                id,
                sku: sku.map(Into::into),
                sales_price: Some(sales_price),
                purchase_price: (sales_price * Decimal::new(6, 1)).round_dp(2),
                product_id: Some(product_id),
                material_id: None,
                kind: "product".into(),
                internal_barcode: None,
                registered_barcode: None,
                supplier_item_codes: Vec::new(),
                lead_time: None,
                custom_fields: None,
                config_attributes: options
                    .iter()
                    .map(|(n, v)| ConfigAttribute {
                        config_name: (*n).into(),
                        config_value: (*v).into(),
                    })
                    .collect(),
                created_at: at,
                updated_at: at,
                deleted_at: None,
            },
        );
        Some(id)
    }

    /// Creates a location (sales and purchases allowed); returns its id.
    pub fn create_location(&mut self, name: &str) -> i64 {
        self.insert_location(name, None, now())
    }

    pub(crate) fn insert_location(
        &mut self,
        name: &str,
        address: Option<LocationAddress>,
        at: Timestamp,
    ) -> i64 {
        let id = take(&mut self.ids.location);
        self.locations.insert(
            id,
            Location {
                id,
                name: name.into(),
                legal_name: name.into(),
                address_id: address.as_ref().map(|a| a.id),
                address,
                is_primary: false,
                sales_allowed: true,
                purchase_allowed: true,
                manufacturing_allowed: false,
                created_at: at,
                updated_at: at,
                deleted_at: None,
            },
        );
        id
    }

    /// Convenience wrappers with the names the test plan uses.
    pub fn edit_sales_order(&mut self, id: i64, f: impl FnOnce(&mut SalesOrder)) -> bool {
        self.edit(id, f)
    }

    pub fn delete_sales_order(&mut self, id: i64) -> bool {
        self.soft_delete::<SalesOrder>(id)
    }

    pub fn edit_order_row(&mut self, id: i64, f: impl FnOnce(&mut SalesOrderRow)) -> bool {
        self.edit(id, f)
    }

    /// Soft-deletes a row: its `deleted_at` and `updated_at` move, its order's do not.
    pub fn delete_order_row(&mut self, id: i64) -> bool {
        self.soft_delete::<SalesOrderRow>(id)
    }

    /// The live variants carrying `sku` exactly.
    pub fn variants_with_sku(&self, sku: &str) -> Vec<&Variant> {
        self.variants
            .values()
            .filter(|v| v.deleted_at.is_none() && v.sku.as_deref() == Some(sku))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        wire::parse_time(text).expect("valid time")
    }

    #[test]
    fn times_print_with_milliseconds_and_z() {
        assert_eq!(
            wire::format_time(ts("2026-11-28T09:00:00Z")),
            "2026-11-28T09:00:00.000Z"
        );
        assert_eq!(
            wire::parse_time("2026-11-28T12:00:00+03:00"),
            Some(ts("2026-11-28T09:00:00Z"))
        );
        assert_eq!(
            wire::parse_time("2026-11-28"),
            Some(ts("2026-11-28T00:00:00Z"))
        );
        assert_eq!(wire::parse_time("yesterday"), None);
    }

    #[test]
    fn quantities_keep_their_wire_form() {
        let q: Quantity = serde_json::from_str("\"2.00000\"").expect("string");
        assert_eq!(q, Quantity::Text("2.00000".into()));
        assert_eq!(q.decimal(), Some(Decimal::new(2, 0)));
        let q: Quantity = serde_json::from_str("2.5").expect("number");
        assert_eq!(serde_json::to_string(&q).expect("ser"), "2.5");
    }

    #[test]
    fn a_deleted_row_leaves_its_order_alone() {
        let mut k = KatanaData::default();
        let at = ts("2026-10-01T00:00:00Z");
        let c = k.insert_customer("Ayşe", at);
        let order = k.insert_order(
            NewSalesOrder::new(c, 1001).row(NewOrderRow {
                variant_id: 1,
                quantity: Decimal::ONE,
                price_per_unit: Decimal::TEN,
                tax_rate_id: None,
            }),
            at,
        );
        let row = k.order_rows(order)[0].id;
        assert!(k.delete_order_row(row));
        assert_eq!(k.sales_orders[&order].updated_at, at);
        assert!(k.sales_order_rows[&row].updated_at > at);
        assert!(k.order_rows(order).is_empty());
        assert!(!k.delete_order_row(row), "second delete is a no-op");
        assert!(k.edit_sales_order(order, |o| o.status = SalesOrderStatus::Packed));
        assert!(k.sales_orders[&order].updated_at > at);
    }
}
