//! `customers pull` / `suppliers pull`: Katana customers and suppliers into the store,
//! then (the Luca half, in `accounts`) their existing Luca accounts into the map.

use crate::context::Ctx;
use crate::entity::Entity;
use crate::katana::model::Partner;
use crate::report::Tally;
use crate::store::catalog::upsert_partner;
use crate::store::luca_ids::AccountKind;

use super::products::PullFrom;
use super::window::Filters;

fn endpoint(kind: AccountKind) -> (Entity, &'static str) {
    match kind {
        AccountKind::Customer => (Entity::Customers, "/customers"),
        AccountKind::Supplier => (Entity::Suppliers, "/suppliers"),
    }
}

pub async fn pull(
    ctx: &Ctx,
    tally: &mut Tally,
    kind: AccountKind,
    from: PullFrom,
) -> anyhow::Result<()> {
    if matches!(from, PullFrom::Katana | PullFrom::Both) {
        pull_katana(ctx, tally, kind).await?;
    }
    if matches!(from, PullFrom::Luca | PullFrom::Both) {
        super::accounts::pull(ctx, tally, kind).await?;
    }
    Ok(())
}

async fn pull_katana(ctx: &Ctx, tally: &mut Tally, kind: AccountKind) -> anyhow::Result<()> {
    let (entity, path) = endpoint(kind);
    super::pull_entity::<Partner, _>(
        ctx,
        tally,
        entity,
        path,
        Filters {
            include_deleted: true,
        },
        |tx, p, raw, _| {
            let name = p
                .display_name()
                .unwrap_or_else(|| format!("{} {}", kind.as_str(), p.id));
            upsert_partner(tx, kind.as_str(), p, &name, raw)
        },
    )
    .await
}
