//! The Katana side (`/v1`): bearer auth, the per-key sliding-window rate limit with its
//! `X-Ratelimit-*` headers, offset paging with the string-valued `X-Pagination` header,
//! newest-first lists and the filters of katana-api.md section 6.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use super::conn::ConnHandle;
use super::model::{KatanaData, Listed, Product, SalesOrder, wire};
use super::{Shared, lock};

const WINDOW: Duration = Duration::from_secs(60);
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 250;

/// Rate-limit state of the one accepted key.
pub(crate) struct Runtime {
    /// Times of the requests the key sent in the last 60 s, 429s included.
    window: VecDeque<Instant>,
    /// Requests still to refuse under `burst429`.
    burst_left: u32,
    /// Requests seen since the faults were set, for `stall_after`.
    since_faults: u32,
}

impl Runtime {
    pub fn new(burst: u32) -> Self {
        Self {
            window: VecDeque::new(),
            burst_left: burst,
            since_faults: 0,
        }
    }

    /// New faults: `burst429` and `stall_after` count from now.
    pub fn restart_counts(&mut self, burst: u32) {
        self.burst_left = burst;
        self.since_faults = 0;
    }

    /// Counts a request; true when `stall_after` says it is never to be answered.
    fn stalls(&mut self, stall_after: u32) -> bool {
        self.since_faults = self.since_faults.saturating_add(1);
        stall_after > 0 && self.since_faults > stall_after
    }

    /// Records one request and decides whether it is over the limit.
    fn admit(&mut self, limit: u32, now: Instant) -> Admission {
        while self
            .window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.window.pop_front();
        }
        let limit_n = limit as usize;
        let over_limit = self.window.len() >= limit_n;
        let burst = self.burst_left > 0;
        if burst {
            self.burst_left -= 1;
        }
        self.window.push_back(now);
        let count = self.window.len();
        // The next request is admitted once enough of the window has aged out that fewer
        // than `limit` requests remain in it.
        let frees_at = if count >= limit_n && limit_n > 0 {
            self.window[count - limit_n] + WINDOW
        } else {
            self.window[0] + WINDOW
        };
        let retry_after = if over_limit {
            Some(
                frees_at
                    .saturating_duration_since(now)
                    .as_millis()
                    .div_ceil(1000)
                    .max(1) as u64,
            )
        } else if burst {
            Some(1)
        } else {
            None
        };
        Admission {
            limit,
            remaining: limit_n.saturating_sub(count) as u64,
            reset_ms: epoch_ms_at(frees_at, now),
            retry_after,
            in_window: count as u64,
        }
    }
}

struct Admission {
    limit: u32,
    remaining: u64,
    /// When a slot frees, as epoch milliseconds (the unit Katana's docs give).
    reset_ms: u128,
    retry_after: Option<u64>,
    in_window: u64,
}

fn epoch_ms_at(at: Instant, now: Instant) -> u128 {
    let wall = SystemTime::now() + at.saturating_duration_since(now);
    wall.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

/// A Katana error answer, in the unwrapped form of the portal spec.
struct ApiError {
    status: StatusCode,
    body: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

fn error(status: StatusCode, name: &str, message: &str) -> ApiError {
    ApiError {
        status,
        body: json!({"statusCode": status.as_u16(), "name": name, "message": message}),
    }
}

fn not_found() -> ApiError {
    error(StatusCode::NOT_FOUND, "NotFoundError", "Not Found")
}

/// A 422 for a bad query parameter, with an Ajv-style detail.
fn invalid_param(name: &str, code: &str, message: &str) -> ApiError {
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        body: json!({
            "statusCode": 422,
            "name": "UnprocessableEntityError",
            "message": "The request query is invalid. See error object `details` property for more info.",
            "code": "VALIDATION_FAILED",
            "details": [{"path": format!(".{name}"), "code": code, "message": message, "info": {}}],
        }),
    }
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        bytes,
    )
        .into_response()
}

