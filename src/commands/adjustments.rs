//! `adjustments list|approve|reject|resolve`: the approval queue.

use crate::cli::{AdjustmentsCmd, ResolveArgs, Selection, StatusFilter};
use crate::context::Options;
use crate::context::{Ctx, Needs};
use crate::error::{Error, Exit};
use crate::progress::Mode;
use crate::store::adjustments::{self, Adjustment, Status};
use crate::store::outbox::State as OutboxState;

pub async fn run(opts: &Options, progress: Mode, cmd: AdjustmentsCmd) -> anyhow::Result<Exit> {
    match cmd {
        AdjustmentsCmd::List { status } => {
            // Read-only: no config file needed, no lock.
            let store = Ctx::read_store(opts)?;
            let filter = status_name(status);
            let list = adjustments::list(store.conn(), filter)?;
            if opts.json {
                opts.host.println(serde_json::to_string_pretty(
                    &serde_json::json!({ "adjustments": list }),
                )?)?;
            } else {
                opts.host
                    .print(render(&list, filter.map_or("any", Status::as_str)))?;
            }
            Ok(Exit::Ok)
        }
        AdjustmentsCmd::Approve(sel) => decide(opts, progress, &sel, Status::Approved).await,
        AdjustmentsCmd::Reject(sel) => decide(opts, progress, &sel, Status::Rejected).await,
        AdjustmentsCmd::Resolve(args) => resolve(opts, progress, &args).await,
    }
}

/// `adjustments resolve ID (--applied [--luca-id N] | --retry)`: settles the outbox row
/// the adjustment is linked to (an invoice, a stock slip, …) and every adjustment linked
/// to it. Only an `unknown` adjustment can be resolved; anything else is bad input.
async fn resolve(opts: &Options, progress: Mode, args: &ResolveArgs) -> anyhow::Result<Exit> {
    let ctx = Ctx::open(opts, progress, Needs::writer(opts)).await?;
    let conn = ctx.store.conn();
    let Some(linked) = adjustments::linked(conn, args.id)? else {
        return Err(Error::Usage(format!(
            "no adjustment with id {}; `adjustments list --status unknown` shows those to resolve",
            args.id
        ))
        .into());
    };
    let outbox = match (&linked.status, &linked.outbox) {
        (Status::Unknown, Some(o))
            if matches!(o.state, OutboxState::Unknown | OutboxState::Sending) =>
        {
            o.clone()
        }
        (status, _) => {
            return Err(Error::Usage(format!(
                "adjustment {} is {status}, not unknown: only an adjustment whose push outcome is unknown can be resolved; `adjustments list --status unknown` shows them",
                args.id
            ))
            .into());
        }
    };
    let (outbox_id, kind, key) = (outbox.id, outbox.kind, outbox.key);
    if let Some(n) = args.luca_id
        && let Some(other) = crate::store::invoices::claimed_by(conn, kind, n, outbox_id)?
    {
        return Err(Error::Usage(format!(
            "Luca id {n} is already recorded for {kind} {other}; check the id in Luca"
        ))
        .into());
    }
    if ctx.dry_run() {
        ctx.store.begin_dry_run()?;
    }
    let now = crate::store::now();
    let changed = ctx.store.write(|tx| {
        if args.retry {
            adjustments::resolve_retry(tx, outbox_id, &now)
        } else {
            adjustments::resolve_applied(tx, outbox_id, args.luca_id, &now)
        }
    });
    if ctx.dry_run() {
        ctx.store.end_dry_run()?;
    }
    let changed = changed?;
    if opts.json {
        opts.host
            .println(serde_json::json!({ "changed": changed }))?;
    } else if opts.quiet == 0 {
        let would = if ctx.dry_run() { "would be " } else { "" };
        let what = if args.retry {
            format!("{would}approved again; the next run creates the {kind} once, without a lookup")
        } else {
            format!("{would}applied; the {kind} is recorded as done")
        };
        opts.host
            .println(format_args!("{kind} {key}: {changed} adjustment(s) {what}"))?;
    }
    Ok(Exit::Ok)
}

