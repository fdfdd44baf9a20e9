//! `products pull [--from katana|luca|both]`: variants from Katana, stock card ids from Luca.

use crate::context::Ctx;
use crate::report::Tally;
use crate::sync::products::PullFrom;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = From::Both)]
    from: From,
}

/// `--from`, as the command line spells it (the other pulls take it too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum From {
    Katana,
    Luca,
    Both,
}

impl From {
    pub(super) fn side(self) -> PullFrom {
        match self {
            From::Katana => PullFrom::Katana,
            From::Luca => PullFrom::Luca,
            From::Both => PullFrom::Both,
        }
    }
}

pub async fn run(ctx: &Ctx, tally: &mut Tally, args: Args) -> anyhow::Result<()> {
    crate::sync::products::pull(ctx, tally, args.from.side()).await
}