/// Every request under `/v1`.
pub async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_string();
    shared.count_request(&method, &path);
    let faults = shared.faults().katana;
    if lock(&shared.katana_rt).stalls(faults.stall_after) {
        shared.stat(|s| s.katana.stalled += 1);
        // Held open until the client gives up or is killed, or the sandbox stops.
        tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
        return StatusCode::GATEWAY_TIMEOUT.into_response();
    }
    if shared.dice.roll(faults.reset) {
        shared.stat(|s| s.katana.resets += 1);
        conn.cut();
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if bearer != Some(shared.opts.katana_key.as_str()) {
        shared.stat(|s| s.katana.unauthorized += 1);
        return error(
            StatusCode::UNAUTHORIZED,
            "UnauthorizedError",
            "Unauthorized",
        )
        .into_response();
    }
    let admission = lock(&shared.katana_rt).admit(shared.opts.rate_limit, Instant::now());
    shared.stat(|s| {
        s.katana.max_requests_in_60s = s.katana.max_requests_in_60s.max(admission.in_window)
    });
    let mut response = if let Some(secs) = admission.retry_after {
        shared.stat(|s| s.katana.rate_limited += 1);
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too Many Requests",
        )
        .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        r
    } else if faults.down.as_deref().is_some_and(|p| path.starts_with(p)) {
        shared.stat(|s| s.katana.errors_5xx += 1);
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailableError",
            "Service Unavailable",
        )
        .into_response()
    } else if shared.dice.roll(faults.http5xx) {
        shared.stat(|s| s.katana.errors_5xx += 1);
        let err = if shared.dice.roll(0.5) {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Internal Server Error",
            )
        } else {
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableError",
                "Service Unavailable",
            )
        };
        err.into_response()
    } else {
        let latency = shared.opts.latency_ms + faults.latency_ms;
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        let answer = if method == Method::GET {
            let data = lock(&shared.katana);
            route(&data, &path, &uri)
        } else {
            // The tool never writes to Katana; the sandbox offers no write endpoints.
            not_found().into_response()
        };
        if answer.status().is_success() {
            shared.after_katana_answer(&path);
        }
        answer
    };
    let h = response.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(admission.limit));
    h.insert(
        "x-ratelimit-remaining",
        HeaderValue::from(admission.remaining),
    );
    if let Ok(v) = HeaderValue::from_str(&admission.reset_ms.to_string()) {
        h.insert("x-ratelimit-reset", v);
    }
    response
}

/// The query string as a multimap; `ids[]` and `ids` are the same key.
struct Params(BTreeMap<String, Vec<String>>);

type Checked<T> = Result<T, ApiError>;

impl Params {
    fn parse(uri: &Uri) -> Checked<Self> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|_| error(StatusCode::BAD_REQUEST, "BadRequest", "Bad Request"))?;
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            let key = k.strip_suffix("[]").unwrap_or(&k).to_string();
            map.entry(key).or_default().push(v);
        }
        Ok(Params(map))
    }

    fn all(&self, key: &str) -> &[String] {
        self.0.get(key).map_or(&[], Vec::as_slice)
    }

    fn one(&self, key: &str) -> Option<&str> {
        self.all(key).first().map(String::as_str)
    }

    fn ints(&self, key: &str) -> Checked<Vec<i64>> {
        self.all(key)
            .iter()
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| invalid_param(key, "type", "must be integer"))
            })
            .collect()
    }

    fn int(&self, key: &str) -> Checked<Option<i64>> {
        Ok(self.ints(key)?.first().copied())
    }

    fn flag(&self, key: &str) -> Checked<bool> {
        match self.one(key) {
            None => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(_) => Err(invalid_param(key, "type", "must be boolean")),
        }
    }

    fn time(&self, key: &str) -> Checked<Option<Timestamp>> {
        self.one(key)
            .map(|v| {
                wire::parse_time(v)
                    .ok_or_else(|| invalid_param(key, "format", "must match format \"date-time\""))
            })
            .transpose()
    }
}

