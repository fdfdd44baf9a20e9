//! `completions SHELL`: shell completions on stdout.

use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::error::Exit;

pub fn run(shell: clap_complete::Shell) -> anyhow::Result<Exit> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "katana-sync", &mut std::io::stdout());
    Ok(Exit::Ok)
}
