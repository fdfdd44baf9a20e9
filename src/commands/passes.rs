//! The command line of the passes, generated from the one list in `crate::pass` (its
//! `for_each_pass!`): each pass's words, help and arguments, and its dispatch, so a pass
//! cannot be half known. A pass file holds
//! `Args` (clap) and `run(ctx, tally, args)`; it is dispatched through `run_pass` like
//! every pass, so it records its run in history.
//!
//! A `sync_type` without a command path (`delete_sku`) is recorded in history but has a
//! command of its own (it prompts, and prints what it deleted).

use crate::context::Ctx;
use crate::error::Exit;
pub use crate::pass::{Interval, PassInfo, SyncType};
use crate::progress::Mode;
use crate::report::Tally;

mod customers_pull;
mod customers_push;
mod despatches;
mod invoices;
mod orders_pull;
mod products_pull;
mod products_push;
mod stock;
mod suppliers_pull;
mod suppliers_push;
mod warehouses_pull;
mod warehouses_push;

/// The groups of the command line that passes live under (`orders pull`), with their help.
const GROUPS: &[(&str, &str)] = &[
    ("orders", "Katana sales orders"),
    ("products", "Katana products and variants; Luca stock cards"),
    (
        "customers",
        "Katana customers and Luca customer accounts (cari)",
    ),
    ("suppliers", "Katana suppliers and Luca supplier accounts"),
    ("warehouses", "Katana locations and Luca warehouses (depo)"),
];

macro_rules! passes {
    ($(
        $variant:ident = $name:literal, [$($word:literal),*], $about:literal,
        interval: $interval:expr, after: [$($after:ident),*], remotes: [$($remote:ident),*],
        file: $($file:ident)?;
    )*) => {
        /// A pass as the command line asked for it, with its own arguments.
        #[derive(Debug)]
        pub enum PassCmd { $($($variant($file::Args),)?)* }

        impl PassCmd {
            pub fn sync_type(&self) -> SyncType {
                match self { $($(PassCmd::$variant($file::Args { .. }) => SyncType::$variant,)?)* }
            }

            /// The pass as its command runs with no arguments (for `all`); `None` when
            /// it has no command, or arguments that cannot all default.
            pub fn with_defaults(sync_type: SyncType) -> Option<PassCmd> {
                Self::with_words(sync_type, &[])
            }

            /// The pass as its command runs with these arguments (`["--from", "katana"]`);
            /// `None` when it has no command or does not take them.
            pub fn with_words(sync_type: SyncType, words: &[&str]) -> Option<PassCmd> {
                let cmd = clap::Command::new(sync_type.as_str()).no_binary_name(true);
                let m = Self::augment(cmd, sync_type)
                    .try_get_matches_from(words.iter().copied())
                    .ok()?;
                Self::from_matches(sync_type, &m).ok()
            }

            pub(super) async fn body(self, ctx: &Ctx, tally: &mut Tally) -> anyhow::Result<()> {
                match self { $($(PassCmd::$variant(args) => $file::run(ctx, tally, args).await,)?)* }
            }

            fn augment(cmd: clap::Command, sync_type: SyncType) -> clap::Command {
                use clap::Args as _;
                match sync_type {
                    $($(SyncType::$variant => $file::Args::augment_args(cmd),)?)*
                    _ => cmd,
                }
            }

            fn from_matches(
                sync_type: SyncType,
                m: &clap::ArgMatches,
            ) -> Result<PassCmd, clap::Error> {
                use clap::FromArgMatches as _;
                match sync_type {
                    $($(SyncType::$variant => Ok(PassCmd::$variant($file::Args::from_arg_matches(m)?)),)?)*
                    other => Err(clap::Error::raw(
                        clap::error::ErrorKind::InvalidSubcommand,
                        format!("{} has no command of the registry", other.as_str()),
                    )),
                }
            }
        }
    };
}

crate::pass::for_each_pass!(passes);

/// The passes with a command line path, in the registry's order.
fn commanded() -> impl Iterator<Item = &'static PassInfo> {
    SyncType::ALL
        .iter()
        .map(|t| t.info())
        .filter(|i| !i.cli.is_empty())
}

impl clap::Subcommand for PassCmd {
    fn augment_subcommands(mut cmd: clap::Command) -> clap::Command {
        for (group, about) in GROUPS {
            let mut sub = clap::Command::new(*group)
                .about(*about)
                .subcommand_required(true)
                .arg_required_else_help(true);
            for info in commanded().filter(|i| i.cli.len() == 2 && i.cli[0] == *group) {
                let verb = clap::Command::new(info.cli[1]).about(info.about);
                sub = sub.subcommand(Self::augment(verb, info.sync_type));
            }
            cmd = cmd.subcommand(sub);
        }
        for info in commanded().filter(|i| i.cli.len() == 1) {
            let c = clap::Command::new(info.cli[0]).about(info.about);
            cmd = cmd.subcommand(Self::augment(c, info.sync_type));
        }
        cmd
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_subcommands(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        commanded().any(|i| i.cli[0] == name)
    }
}

impl clap::FromArgMatches for PassCmd {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let Some((first, m1)) = m.subcommand() else {
            return Err(clap::Error::new(clap::error::ErrorKind::MissingSubcommand));
        };
        for info in commanded() {
            match info.cli {
                [one] if *one == first => return Self::from_matches(info.sync_type, m1),
                [group, verb] if *group == first => {
                    if let Some((second, m2)) = m1.subcommand()
                        && second == *verb
                    {
                        return Self::from_matches(info.sync_type, m2);
                    }
                }
                _ => {}
            }
        }
        Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand))
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

/// Opens the context a pass needs (config, locked store), runs the pass, prints it.
pub async fn run(
    opts: &crate::context::Options,
    progress: Mode,
    cmd: PassCmd,
) -> anyhow::Result<Exit> {
    let ctx = Ctx::open(opts, progress, crate::context::Needs::writer(opts)).await?;
    let sync_type = cmd.sync_type();
    let (run, err) = super::run_pass(&ctx, sync_type, async |t| cmd.body(&ctx, t).await).await;
    crate::metrics::after_pass(&ctx);
    super::print_run(&ctx, &run)?;
    match err {
        Some(e) => Err(e),
        None => Ok(super::exit_of(&run)),
    }
}
