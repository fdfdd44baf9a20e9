//! Stock in Luca: on-hand quantities per warehouse (`ListeleStkSsEldekiMiktar.do`) and stock slips (`EkleStkWsDshBaslik.do`,
//! "Diğer Stok Hareketi"). Luca offers no list of slips, so a slip cannot be looked up.

use rust_decimal::Decimal;
use serde_json::Value;

use super::answer::{id_field, text_field};
use super::{Error, LucaClient};

pub const SLIP_CREATE: &str = "EkleStkWsDshBaslik.do";
const ON_HAND: &str = "ListeleStkSsEldekiMiktar.do";

/// Where list answers keep what we read (the shapes are unverified, so several names).
const CODE: [&str; 4] = ["kartKodu", "kod", "stokKartKodu", "stokKodu"];
const QUANTITY: [&str; 3] = ["eldekiMiktar", "miktar", "bakiye"];
const SLIP_ID: [&str; 2] = ["ssDshBaslikId", "dshBaslikId"];

/// One line of an on-hand answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnHand {
    pub code: String,
    pub quantity: Decimal,
}

/// The on-hand quantity of every card in warehouse `depo_id`. A line whose code or
/// quantity cannot be read makes the whole answer "could not tell": a snapshot with a
/// line missing would be read as that card holding nothing, and proposed as drift.
pub async fn on_hand(luca: &LucaClient, depo_id: i64) -> Result<Vec<OnHand>, Error> {
    let endpoint = format!("{ON_HAND}?cagirilanKart=depo&stkDepo.depoId={depo_id}");
    let items = luca.list_slow(&endpoint, &serde_json::json!({})).await?;
    items
        .iter()
        .map(|item| {
            let code = text_field(item, &CODE);
            let quantity = QUANTITY
                .iter()
                .find_map(|k| item.get(*k))
                .and_then(decimal);
            match (code, quantity) {
                (Some(code), Some(quantity)) => Ok(OnHand {
                    code: code.to_string(),
                    quantity,
                }),
                _ => Err(Error::NotAList {
                    endpoint: ON_HAND.to_string(),
                    detail: format!(
                        "an on-hand line of warehouse {depo_id} has no readable code or quantity: {}",
                        super::answer::excerpt(&item.to_string())
                    ),
                }),
            }
        })
        .collect()
}

/// A quantity sent as a JSON number (its exact text) or a string.
fn decimal(v: &Value) -> Option<Decimal> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    text.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
}

/// The new slip's id in a create answer.
pub fn created_id(answer: &Value) -> Option<i64> {
    id_field(answer, &SLIP_ID)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_as_numbers_strings_or_exponents() {
        assert_eq!(decimal(&json!(12)), Some(Decimal::from(12)));
        assert_eq!(decimal(&json!("3.500")), Some(Decimal::new(3500, 3)));
        assert_eq!(decimal(&json!(1.5e2)), Some(Decimal::from(150)));
        assert_eq!(decimal(&json!(null)), None);
        assert_eq!(decimal(&json!("12,5")), None);
    }

    #[test]
    fn a_slip_is_created_only_with_its_id() {
        assert_eq!(created_id(&json!({"ssDshBaslikId": 50002})), Some(50002));
        assert_eq!(created_id(&json!({"error": false})), None);
    }
}
