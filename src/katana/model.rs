//! Katana records as the sync needs them, decoded leniently: decimals arrive as numbers
//! or strings, documented non-null fields arrive null, unknown fields are ignored. A
//! record that still cannot be decoded is the caller's to quarantine, with the raw JSON.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Decodes one record of a list page; the error says which field was wrong.
pub fn decode<T: for<'de> Deserialize<'de>>(raw: &Value) -> Result<T, String> {
    serde_path_to_error::deserialize(raw).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." || path.is_empty() {
            inner
        } else {
            format!("field `{path}`: {inner}")
        }
    })
}

/// Decodes one record from its text as Katana sent it (a pull that stores the text
/// needs no `Value` of it); the error says which field was wrong, like [`decode`]'s.
pub fn decode_record<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, String> {
    // The position in the page's text means nothing to a person; the field does.
    // The common case, a record that decodes, without the path tracking (a tenth of a
    // backfill's CPU); only a record that fails is decoded again for the field's path.
    if let Ok(value) = serde_json::from_str(text) {
        return Ok(value);
    }
    let message = |e: serde_json::Error| {
        let shown = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        shown.strip_suffix(&suffix).unwrap_or(&shown).to_string()
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = message(e.into_inner());
        if path == "." || path.is_empty() {
            inner
        } else {
            format!("field `{path}`: {inner}")
        }
    })?;
    de.end().map_err(message)?;
    Ok(value)
}

/// A Katana decimal: a JSON number or a numeric string ("1250.0000000000").
fn parse_decimal(v: &Value) -> Result<Option<Decimal>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => {
            let text = n.to_string();
            text.parse::<Decimal>()
                .or_else(|_| Decimal::from_scientific(&text))
                .map(Some)
                .map_err(|_| format!("malformed decimal {text}"))
        }
        Value::String(s) if s.trim().is_empty() || s == "null" => Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<Decimal>()
            .map(Some)
            .map_err(|_| format!("malformed decimal \"{s}\"")),
        other => Err(format!("expected a decimal, found {other}")),
    }
}

pub fn de_decimal_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let v = Value::deserialize(d)?;
    parse_decimal(&v).map_err(serde::de::Error::custom)
}

pub fn de_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let v = Value::deserialize(d)?;
    parse_decimal(&v)
        .map_err(serde::de::Error::custom)?
        .ok_or_else(|| serde::de::Error::custom("missing decimal"))
}

/// Text that may arrive as null, a number, or the strings "null"/"undefined".
pub fn de_text_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) if s == "null" || s == "undefined" => None,
        Value::String(s) => Some(s),
        Value::Null => None,
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    })
}

/// An id that may arrive as a number or a numeric string.
pub fn de_id_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("malformed id {n}"))),
        Value::String(s) if s.is_empty() || s == "null" => Ok(None),
        Value::String(s) => s
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("malformed id \"{s}\""))),
        other => Err(serde::de::Error::custom(format!(
            "expected an id, found {other}"
        ))),
    }
}

/// A timestamp, normalised to the store's form (UTC, milliseconds, `Z`) so that stored
/// timestamps compare correctly as text.
pub fn de_ts_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() || s == "null" => Ok(None),
        Value::String(s) => match s.parse::<jiff::Timestamp>() {
            // Katana's own form is the store's: kept as sent, not formatted again (a
            // backfill meets millions of timestamps).
            Ok(_) if crate::time::is_store_form(&s) => Ok(Some(s)),
            Ok(t) => Ok(Some(crate::time::format_ts(t))),
            Err(_) => Err(serde::de::Error::custom(format!(
                "malformed timestamp \"{s}\""
            ))),
        },
        other => Err(serde::de::Error::custom(format!(
            "expected a timestamp, found {other}"
        ))),
    }
}

fn de_bool_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => Some(s == "true"),
        Value::Number(n) => Some(n.as_i64() == Some(1)),
        _ => None,
    })
}

