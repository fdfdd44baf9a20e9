//! The Luca Koza side (`/Yetki/*.do`): cookie sessions with branch selection, bodies
//! decoded per their declared charset, HTTP 200 for every business and session error,
//! HTML pages for crashes, and the session faults (expiry, serialisation, lost answers).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde_json::{Value, json};

use super::conn::ConnHandle;
use super::faults::{LookupFail, LucaFaults};
use super::ledger::{DocKind, LucaBranch, business_error};
use super::{Shared, lock};

const JSON: &str = "application/json; charset=UTF-8";
const LOGIN_REQUIRED: &str = "Login olunmalı.";
/// Default page size of list endpoints without `No-Paging: true` (DisplayTag's).
const DEFAULT_PAGE_SIZE: usize = 20;
/// `lookup_fail=timeout` stalls this long before dropping the connection.
const STALL: Duration = Duration::from_secs(30);

/// Sessions and the alternation state of the faults.
#[derive(Default)]
pub(crate) struct Runtime {
    sessions: HashMap<String, Arc<Session>>,
    /// Alternates the "login required" answer of an expired session: JSON, then HTML.
    expiry_flip: bool,
    /// Alternates how a lost answer breaks: no bytes at all, then a truncated body.
    lost_flip: bool,
}

struct Session {
    state: Mutex<SessionState>,
    /// Held across latency and handling when `serial` is on.
    gate: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct SessionState {
    branch: Option<i64>,
    /// Requests served on this session (the login excluded), for `expire_every`.
    served: u32,
    expired: bool,
    in_flight: u64,
}

/// Counts a request in flight on a session for as long as it lives.
struct InFlight(Arc<Session>);

impl InFlight {
    fn enter(session: Arc<Session>) -> (Self, u64) {
        let now = {
            let mut st = lock(&session.state);
            st.in_flight += 1;
            st.in_flight
        };
        (InFlight(session), now)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut st = lock(&self.0.state);
        st.in_flight = st.in_flight.saturating_sub(1);
    }
}

/// The methods the sandbox serves, by their `.do` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Login,
    Branches,
    SelectBranch,
    CreateStockCard,
    ListStockCards,
    DeleteStockCard,
    CreateCustomer,
    CreateSupplier,
    ListCustomers,
    ListSuppliers,
    CreateWarehouse,
    ListWarehouses,
    CreateInvoice,
    ListInvoices,
    DeleteInvoice,
    CreateDespatch,
    ListDespatches,
    CreateStockSlip,
    ListOnHand,
    ListUnits,
    ListSeries,
}

impl Action {
    fn from_name(name: &str) -> Option<Action> {
        Some(match name {
            "Giris.do" => Action::Login,
            "YdlUserResponsibilityOrgSs.do" => Action::Branches,
            "GuncelleYtkSirketSubeDegistir.do" => Action::SelectBranch,
            "EkleStkWsSkart.do" => Action::CreateStockCard,
            "ListeleStkSkart.do" => Action::ListStockCards,
            "SilStkSkart.do" => Action::DeleteStockCard,
            "EkleFinMusteriWS.do" => Action::CreateCustomer,
            "EkleFinTedarikciWS.do" => Action::CreateSupplier,
            "ListeleFinMusteri.do" => Action::ListCustomers,
            "ListeleFinTedarikci.do" => Action::ListSuppliers,
            "EkleStkWsDepo.do" => Action::CreateWarehouse,
            "ListeleStkDepo.do" => Action::ListWarehouses,
            "EkleFtrWsFaturaBaslik.do" => Action::CreateInvoice,
            "ListeleFtrSsFaturaBaslik.do" => Action::ListInvoices,
            "SilFtrWsFaturaBaslik.do" => Action::DeleteInvoice,
            "EkleStkWsIrsaliyeBaslik.do" => Action::CreateDespatch,
            "ListeleStkSsIrsaliyeBaslik.do" => Action::ListDespatches,
            "EkleStkWsDshBaslik.do" => Action::CreateStockSlip,
            "ListeleStkSsEldekiMiktar.do" => Action::ListOnHand,
            "ListeleGnlOlcumBirimi.do" => Action::ListUnits,
            "ListeleGnlOrgSsSeri.do" => Action::ListSeries,
            _ => return None,
        })
    }

