//! The `katana-sync` binary: parse the command line, set up logs, run, and turn the
//! outcome into an exit code (SPEC section 3).

use std::process::ExitCode;

use clap::Parser as _;
use katana_sync::{cli::Cli, commands, error, progress};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mode = progress::init(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(error::Exit::Internal.code());
        }
    };
    let exit = match runtime.block_on(commands::run(cli, mode)) {
        Ok(exit) => exit,
        Err(e) => {
            let exit = error::exit_for(&e);
            // Printed directly, not logged: an error must show even with -qq or a
            // KATANA_SYNC_LOG that filters everything.
            eprintln!("error: {e:#}");
            if exit == error::Exit::Internal {
                eprintln!("this is a bug in katana-sync; please report it with the output of `-v`");
            }
            exit
        }
    };
    ExitCode::from(exit.code())
}