/// When a Katana record was created, last changed and soft-deleted; normalised so that
/// stored timestamps compare as text.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Stamps {
    #[serde(default, deserialize_with = "de_ts_opt")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "de_ts_opt")]
    pub updated_at: Option<String>,
    #[serde(default, deserialize_with = "de_ts_opt")]
    pub deleted_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Address {
    #[serde(default, deserialize_with = "de_text_opt")]
    pub entity_type: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub line_1: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub line_2: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub city: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub zip: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub country: Option<String>,
}

impl Address {
    /// One line for Luca's free-text address.
    pub fn one_line(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.line_1, &self.line_2, &self.zip]
            .into_iter()
            .filter_map(|p| p.as_deref().map(str::trim).filter(|s| !s.is_empty()))
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

fn none<T>() -> Option<T> {
    None
}

/// A member that is present, `null` included (which a plain `Option` reads as absent).
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A sales order. Its embedded rows are skipped (`Rows` = `IgnoredAny`) unless the
/// caller names a type to keep them as: the orders pull keeps the text of each row
/// (`sync::orders::RowsText`), so one reading of the order finds the order and its rows.
#[derive(Debug, Clone, Deserialize)]
#[serde(bound(deserialize = "Rows: Deserialize<'de>"))]
pub struct SalesOrder<Rows = serde::de::IgnoredAny> {
    pub id: i64,
    #[serde(deserialize_with = "de_text_opt")]
    pub order_no: Option<String>,
    #[serde(default, deserialize_with = "de_id_opt")]
    pub customer_id: Option<i64>,
    #[serde(default, deserialize_with = "de_id_opt")]
    pub location_id: Option<i64>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "de_decimal_opt")]
    pub conversion_rate: Option<Decimal>,
    #[serde(default, deserialize_with = "de_ts_opt")]
    pub order_created_date: Option<String>,
    #[serde(default, deserialize_with = "de_ts_opt")]
    pub delivery_date: Option<String>,
    #[serde(default, deserialize_with = "de_decimal_opt")]
    pub total: Option<Decimal>,
    /// The embedded rows, when present (`null` included).
    #[serde(default = "none", deserialize_with = "present")]
    pub sales_order_rows: Option<Rows>,
    // The stamps as fields of their own, not a flattened `Stamps`: flattening buffers
    // every field of the record once more (a cost per order of a backfill) and loses
    // the field's name from a decoding error.
    #[serde(default, deserialize_with = "de_ts_opt")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "de_ts_opt")]
    pub updated_at: Option<String>,
    #[serde(default, deserialize_with = "de_ts_opt")]
    pub deleted_at: Option<String>,
}

