//! `dynex`: the command line. Everything but argument parsing and exit codes lives in the
//! `dynex_cli` library, so tests and tools run exactly what users run.

use std::process::ExitCode;

use clap::Parser;
use dynex_cli::Cli;

// Imports build and drop many small JSON values per row; mimalloc handles that pattern markedly
// faster than the system allocator (malloc and free took 40% of an import's time).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn,r2d2=off"))
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return dynex_cli::report_usage(e),
    };
    let json = cli.json;
    match dynex_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => dynex_cli::report(&e, json),
    }
}
