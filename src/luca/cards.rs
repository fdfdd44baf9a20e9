//! Stock cards (`stkSkart`): create, look up by code, list, delete.

use serde_json::{Value, json};

use super::answer::{id_field, text_field};
use super::{Error, LucaClient, Outcome};

pub const CREATE: &str = "EkleStkWsSkart.do";
pub const LIST: &str = "ListeleStkSkart.do";
pub const DELETE: &str = "SilStkSkart.do";

/// Where list answers keep a card's code, id and name (the shapes are unverified).
const CODE: [&str; 4] = ["kartKodu", "kod", "stokKartKodu", "stokKodu"];
const ID: [&str; 2] = ["skartId", "stokKartId"];
const NAME: [&str; 3] = ["kartAdi", "tanim", "stokKartAdi"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub code: String,
    pub id: Option<i64>,
    pub name: Option<String>,
}

fn card(item: &Value) -> Option<Card> {
    Some(Card {
        code: text_field(item, &CODE)?.to_string(),
        id: id_field(item, &ID),
        name: text_field(item, &NAME).map(str::to_string),
    })
}

/// The card with exactly this code: `Ok(None)` only when Luca answered with a list that
/// does not hold it. Any failure is an error, never "absent".
pub async fn lookup(luca: &LucaClient, code: &str) -> Result<Option<Card>, Error> {
    let items = luca
        .list(
            LIST,
            &json!({"stkSkart": {"kodBas": code, "kodBit": code, "kodOp": "between"}}),
        )
        .await?;
    Ok(items.iter().filter_map(card).find(|c| c.code == code))
}

/// The cards whose codes lie in `[first, last]` (Luca's `kodBas`/`kodBit` range): a
/// sorted batch of codes maps in one call. A listing that may be long, so it gets the
/// slow-listing timeout.
pub async fn in_range(luca: &LucaClient, first: &str, last: &str) -> Result<Vec<Card>, Error> {
    Ok(luca
        .list_slow(
            LIST,
            &json!({"stkSkart": {"kodBas": first, "kodBit": last, "kodOp": "between"}}),
        )
        .await?
        .iter()
        .filter_map(card)
        .collect())
}

pub async fn delete(luca: &LucaClient, id: i64) -> Result<Outcome, Error> {
    luca.write_once(DELETE, &json!({ "skartId": id })).await
}

/// The new card's id in a create answer.
pub fn created_id(answer: &Value) -> Option<i64> {
    id_field(answer, &ID)
}
