//! `dynex-server`: parses its arguments and runs the server library.

use clap::Parser;

// Writes and reads allocate many small JSON values; mimalloc handles that pattern markedly
// faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args = dynex_server::ServerArgs::parse();
    dynex_server::init_logging(args.log_format);
    dynex_server::run(args).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        dynex_server::ServerArgs::command().debug_assert();
    }
}
