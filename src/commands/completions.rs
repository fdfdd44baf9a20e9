//! `completions SHELL`: shell completions on stdout.

use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::context::Options;
use crate::error::Exit;

pub fn run(opts: &Options, shell: clap_complete::Shell) -> anyhow::Result<Exit> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "katana-sync", &mut script);
    opts.host.print(String::from_utf8_lossy(&script))?;
    Ok(Exit::Ok)
}
