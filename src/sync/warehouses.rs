//! `warehouses pull`: Katana locations into the store.

use crate::context::Ctx;
use crate::katana::model::Location;
use crate::report::Tally;
use crate::store::catalog::upsert_location;

use super::window::Filters;

pub async fn pull(ctx: &Ctx, tally: &mut Tally) -> anyhow::Result<()> {
    super::pull_entity::<Location, _>(
        ctx,
        tally,
        "locations",
        "/locations",
        Filters {
            include_deleted: true,
        },
        |tx, l, raw, _| upsert_location(tx, l, raw),
    )
    .await
}
