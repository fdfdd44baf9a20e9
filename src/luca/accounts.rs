//! Customer and supplier accounts (cari, `finansal nesne`) and warehouses (`stkDepo`):
//! list, look up by code, and what a create answer carries.

use serde_json::{Value, json};

use super::answer::{id_field, text_field};
use super::{Error, LucaClient};

pub const WAREHOUSE_CREATE: &str = "EkleStkWsDepo.do";
pub const WAREHOUSE_LIST: &str = "ListeleStkDepo.do";

/// One of Luca's two account ledgers: its endpoints and the key its list filter nests
/// under (`{"finMusteri":{"gnlFinansalNesne":{kodBas,kodBit,kodOp}}}`, per the doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ledger {
    pub create: &'static str,
    pub list: &'static str,
    filter: &'static str,
}

pub const CUSTOMERS: Ledger = Ledger {
    create: "EkleFinMusteriWS.do",
    list: "ListeleFinMusteri.do",
    filter: "finMusteri",
};

pub const SUPPLIERS: Ledger = Ledger {
    create: "EkleFinTedarikciWS.do",
    list: "ListeleFinTedarikci.do",
    filter: "finTedarikci",
};

/// Where list answers keep an account's code, id, name and tax numbers (the shapes are
/// unverified: the invoice list names them `cariKodu`, `vergiKimlikNo`).
const CODE: [&str; 4] = ["kod", "kartKod", "cariKodu", "kodu"];
const ID: [&str; 3] = ["finansalNesneId", "cariId", "id"];
const NAME: [&str; 2] = ["tanim", "cariTanim"];
const TAX: [&str; 4] = ["vergiNo", "tcKimlikNo", "vergiKimlikNo", "tckn"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub code: String,
    pub id: Option<i64>,
    pub name: Option<String>,
    /// Its VKN and/or TCKN, as Luca holds them.
    pub tax_nos: Vec<String>,
}

fn account(item: &Value) -> Option<Account> {
    let tax_nos = TAX
        .iter()
        .filter_map(|k| match item.get(*k)? {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .filter(|t| !t.is_empty() && t != "0")
        .collect();
    Some(Account {
        code: text_field(item, &CODE)?.to_string(),
        id: id_field(item, &ID),
        name: text_field(item, &NAME).map(str::to_string),
        tax_nos,
    })
}

/// Every account of the ledger (an empty filter, as the doc says, with `No-Paging`): the
/// one listing that can find an account under another code by its tax number.
pub async fn all(luca: &LucaClient, ledger: Ledger) -> Result<Vec<Account>, Error> {
    Ok(luca
        .list_slow(ledger.list, &json!({}))
        .await?
        .iter()
        .filter_map(account)
        .collect())
}

/// The accounts carrying exactly this code (Luca accepts several): an empty list only
/// when Luca answered with a list that holds none. Any failure is an error.
pub async fn with_code(
    luca: &LucaClient,
    ledger: Ledger,
    code: &str,
) -> Result<Vec<Account>, Error> {
    let body = json!({ ledger.filter: {"gnlFinansalNesne": {"kodBas": code, "kodBit": code, "kodOp": "between"}} });
    Ok(luca
        .list(ledger.list, &body)
        .await?
        .iter()
        .filter_map(account)
        .filter(|a| a.code == code)
        .collect())
}

/// The new account's id in a create answer.
pub fn created_id(answer: &Value) -> Option<i64> {
    id_field(answer, &["finansalNesneId"]).or_else(|| {
        ["finMusteri", "finTedarikci"].iter().find_map(|k| {
            answer
                .get(*k)
                .and_then(|inner| id_field(inner, &["finansalNesneId"]))
        })
    })
}

/// Where list answers keep a warehouse's code, id and name.
const DEPO_CODE: [&str; 2] = ["kod", "depoKodu"];
const DEPO_ID: [&str; 1] = ["depoId"];
const DEPO_NAME: [&str; 2] = ["tanim", "depoAdi"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Depot {
    pub code: String,
    pub id: Option<i64>,
    pub name: Option<String>,
}

fn depot(item: &Value) -> Option<Depot> {
    Some(Depot {
        code: text_field(item, &DEPO_CODE)?.to_string(),
        id: id_field(item, &DEPO_ID),
        name: text_field(item, &DEPO_NAME).map(str::to_string),
    })
}

/// Every warehouse of the branch.
pub async fn warehouses(luca: &LucaClient) -> Result<Vec<Depot>, Error> {
    Ok(luca
        .list(WAREHOUSE_LIST, &json!({}))
        .await?
        .iter()
        .filter_map(depot)
        .collect())
}

/// The warehouse with exactly this code: `Ok(None)` only when Luca answered with a list
/// that does not hold it.
pub async fn warehouse(luca: &LucaClient, code: &str) -> Result<Option<Depot>, Error> {
    let body = json!({"stkDepo": {"kodBas": code, "kodBit": code, "kodOp": "between"}});
    Ok(luca
        .list(WAREHOUSE_LIST, &body)
        .await?
        .iter()
        .filter_map(depot)
        .find(|d| d.code == code))
}

/// The new warehouse's id in a create answer.
pub fn created_depot_id(answer: &Value) -> Option<i64> {
    id_field(answer, &DEPO_ID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_read_leniently() {
        let a = account(&json!({"kod": "K00000042", "finansalNesneId": "144701",
            "tanim": "Yıldız A.Ş.", "vergiNo": "1234567890", "tcKimlikNo": null}))
        .unwrap();
        assert_eq!(a.id, Some(144_701));
        assert_eq!(a.tax_nos, vec!["1234567890".to_string()]);
        assert_eq!(account(&json!({"tanim": "no code"})), None);
        assert_eq!(
            created_id(&json!({"finansalNesneId": 7, "error": false})),
            Some(7)
        );
        assert_eq!(
            created_id(&json!({"finMusteri": {"finansalNesneId": 8}})),
            Some(8)
        );
        assert_eq!(created_id(&json!({"error": false})), None);
    }
}
