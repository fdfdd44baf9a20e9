//! `despatches`: a despatch note for every invoiced order Katana reports delivered.

use crate::context::Ctx;
use crate::report::Tally;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Ctx, tally: &mut Tally, _args: Args) -> anyhow::Result<()> {
    crate::sync::despatches::run(ctx, tally).await
}