fn status_name(s: StatusFilter) -> Option<Status> {
    Some(match s {
        StatusFilter::Pending => Status::Pending,
        StatusFilter::Approved => Status::Approved,
        StatusFilter::Rejected => Status::Rejected,
        StatusFilter::Applied => Status::Applied,
        StatusFilter::Superseded => Status::Superseded,
        StatusFilter::Unknown => Status::Unknown,
        StatusFilter::All => return None,
    })
}

async fn decide(
    opts: &Options,
    progress: Mode,
    sel: &Selection,
    status: Status,
) -> anyhow::Result<Exit> {
    let ctx = Ctx::open(opts, progress, Needs::writer(opts)).await?;
    let conn = ctx.store.conn();
    let missing = adjustments::missing_ids(conn, &sel.ids)?;
    if !missing.is_empty() {
        let ids: Vec<String> = missing.iter().map(i64::to_string).collect();
        return Err(Error::Usage(format!(
            "no adjustment with id {}; `adjustments list --status all` shows them",
            ids.join(", ")
        ))
        .into());
    }
    let unknown_orders = unknown_orders(conn, &sel.orders)?;
    let selection = if sel.all {
        adjustments::Selection::All
    } else if !sel.orders.is_empty() {
        adjustments::Selection::Orders(&sel.orders)
    } else {
        adjustments::Selection::Ids(&sel.ids)
    };
    // A dry run decides inside a transaction that is rolled back: it reports exactly
    // what would change.
    if ctx.dry_run() {
        ctx.store.begin_dry_run()?;
    }
    let changed = ctx
        .store
        .write(|tx| adjustments::decide(tx, &selection, status, &crate::store::now()));
    if ctx.dry_run() {
        ctx.store.end_dry_run()?;
    }
    let changed = changed?;
    if opts.json {
        opts.host
            .println(serde_json::json!({ "changed": changed }))?;
    } else if opts.quiet == 0 {
        let would = if ctx.dry_run() { "would be " } else { "" };
        opts.host
            .println(format_args!("{changed} adjustment(s) {would}{status}"))?;
    }
    if unknown_orders.is_empty() {
        return Ok(Exit::Ok);
    }
    // The others were decided; these could not be, so the command did not do all it
    // was asked (exit 1).
    opts.host.eprintln(format_args!(
        "no order {} in the store: check the order number; `katana-sync orders pull` fetches \
         new orders, `katana-sync adjustments list --status all` shows the queue",
        unknown_orders.join(", ")
    ));
    Ok(Exit::Partial)
}

/// The order numbers among `orders` that the store has never seen (no order and no
/// adjustment carries them).
fn unknown_orders(conn: &rusqlite::Connection, orders: &[String]) -> anyhow::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT EXISTS (SELECT 1 FROM sales_orders WHERE order_no = ?1)
             OR EXISTS (SELECT 1 FROM adjustments WHERE order_no = ?1)",
    )?;
    let mut unknown = Vec::new();
    for order in orders {
        if !stmt.query_row([order], |r| r.get::<_, bool>(0))? {
            unknown.push(order.clone());
        }
    }
    Ok(unknown)
}

fn render(list: &[Adjustment], status: &str) -> String {
    use std::fmt::Write as _;
    if list.is_empty() {
        return format!("no {status} adjustments\n");
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>6}  {:<12} {:<20} {:<10} {:>10}  {:<10} {:<10} created",
        "id", "order", "sku", "warehouse", "quantity", "kind", "status"
    );
    for a in list {
        let _ = writeln!(
            out,
            "{:>6}  {:<12} {:<20} {:<10} {:>10}  {:<10} {:<10} {}",
            a.id,
            a.order_no.as_deref().unwrap_or("-"),
            a.sku,
            a.warehouse.as_deref().unwrap_or("-"),
            a.quantity,
            a.kind,
            a.status,
            a.created_at
        );
    }
    out
}
