//! `dynex-server`: parses its arguments and runs the server library.

use clap::Parser;

// Writes and reads allocate many small JSON values; mimalloc handles that pattern markedly
// faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    dynex_server::run(dynex_server::ServerArgs::parse()).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        dynex_server::ServerArgs::command().debug_assert();
    }
}