    fn is_list(self) -> bool {
        matches!(
            self,
            Action::ListStockCards
                | Action::ListCustomers
                | Action::ListSuppliers
                | Action::ListWarehouses
                | Action::ListInvoices
                | Action::ListDespatches
                | Action::ListOnHand
                | Action::ListUnits
                | Action::ListSeries
        )
    }

    fn is_create(self) -> bool {
        matches!(
            self,
            Action::CreateStockCard
                | Action::CreateCustomer
                | Action::CreateSupplier
                | Action::CreateWarehouse
                | Action::CreateInvoice
                | Action::CreateDespatch
                | Action::CreateStockSlip
        )
    }
}

fn json_answer(body: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, JSON)],
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response()
}

fn html(status: StatusCode, page: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        page,
    )
        .into_response()
}

/// The server's crash page ("Beklenmedik bir hata oluştu").
fn error_page(status: StatusCode) -> Response {
    html(
        status,
        "<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\"><title>Luca Koza</title></head>\
         <body><h2>Beklenmedik bir hata oluştu</h2><p>Lütfen daha sonra tekrar deneyiniz.</p>\
         </body></html>\n"
            .into(),
    )
}

/// The load balancer's page while the whole service is down.
fn down_page() -> Response {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        "<html><head><title>503 Service Unavailable</title></head><body>\
         <h1>Service Unavailable</h1><p>The server is temporarily unable to service your \
         request. Please try again later.</p></body></html>\n"
            .into(),
    )
}

/// The web login page, which an expired session sometimes gets instead of JSON.
fn login_page() -> Response {
    html(
        StatusCode::OK,
        "<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\"><title>Luca Koza | Giriş</title>\
         </head><body><form name=\"girisForm\" action=\"/Yetki/Giris.do\" method=\"post\">\
         <input name=\"orgCode\"/><input name=\"user\"/>\
         <input type=\"password\" name=\"girisForm.userPassword\"/>\
         <input name=\"girisForm.captchaInput\"/></form></body></html>\n"
            .into(),
    )
}

/// Struts' answer for an action that does not exist.
fn no_action(name: &str) -> Response {
    html(
        StatusCode::NOT_FOUND,
        format!(
            "<html><head><title>Error 404--Not Found</title></head><body><h2>There is no \
             Action mapped for namespace [/] and action name [{}] associated with context \
             path [/Yetki].</h2></body></html>\n",
            name.trim_end_matches(".do")
        ),
    )
}

fn login_required(code: u16) -> Response {
    json_answer(&json!({"code": code, "message": LOGIN_REQUIRED}))
}

/// Decodes a body per its declared charset (`windows-1254`, `ISO-8859-9`, ...), UTF-8
/// otherwise. Bytes that do not decode become U+FFFD, as a Java server stores them.
fn decode_body(headers: &HeaderMap, body: &[u8]) -> String {
    let charset = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| {
            ct.split(';')
                .filter_map(|p| p.trim().split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
                .map(|(_, v)| v.trim().trim_matches('"').to_string())
        });
    let encoding = charset
        .and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    let (text, _had_errors) = encoding.decode_without_bom_handling(body);
    text.into_owned()
}

/// True when every string in the body can be stored in Luca's Windows-1254 database.
fn encodable(v: &Value) -> bool {
    match v {
        Value::String(s) => !encoding_rs::WINDOWS_1254.encode(s).2,
        Value::Array(items) => items.iter().all(encodable),
        Value::Object(map) => map
            .iter()
            .all(|(k, v)| encodable(&Value::String(k.clone())) && encodable(v)),
        _ => true,
    }
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == "JSESSIONID")
        .map(|(_, v)| v.to_string())
}