/// The filters most list endpoints share.
struct Common {
    ids: Vec<i64>,
    created: (Option<Timestamp>, Option<Timestamp>),
    updated: (Option<Timestamp>, Option<Timestamp>),
    include_deleted: bool,
}

impl Common {
    fn read(p: &Params) -> Checked<Self> {
        Ok(Common {
            ids: p.ints("ids")?,
            created: (p.time("created_at_min")?, p.time("created_at_max")?),
            updated: (p.time("updated_at_min")?, p.time("updated_at_max")?),
            include_deleted: p.flag("include_deleted")?,
        })
    }

    /// Bounds are inclusive, at Katana's millisecond precision.
    fn keeps(&self, r: &impl Listed) -> bool {
        let within = |t: Timestamp, (lo, hi): (Option<Timestamp>, Option<Timestamp>)| {
            lo.is_none_or(|lo| t >= lo) && hi.is_none_or(|hi| t <= hi)
        };
        (self.ids.is_empty() || self.ids.contains(&r.id()))
            && within(r.created_at(), self.created)
            && within(r.updated_at(), self.updated)
            && (self.include_deleted || r.deleted_at().is_none())
    }
}

/// Pages `items` (already filtered and ordered), renders only that page, and answers
/// `{"data": [...]}` with the `X-Pagination` header.
fn paged<T>(
    items: Vec<T>,
    p: &Params,
    render: impl FnOnce(&[T]) -> Vec<Value>,
) -> Checked<Response> {
    let limit = p.int("limit")?.unwrap_or(DEFAULT_LIMIT);
    let page = p.int("page")?.unwrap_or(1);
    if limit < 1 {
        return Err(invalid_param("limit", "minimum", "must be >= 1"));
    }
    if page < 1 {
        return Err(invalid_param("page", "minimum", "must be >= 1"));
    }
    // Katana silently lowers a limit above the maximum.
    let limit = limit.min(MAX_LIMIT) as usize;
    let page = page as usize;
    let total = items.len();
    let total_pages = total.div_ceil(limit);
    let offset = (page - 1).saturating_mul(limit);
    let data = render(
        items
            .get(offset..)
            .map_or(&[][..], |rest| &rest[..limit.min(rest.len())]),
    );
    // Every value a string, in Katana's key order (dougborg #195).
    let pagination = format!(
        "{{\"total_records\":\"{total}\",\"total_pages\":\"{total_pages}\",\"offset\":\"{offset}\",\
         \"page\":\"{page}\",\"first_page\":\"{}\",\"last_page\":\"{}\"}}",
        page == 1,
        page >= total_pages
    );
    let mut r = json_response(StatusCode::OK, &json!({ "data": data }));
    if let Ok(v) = HeaderValue::from_str(&pagination) {
        r.headers_mut().insert("x-pagination", v);
    }
    Ok(r)
}

/// Filters, orders newest first (id descending) and renders one collection.
fn list<'a, T: Listed + Serialize + 'a>(
    records: impl Iterator<Item = &'a T>,
    p: &Params,
    common: &Common,
    extra: impl Fn(&T) -> bool,
    render: impl FnOnce(&[&T]) -> Vec<Value>,
) -> Checked<Response> {
    let mut kept: Vec<&T> = records.filter(|r| common.keeps(*r) && extra(r)).collect();
    kept.sort_by_key(|r| std::cmp::Reverse(r.id()));
    paged(kept, p, render)
}

fn to_json(r: &impl Serialize) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

/// Renders records as they are.
fn plain<T: Serialize>(page: &[&T]) -> Vec<Value> {
    page.iter().map(|r| to_json(*r)).collect()
}

