//! For the `sandbox_*` tests, which drive the simulator directly: a sandbox on a free
//! port and HTTP clients that talk to it as the tool would.

use katana_sync::sandbox::{Sandbox, SandboxOptions};
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

pub const KEY: &str = katana_sync::sandbox::KATANA_KEY;

pub async fn start(opts: SandboxOptions) -> Sandbox {
    Sandbox::start(opts, "127.0.0.1:0")
        .await
        .expect("sandbox starts")
}

/// A small data set: quick to build, still several pages.
pub fn small() -> SandboxOptions {
    SandboxOptions {
        orders: 120,
        products: 20,
        customers: 60,
        ..SandboxOptions::default()
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .build()
        .expect("client")
}

/// GET a Katana path (`/sales_orders?...`) with the sandbox key.
pub async fn katana(sb: &Sandbox, path_and_query: &str) -> reqwest::Response {
    client()
        .get(format!("{}{}", sb.katana_url(), path_and_query))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("katana answers")
}

/// GET a Katana path and parse the JSON body.
pub async fn katana_json(sb: &Sandbox, path_and_query: &str) -> Value {
    katana(sb, path_and_query)
        .await
        .json()
        .await
        .expect("JSON body")
}

/// A small sandbox with these faults from the start.
pub async fn start_with_faults(spec: &str) -> Sandbox {
    start(SandboxOptions {
        faults: spec.parse().expect("fault spec"),
        ..small()
    })
    .await
}

/// The X-Pagination header as JSON.
pub fn pagination(r: &reqwest::Response) -> Value {
    let text = r
        .headers()
        .get("x-pagination")
        .expect("X-Pagination present")
        .to_str()
        .expect("ascii");
    serde_json::from_str(text).expect("X-Pagination is JSON")
}

/// POST a Luca method with a JSON body; returns the raw answer.
pub async fn luca_raw(
    client: &reqwest::Client,
    sb: &Sandbox,
    method: &str,
    body: &Value,
) -> reqwest::Response {
    client
        .post(format!("{}/{method}", sb.luca_url()))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("luca answers")
}

/// POST a Luca method and parse the JSON answer.
pub async fn luca(client: &reqwest::Client, sb: &Sandbox, method: &str, body: &Value) -> Value {
    let r = luca_raw(client, sb, method, body).await;
    let text = r.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method}: not JSON: {text}"))
}

/// `Giris.do` with the demo organisation and user and this password.
pub async fn login(client: &reqwest::Client, sb: &Sandbox, password: &str) -> Value {
    let body = json!({
        "orgCode": katana_sync::sandbox::LUCA_ORG_CODE,
        "userName": katana_sync::sandbox::LUCA_USER,
        "userPassword": password
    });
    luca(client, sb, "Giris.do", &body).await
}

/// A client logged in with the demo credentials and branch 1 selected.
pub async fn luca_session(sb: &Sandbox) -> reqwest::Client {
    let c = client();
    let login = login(&c, sb, katana_sync::sandbox::LUCA_PASSWORD).await;
    assert_eq!(login["code"], 0, "{login}");
    let chosen = luca(
        &c,
        sb,
        "GuncelleYtkSirketSubeDegistir.do",
        &json!({"orgSirketSubeId": 1}),
    )
    .await;
    assert!(chosen.get("sirketSubeAdi").is_some(), "{chosen}");
    c
}

/// A valid stock card body.
pub fn card(code: &str, name: &str) -> Value {
    json!({
        "kartAdi": name, "kartKodu": code, "kartTipi": 1, "kartAlisKdvOran": 0.2,
        "olcumBirimiId": 5, "baslangicTarihi": "01/11/2026", "kartTuru": 1,
        "kategoriAgacKod": "01"
    })
}