/// Every request under `/Yetki`.
pub async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    shared.count_request(&method, &path);
    let faults = shared.faults().luca;
    if faults.down {
        shared.stat(|s| s.luca.errors_5xx += 1);
        return down_page();
    }
    if shared.dice.roll(faults.reset) {
        shared.stat(|s| s.luca.resets += 1);
        conn.cut();
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if shared.dice.roll(faults.http5xx) {
        shared.stat(|s| s.luca.errors_5xx += 1);
        return error_page(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let name = path.trim_start_matches("/Yetki/");
    let Some(action) = Action::from_name(name) else {
        return no_action(name);
    };
    if method != Method::POST {
        return html(
            StatusCode::METHOD_NOT_ALLOWED,
            "<html><body><h2>HTTP method not allowed</h2></body></html>\n".into(),
        );
    }
    let text = decode_body(&headers, &body);
    let latency = Duration::from_millis(shared.opts.latency_ms + faults.latency_ms);
    if action == Action::Login {
        tokio::time::sleep(latency).await;
        return login(&shared, &faults, &text);
    }
    let session = session_id(&headers).and_then(|id| {
        let rt = lock(&shared.luca_rt);
        rt.sessions.get(&id).cloned().map(|s| (id, s))
    });
    let Some((sid, session)) = session else {
        tokio::time::sleep(latency).await;
        return login_required(if action == Action::Branches {
            1002
        } else {
            1001
        });
    };
    if lock(&session.state).expired {
        let html_turn = {
            let mut rt = lock(&shared.luca_rt);
            rt.sessions.remove(&sid);
            rt.expiry_flip = !rt.expiry_flip;
            !rt.expiry_flip
        };
        shared.stat(|s| s.luca.session_expiries += 1);
        tokio::time::sleep(latency).await;
        return if html_turn {
            login_page()
        } else {
            login_required(1001)
        };
    }
    let (_in_flight, concurrent) = InFlight::enter(session.clone());
    shared
        .stat(|s| s.luca.max_session_concurrency = s.luca.max_session_concurrency.max(concurrent));
    let _turn = if faults.serial {
        match session.gate.try_lock() {
            Ok(guard) => Some(guard),
            Err(_) => {
                shared.stat(|s| s.luca.queued_requests += 1);
                Some(session.gate.lock().await)
            }
        }
    } else {
        None
    };
    let parsed: Result<Value, ()> = if text.trim().is_empty() {
        Ok(json!({}))
    } else {
        serde_json::from_str(&text).map_err(|_| ())
    };
    tokio::time::sleep(latency + listing_cost(&shared, &faults, action, &session, &parsed)).await;
    let branch = {
        let mut st = lock(&session.state);
        st.served += 1;
        if faults.expire_every > 0 && st.served >= faults.expire_every {
            // This answer still goes out; the session is gone for the next call.
            st.expired = true;
        }
        st.branch
    };
    match action {
        Action::Branches => return branches(&shared, &faults),
        Action::SelectBranch => return select_branch(&shared, &faults, &session, &parsed),
        _ => {}
    }
    let Some(branch) = branch else {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
            "Şirket şube seçimi yapılmadan işlem yapılamaz.",
        )
            .into_response();
    };
    if action.is_list()
        && let Some(mode) = faults.lookup_fail
    {
        shared.stat(|s| s.luca.lookup_failures += 1);
        return match mode {
            LookupFail::Html => error_page(StatusCode::OK),
            LookupFail::Error => json_answer(&json!({"error": true})),
            LookupFail::Timeout => {
                tokio::time::sleep(STALL).await;
                conn.cut();
                StatusCode::GATEWAY_TIMEOUT.into_response()
            }
        };
    }
    let Ok(body) = parsed else {
        // A body Luca cannot parse: the bare error flag, no message.
        return json_answer(&json!({"error": true}));
    };
    if !body.is_object() || (action.is_create() && !encodable(&body)) {
        return json_answer(&json!({"error": true}));
    }
    let outcome = {
        let mut luca = lock(&shared.luca);
        let data = &mut *luca;
        match data.branches.get_mut(&branch) {
            Some(b) => dispatch(
                action,
                b,
                &mut data.ids,
                &body,
                Request {
                    raw: &text,
                    uri: &uri,
                    headers: &headers,
                },
                &faults,
            ),
            None => Outcome::answer(business_error("Şirket şube bulunamadı!")),
        }
    };
    if let Some((kind, stored, duplicate)) = outcome.created {
        shared.stat(|s| {
            if stored {
                s.luca.creates.bump(kind);
            }
            if duplicate {
                s.luca.duplicate_creates.bump(kind);
            }
        });
    }
    if outcome.mutated {
        shared.persist();
    }
    let stored = outcome.created.is_some_and(|(_, stored, _)| stored);
    if stored && shared.dice.roll(faults.lost) {
        shared.stat(|s| s.luca.lost_responses += 1);
        return lose(&shared, &conn, &outcome.answer);
    }
    json_answer(&outcome.answer)
}

/// The full stock-card listing is slow on the real server: +1 ms per 10 cards.
fn listing_cost(
    shared: &Shared,
    faults: &LucaFaults,
    action: Action,
    session: &Session,
    parsed: &Result<Value, ()>,
) -> Duration {
    let (Action::ListStockCards, Ok(body)) = (action, parsed) else {
        return Duration::ZERO;
    };
    if !LucaBranch::is_exact_card_lookup(body) {
        // `slow_listing`: what a live tenant does with a long listing.
        return Duration::from_millis(faults.slow_listing_ms)
            + full_listing_cost(shared, session, body);
    }
    Duration::ZERO
}

fn full_listing_cost(shared: &Shared, session: &Session, body: &Value) -> Duration {
    if !LucaBranch::is_full_card_listing(body) {
        return Duration::ZERO;
    }
    let Some(branch) = lock(&session.state).branch else {
        return Duration::ZERO;
    };
    let cards = lock(&shared.luca)
        .branches
        .get(&branch)
        .map_or(0, |b| b.stock_cards.len());
    Duration::from_millis(cards as u64 / 10)
}

/// Drops a stored create's answer: alternately the connection dies before any byte, or
/// the status line and half the body arrive and then the connection dies.
fn lose(shared: &Shared, conn: &ConnHandle, answer: &Value) -> Response {
    let truncated = {
        let mut rt = lock(&shared.luca_rt);
        rt.lost_flip = !rt.lost_flip;
        !rt.lost_flip
    };
    if !truncated {
        conn.cut();
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let full = serde_json::to_vec(answer).unwrap_or_default();
    let half = Bytes::copy_from_slice(&full[..full.len() / 2]);
    // The pause lets the server flush the head and the first half before the body fails
    // and the connection is torn down.
    let failure = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox fault: answer lost",
        ))
    };
    let chunks = futures::stream::iter([Ok(half)]).chain(futures::stream::once(failure));
    let mut r = Response::new(Body::from_stream(chunks));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(full.len()));
    r
}