impl<Rows> SalesOrder<Rows> {
    /// The order less its embedded rows, and the rows: an order read with its rows'
    /// text borrows the page, and one kept for storing must not.
    pub fn take_rows(self) -> (SalesOrder, Option<Rows>) {
        let order = SalesOrder {
            id: self.id,
            order_no: self.order_no,
            customer_id: self.customer_id,
            location_id: self.location_id,
            status: self.status,
            currency: self.currency,
            conversion_rate: self.conversion_rate,
            order_created_date: self.order_created_date,
            delivery_date: self.delivery_date,
            total: self.total,
            sales_order_rows: None,
            created_at: self.created_at,
            updated_at: self.updated_at,
            deleted_at: self.deleted_at,
        };
        (order, self.sales_order_rows)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SalesOrderRow {
    pub id: i64,
    #[serde(default, deserialize_with = "de_id_opt")]
    pub sales_order_id: Option<i64>,
    #[serde(default, deserialize_with = "de_id_opt")]
    pub variant_id: Option<i64>,
    #[serde(deserialize_with = "de_decimal")]
    pub quantity: Decimal,
    #[serde(default, deserialize_with = "de_decimal_opt")]
    pub price_per_unit: Option<Decimal>,
    #[serde(default, deserialize_with = "de_decimal_opt")]
    pub total_discount: Option<Decimal>,
    #[serde(default, deserialize_with = "de_id_opt")]
    pub tax_rate_id: Option<i64>,
    #[serde(default, deserialize_with = "de_id_opt")]
    pub location_id: Option<i64>,
    // Not flattened, as in `SalesOrder`.
    #[serde(default, deserialize_with = "de_ts_opt")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "de_ts_opt")]
    pub updated_at: Option<String>,
    #[serde(default, deserialize_with = "de_ts_opt")]
    pub deleted_at: Option<String>,
}

/// A customer or a supplier: the fields both carry.
#[derive(Debug, Clone, Deserialize)]
pub struct Partner {
    pub id: i64,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub company: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub reference_id: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub comment: Option<String>,
    #[serde(default)]
    pub addresses: Option<Vec<Address>>,
    #[serde(flatten)]
    pub at: Stamps,
}

impl Partner {
    /// The display name: Katana's `name`, else company, else first + last name.
    pub fn display_name(&self) -> Option<String> {
        let trimmed = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        trimmed(&self.name)
            .or_else(|| trimmed(&self.company))
            .or_else(|| {
                let full = [&self.first_name, &self.last_name]
                    .into_iter()
                    .filter_map(trimmed)
                    .collect::<Vec<_>>()
                    .join(" ");
                (!full.is_empty()).then_some(full)
            })
    }

    /// Katana has no tax-id field: a VKN (10 digits) or TCKN (11) is read from
    /// `reference_id`, then `comment`, as "VKN:1234567890", "TCKN:…" or bare digits.
    pub fn tax_no(&self) -> Option<String> {
        [&self.reference_id, &self.comment]
            .into_iter()
            .flatten()
            .find_map(|text| extract_tax_no(text))
    }

    /// The billing address, else the first one.
    pub fn billing_address(&self) -> Option<&Address> {
        let list = self.addresses.as_ref()?;
        list.iter()
            .find(|a| a.entity_type.as_deref() == Some("billing"))
            .or_else(|| list.first())
    }
}

fn extract_tax_no(text: &str) -> Option<String> {
    let upper = text.to_uppercase();
    for prefix in ["VKN:", "TCKN:", "VKN ", "TCKN "] {
        if let Some(i) = upper.find(prefix) {
            let digits: String = text[i + prefix.len()..]
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if digits.len() == 10 || digits.len() == 11 {
                return Some(digits);
            }
        }
    }
    let t = text.trim();
    ((t.len() == 10 || t.len() == 11) && t.chars().all(|c| c.is_ascii_digit()))
        .then(|| t.to_string())
}

#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    pub id: i64,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub uom: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub category_name: Option<String>,
    #[serde(default, deserialize_with = "de_bool_lenient")]
    pub is_sellable: Option<bool>,
    #[serde(default)]
    pub variants: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "de_ts_opt")]
    pub archived_at: Option<String>,
    #[serde(flatten)]
    pub at: Stamps,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConfigAttribute {
    #[serde(default, deserialize_with = "de_text_opt")]
    pub config_name: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub config_value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Variant {
    pub id: i64,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "de_id_opt")]
    pub product_id: Option<i64>,
    #[serde(default, deserialize_with = "de_id_opt")]
    pub material_id: Option<i64>,
    #[serde(default, rename = "type", deserialize_with = "de_text_opt")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "de_decimal_opt")]
    pub sales_price: Option<Decimal>,
    #[serde(default, deserialize_with = "de_decimal_opt")]
    pub purchase_price: Option<Decimal>,
    #[serde(default)]
    pub config_attributes: Option<Vec<ConfigAttribute>>,
    #[serde(flatten)]
    pub at: Stamps,
}