/// Renders parents with their live children embedded under `key`, in one pass over the
/// children (deleted children are left out even with `include_deleted`, as on the live API).
fn embed<'a, P: Listed + Serialize, C: Listed + Serialize + 'a>(
    parents: &[&P],
    children: impl Iterator<Item = &'a C>,
    parent_of: impl Fn(&C) -> Option<i64>,
    key: &str,
) -> Vec<Value> {
    let mut by_parent: HashMap<i64, Vec<Value>> =
        parents.iter().map(|p| (p.id(), Vec::new())).collect();
    for child in children.filter(|c| c.deleted_at().is_none()) {
        if let Some(list) = parent_of(child).and_then(|id| by_parent.get_mut(&id)) {
            list.push(to_json(child));
        }
    }
    parents
        .iter()
        .map(|p| {
            let mut v = to_json(*p);
            v[key] = Value::Array(by_parent.remove(&p.id()).unwrap_or_default());
            v
        })
        .collect()
}

/// Orders with their rows.
fn render_orders(data: &KatanaData, page: &[&SalesOrder]) -> Vec<Value> {
    let rows = data.sales_order_rows.values();
    embed(page, rows, |r| Some(r.sales_order_id), "sales_order_rows")
}

/// Products with their variants (and no supplier, as without `extend=supplier`).
fn render_products(data: &KatanaData, page: &[&Product]) -> Vec<Value> {
    let variants = data.variants.values();
    let mut out = embed(page, variants, |v| v.product_id, "variants");
    for v in &mut out {
        v["supplier"] = Value::Null;
    }
    out
}

fn text_eq(p: &Params, key: &str, value: Option<&str>) -> bool {
    p.one(key).is_none_or(|want| value == Some(want))
}

fn int_eq(want: Option<i64>, value: Option<i64>) -> bool {
    want.is_none_or(|w| value == Some(w))
}