fn login(shared: &Shared, faults: &LucaFaults, text: &str) -> Response {
    use super::ledger::read;

    let Ok(body) = serde_json::from_str::<Value>(text) else {
        return login_required(1001);
    };
    let opts = &shared.opts;
    let ok = !faults.bad_login
        && read::text(&body, "orgCode").as_deref() == Some(opts.luca_org_code.as_str())
        && read::text(&body, "userName").as_deref() == Some(opts.luca_user.as_str())
        && body.get("userPassword").and_then(Value::as_str) == Some(opts.luca_password.as_str());
    if !ok {
        shared.stat(|s| s.luca.failed_logins += 1);
        return json_answer(&json!({"code": 99, "message": "Kullanıcı-Parola Bilgisi Yanlış!"}));
    }
    // WebLogic's session id: 52 characters, then `!` and the server's hash.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let id: String = (0..52)
        .map(|_| char::from(ALPHABET[(shared.id_dice.next_u64() % 64) as usize]))
        .collect();
    let sid = format!("{id}!{}", shared.id_dice.next_u64() % 2_000_000_000);
    let nsc = format!(
        "{:016x}{:016x}",
        shared.id_dice.next_u64(),
        shared.id_dice.next_u64()
    );
    {
        let mut rt = lock(&shared.luca_rt);
        if faults.single_login {
            // One user, one session: the new login ends every other (the sandbox has one
            // user). They learn it on their next request, as "Login olunmalı.".
            let ended = rt.sessions.len() as u64;
            rt.sessions.clear();
            if ended > 0 {
                shared.stat(|s| s.luca.ended_by_login += ended);
            }
        }
    }
    lock(&shared.luca_rt).sessions.insert(
        sid.clone(),
        Arc::new(Session {
            state: Mutex::new(SessionState::default()),
            gate: tokio::sync::Mutex::new(()),
        }),
    );
    shared.stat(|s| s.luca.logins += 1);
    let mut r = json_answer(&json!({"code": 0, "message": "Giriş başarılı."}));
    // No `Secure` on the NetScaler cookie: the sandbox speaks plain HTTP, and a cookie jar
    // would never send a secure cookie back over it.
    for cookie in [
        format!("JSESSIONID={sid}; Path=/; HttpOnly"),
        format!("NSC_Lpab_IUUQT_443={nsc}; Path=/; HttpOnly"),
    ] {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

/// The branches the login lists: the seeded ones (two), or under `branches=N` exactly N:
/// the first seeded ones, then empty extra companies.
fn listed_branches(shared: &Shared, faults: &LucaFaults) -> Vec<(i64, String)> {
    let mut list: Vec<(i64, String)> = lock(&shared.luca)
        .branches
        .values()
        .map(|b| (b.id, b.name.clone()))
        .collect();
    if faults.branches == 0 {
        return list;
    }
    list.truncate(faults.branches as usize);
    let mut next = list.iter().map(|(id, _)| *id).max().unwrap_or(0) + 1;
    while list.len() < faults.branches as usize {
        list.push((next, format!("Şube {next} (Yan Şirket)")));
        next += 1;
    }
    list
}

fn branches(shared: &Shared, faults: &LucaFaults) -> Response {
    let list: Vec<Value> = listed_branches(shared, faults)
        .into_iter()
        .map(|(id, name)| json!({"ack": name, "id": id}))
        .collect();
    json_answer(&match &faults.list_wrapper {
        Some(key) => json!({ key.as_str(): list }),
        None => Value::Array(list),
    })
}

fn select_branch(
    shared: &Shared,
    faults: &LucaFaults,
    session: &Session,
    parsed: &Result<Value, ()>,
) -> Response {
    let id = parsed
        .as_ref()
        .ok()
        .and_then(|b| super::ledger::read::int(b, "orgSirketSubeId"));
    let listed = listed_branches(shared, faults);
    let name = id.and_then(|id| {
        let (_, name) = listed.iter().find(|(b, _)| *b == id)?;
        let mut luca = lock(&shared.luca);
        luca.branches
            .entry(id)
            .or_insert_with(|| LucaBranch::new(id, name));
        Some(name.clone())
    });
    match (id, name) {
        (Some(id), Some(name)) => {
            lock(&session.state).branch = Some(id);
            json_answer(&json!({
                "message": "Oturumda Çalıştığınız Şirket Şube Başarıyla Değiştirildi.",
                "sirketSubeAdi": name,
            }))
        }
        _ => json_answer(&business_error("Şirket şube bulunamadı!")),
    }
}

/// What a handled request did.
struct Outcome {
    answer: Value,
    /// (kind, stored, duplicate natural key) for creates.
    created: Option<(super::stats::Kind, bool, bool)>,
    mutated: bool,
}

impl Outcome {
    fn answer(body: Value) -> Self {
        Outcome {
            answer: body,
            created: None,
            mutated: false,
        }
    }
}

/// Lists page unless asked not to: `No-Paging: true` returns everything, otherwise the
/// `pageNo` page (from 1) of `displayTagSize` items (20 by default).
fn page(items: Vec<Value>, headers: &HeaderMap) -> Vec<Value> {
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
    };
    if header_text("No-Paging").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return items;
    }
    let page_no = header_text("pageNo")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1);
    let size = header_text("displayTagSize")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(DEFAULT_PAGE_SIZE);
    items
        .into_iter()
        .skip((page_no - 1).saturating_mul(size))
        .take(size)
        .collect()
}

