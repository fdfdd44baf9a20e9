use clap::Parser;

fn main() {
    let _cli = katana_sync::cli::Cli::parse();
}
