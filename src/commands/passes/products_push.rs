//! `products push [--sku SKU]...`: the Luca stock cards of variants that have none.

use crate::context::Ctx;
use crate::report::Tally;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only these SKUs (repeatable)
    #[arg(long = "sku", value_name = "SKU")]
    skus: Vec<String>,
}

pub async fn run(ctx: &Ctx, tally: &mut Tally, args: Args) -> anyhow::Result<()> {
    crate::sync::products::push(ctx, tally, args.skus).await
}