fn route(data: &KatanaData, path: &str, uri: &Uri) -> Response {
    let segments: Vec<&str> = path
        .trim_start_matches("/v1")
        .trim_matches('/')
        .split('/')
        .collect();
    let result = match segments.as_slice() {
        [collection] => Params::parse(uri).and_then(|p| list_collection(data, collection, &p)),
        [collection, id] => get_one(data, collection, id),
        _ => Err(not_found()),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

fn list_collection(data: &KatanaData, collection: &str, p: &Params) -> Checked<Response> {
    let common = Common::read(p)?;
    match collection {
        "sales_orders" => {
            let (customer, location) = (p.int("customer_id")?, p.int("location_id")?);
            list(
                data.sales_orders.values(),
                p,
                &common,
                |o| {
                    text_eq(p, "status", Some(o.status.as_str()))
                        && text_eq(p, "order_no", Some(&o.order_no))
                        && text_eq(p, "currency", Some(&o.currency))
                        && int_eq(customer, Some(o.customer_id))
                        && int_eq(location, Some(o.location_id))
                },
                |page| render_orders(data, page),
            )
        }
        "sales_order_rows" => {
            let orders = p.ints("sales_order_ids")?;
            let (variant, location, tax) = (
                p.int("variant_id")?,
                p.int("location_id")?,
                p.int("tax_rate_id")?,
            );
            list(
                data.sales_order_rows.values(),
                p,
                &common,
                |r| {
                    (orders.is_empty() || orders.contains(&r.sales_order_id))
                        && int_eq(variant, Some(r.variant_id))
                        && int_eq(location, r.location_id)
                        && int_eq(tax, r.tax_rate_id)
                },
                plain,
            )
        }
        "customers" => list(
            data.customers.values(),
            p,
            &common,
            |c| {
                text_eq(p, "name", Some(&c.name))
                    && text_eq(p, "email", c.email.as_deref())
                    && text_eq(p, "reference_id", c.reference_id.as_deref())
                    && text_eq(p, "currency", Some(&c.currency))
            },
            plain,
        ),
        "suppliers" => list(
            data.suppliers.values(),
            p,
            &common,
            |s| text_eq(p, "name", Some(&s.name)) && text_eq(p, "email", s.email.as_deref()),
            plain,
        ),
        "products" => {
            let archived = p.flag("include_archived")?;
            list(
                data.products.values(),
                p,
                &common,
                |pr| {
                    (archived || pr.archived_at.is_none())
                        && text_eq(p, "name", Some(&pr.name))
                        && text_eq(p, "category_name", pr.category_name.as_deref())
                },
                |page| render_products(data, page),
            )
        }
        "variants" => {
            let archived = p.flag("include_archived")?;
            let skus = p.all("sku");
            let product = p.int("product_id")?;
            list(
                data.variants.values(),
                p,
                &common,
                |v| {
                    let parent_archived = v
                        .product_id
                        .and_then(|id| data.products.get(&id))
                        .is_some_and(|pr| pr.archived_at.is_some());
                    (archived || !parent_archived)
                        && (skus.is_empty() || v.sku.as_ref().is_some_and(|s| skus.contains(s)))
                        && int_eq(product, v.product_id)
                },
                plain,
            )
        }
        "locations" => list(
            data.locations.values(),
            p,
            &common,
            |l| text_eq(p, "name", Some(&l.name)),
            plain,
        ),
        // No include_deleted here: tax rates are never deleted.
        "tax_rates" => {
            let common = Common {
                include_deleted: true,
                ..common
            };
            list(
                data.tax_rates.values(),
                p,
                &common,
                |t| text_eq(p, "name", Some(&t.name)),
                plain,
            )
        }
        // Oldest first, no date filters, no include_deleted.
        "inventory" => {
            let variants = p.ints("variant_id")?;
            let location = p.int("location_id")?;
            let archived = p.flag("include_archived")?;
            let items = data
                .inventory
                .iter()
                .filter(|i| {
                    (variants.is_empty() || variants.contains(&i.variant_id))
                        && int_eq(location, Some(i.location_id))
                        && (archived || i.archived_at.is_none())
                })
                .collect::<Vec<_>>();
            paged(items, p, plain)
        }
        _ => Err(not_found()),
    }
}

/// `GET /{collection}/{id}`: the bare object; deleted or unknown records are 404.
fn get_one(data: &KatanaData, collection: &str, id: &str) -> Checked<Response> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(not_found());
    };
    // The record, if it exists and is not soft-deleted, rendered as its list would.
    fn live<'a, T: Listed + Serialize>(
        record: Option<&'a T>,
        render: impl FnOnce(&[&'a T]) -> Vec<Value>,
    ) -> Option<Value> {
        record
            .filter(|r| r.deleted_at().is_none())
            .and_then(|r| render(&[r]).pop())
    }
    let found = match collection {
        "sales_orders" => live(data.sales_orders.get(&id), |p| render_orders(data, p)),
        "sales_order_rows" => live(data.sales_order_rows.get(&id), plain),
        "products" => live(data.products.get(&id), |p| render_products(data, p)),
        "variants" => live(data.variants.get(&id), plain),
        "locations" => live(data.locations.get(&id), plain),
        _ => None,
    };
    match found {
        Some(v) => Ok(json_response(StatusCode::OK, &v)),
        None => Err(not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_counts_429s_and_names_when_a_slot_frees() {
        let mut rt = Runtime::new(0);
        let t0 = Instant::now();
        for i in 0..3 {
            let a = rt.admit(3, t0 + Duration::from_secs(i));
            assert!(a.retry_after.is_none());
        }
        let refused = rt.admit(3, t0 + Duration::from_secs(10));
        // Four requests in the window; the second one (t0+1) must age out: at t0+61.
        assert_eq!(refused.retry_after, Some(51));
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.in_window, 4);
        let later = rt.admit(3, t0 + Duration::from_secs(62));
        assert!(later.retry_after.is_none(), "only t0+10 and t0+62 remain");
    }

    #[test]
    fn bursts_refuse_with_one_second() {
        let mut rt = Runtime::new(2);
        let t0 = Instant::now();
        assert_eq!(rt.admit(60, t0).retry_after, Some(1));
        assert_eq!(rt.admit(60, t0).retry_after, Some(1));
        assert_eq!(rt.admit(60, t0).retry_after, None);
    }
}