/// A request as it came: its decoded text, address and headers.
struct Request<'a> {
    raw: &'a str,
    uri: &'a Uri,
    headers: &'a HeaderMap,
}

fn dispatch(
    action: Action,
    branch: &mut LucaBranch,
    ids: &mut super::ledger::LucaIds,
    body: &Value,
    request: Request<'_>,
    faults: &LucaFaults,
) -> Outcome {
    let Request { raw, uri, headers } = request;
    let created = |o: super::ledger::CreateOutcome| Outcome {
        answer: o.answer,
        created: Some((o.kind, o.stored, o.duplicate)),
        mutated: o.stored,
    };
    let query: Vec<(String, String)> = Query::try_from_uri(uri)
        .map(|Query(q)| q)
        .unwrap_or_default();
    let query_value = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let detailed = query_value("detayliListe") == Some("true");
    // Each list answers in its own wrapper: {"list": ..}, a bare array, or {"data": ..}.
    let listed = |result: Result<Vec<Value>, String>, wrap: fn(Vec<Value>) -> Value| match result {
        Ok(items) => Outcome::answer(match &faults.list_wrapper {
            Some(key) => json!({ key.as_str(): page(items, headers) }),
            None => wrap(page(items, headers)),
        }),
        Err(message) => Outcome::answer(business_error(&message)),
    };
    let under_list = |items: Vec<Value>| json!({ "list": items });
    let under_data = |items: Vec<Value>| json!({ "data": items });
    let bare = Value::Array;
    // Luca stamps the day a card was added in Türkiye's time.
    let today = jiff::Timestamp::now()
        .in_tz("Europe/Istanbul")
        .map(|z| z.date())
        .unwrap_or_else(|_| jiff::ZonedDateTime::now().date());
    match action {
        Action::CreateStockCard => created(branch.create_stock_card(ids, body, raw, today)),
        Action::ListStockCards => listed(branch.list_stock_cards(body), under_list),
        Action::DeleteInvoice => {
            let (answer, deleted) = branch.delete_invoice(body);
            Outcome {
                answer,
                created: None,
                mutated: deleted,
            }
        }
        Action::DeleteStockCard => {
            let (answer, deleted) = branch.delete_stock_card(body);
            Outcome {
                answer,
                created: None,
                mutated: deleted,
            }
        }
        Action::CreateCustomer => created(branch.create_cari(ids, false, body, raw)),
        Action::CreateSupplier => created(branch.create_cari(ids, true, body, raw)),
        Action::ListCustomers => listed(branch.list_caris(false, body), bare),
        Action::ListSuppliers => listed(branch.list_caris(true, body), bare),
        Action::CreateWarehouse => created(branch.create_warehouse(ids, body, raw)),
        Action::ListWarehouses => listed(branch.list_warehouses(body), under_data),
        Action::CreateInvoice => created(branch.create_document(ids, DocKind::Invoice, body, raw)),
        Action::ListInvoices => {
            listed(branch.list_invoices(body, faults.rich_invoices), under_list)
        }
        Action::CreateDespatch => {
            created(branch.create_document(ids, DocKind::Despatch, body, raw))
        }
        Action::ListDespatches => listed(
            branch.list_despatches(body, detailed, faults.rich_invoices),
            under_list,
        ),
        Action::CreateStockSlip => {
            created(branch.create_document(ids, DocKind::StockSlip, body, raw))
        }
        Action::ListOnHand => listed(
            branch.list_on_hand(query_value("stkDepo.depoId")),
            under_list,
        ),
        Action::ListUnits => listed(super::lookups::units(body), under_list),
        Action::ListSeries => listed(super::lookups::series(body), bare),
        // Handled before a branch is needed.
        Action::Login | Action::Branches | Action::SelectBranch => {
            Outcome::answer(business_error("Beklenmedik Hata!"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_decode_per_charset() {
        let mut h = HeaderMap::new();
        let (bytes, _, _) = encoding_rs::WINDOWS_1254.encode("{\"a\":\"ÇĞİÖŞÜçğıöşü\"}");
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=windows-1254"),
        );
        assert_eq!(decode_body(&h, &bytes), "{\"a\":\"ÇĞİÖŞÜçğıöşü\"}");
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert_eq!(decode_body(&h, "ş".as_bytes()), "ş");
        assert!(
            decode_body(&h, &bytes).contains('\u{FFFD}'),
            "1254 bytes read as UTF-8"
        );
    }

    #[test]
    fn text_outside_windows_1254_is_refused() {
        assert!(encodable(&json!({"tanim": "Öztürk Çelik"})));
        assert!(!encodable(&json!({"tanim": "Łódź Metal"})));
        assert!(!encodable(&json!({"detayList": [{"kartAdi": "Raf 🙂"}]})));
    }
}