impl Variant {
    /// The option values in Katana's order ("Mavi", "120 cm").
    pub fn option_values(&self) -> Vec<String> {
        self.config_attributes
            .iter()
            .flatten()
            .filter_map(|a| a.config_value.as_deref().map(str::trim))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Location {
    pub id: i64,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub legal_name: Option<String>,
    #[serde(default, deserialize_with = "de_bool_lenient")]
    pub is_primary: Option<bool>,
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(flatten)]
    pub at: Stamps,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TaxRate {
    pub id: i64,
    #[serde(default, deserialize_with = "de_text_opt")]
    pub name: Option<String>,
    /// Percent, as Katana reports it (20 for 20 %).
    #[serde(default, deserialize_with = "de_decimal_opt")]
    pub rate: Option<Decimal>,
    #[serde(default, deserialize_with = "de_ts_opt")]
    pub updated_at: Option<String>,
}

/// One level of `/inventory`: a variant's stock at a location (decimal strings).
#[derive(Debug, Clone, Deserialize)]
pub struct InventoryLevel {
    #[serde(deserialize_with = "de_id_opt")]
    pub variant_id: Option<i64>,
    #[serde(deserialize_with = "de_id_opt")]
    pub location_id: Option<i64>,
    #[serde(default, deserialize_with = "de_decimal_opt")]
    pub quantity_in_stock: Option<Decimal>,
    #[serde(default, deserialize_with = "de_decimal_opt")]
    pub average_cost: Option<Decimal>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimals_as_numbers_or_strings() {
        let row: SalesOrderRow = decode(&json!({
            "id": 1, "sales_order_id": 2, "variant_id": 3, "quantity": "2.00000",
            "price_per_unit": "1250.0000000000", "tax_rate_id": null
        }))
        .unwrap();
        assert_eq!(row.quantity, Decimal::new(2, 0));
        assert_eq!(row.price_per_unit, Some(Decimal::new(1250, 0)));
        let row: SalesOrderRow =
            decode(&json!({"id": 1, "quantity": 3.5, "price_per_unit": 32.802})).unwrap();
        assert_eq!(row.quantity.to_string(), "3.5");
        assert_eq!(row.price_per_unit.unwrap().to_string(), "32.802");
    }

    #[test]
    fn a_malformed_decimal_names_the_field() {
        let err = decode::<SalesOrderRow>(&json!({
            "id": 1, "quantity": 1, "price_per_unit": "12,5O"
        }))
        .unwrap_err();
        assert!(
            err.contains("price_per_unit") && err.contains("12,5O"),
            "{err}"
        );
    }

    #[test]
    fn timestamps_are_normalised() {
        let o: SalesOrder = decode(&json!({
            "id": 1, "order_no": "SO-1", "updated_at": "2021-02-04T11:40:02.8Z",
            "deleted_at": null
        }))
        .unwrap();
        assert_eq!(o.updated_at.as_deref(), Some("2021-02-04T11:40:02.800Z"));
    }

    #[test]
    fn tax_numbers_from_reference_or_comment() {
        let p: Partner = decode(&json!({"id": 1, "reference_id": "VKN:1234567890"})).unwrap();
        assert_eq!(p.tax_no().as_deref(), Some("1234567890"));
        let p: Partner = decode(&json!({"id": 1, "comment": "TCKN 12345678901 şahıs"})).unwrap();
        assert_eq!(p.tax_no().as_deref(), Some("12345678901"));
        let p: Partner = decode(&json!({"id": 1, "reference_id": "ref-12345"})).unwrap();
        assert_eq!(p.tax_no(), None);
    }

    #[test]
    fn option_values_keep_their_order() {
        let v: Variant = decode(&json!({"id": 1, "sku": " RAF-01 ", "config_attributes": [
            {"config_name": "Renk", "config_value": "Mavi"},
            {"config_name": "Boy", "config_value": "120 cm"}]}))
        .unwrap();
        assert_eq!(v.option_values(), ["Mavi", "120 cm"]);
    }
}
