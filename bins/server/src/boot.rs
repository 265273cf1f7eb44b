//! Starting the server: open the database (loading the demo when asked), print how to call it,
//! and serve until interrupted.

use std::time::Duration;

use actix_web::web;
use dynex_core::{DbOptions, Dynex, Options, TokenOptions};
use dynex_query::PageLimits;

use crate::config::{AppConfig, ServerArgs};

/// Opens the database (loading the demo if asked), prints how to call it, and serves until
/// interrupted; then writes the access lines still waiting.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let result = start_and_serve(args).await;
    crate::logging::flush();
    result
}

async fn start_and_serve(args: ServerArgs) -> anyhow::Result<()> {
    let url = args.database_url.clone().unwrap_or_else(|| {
        if args.demo {
            "sqlite://dynex-demo.db"
        } else {
            "sqlite://dynex.db"
        }
        .to_string()
    });
    let options = Options {
        db: DbOptions {
            pool_size: args.pool_size,
            connection_timeout: Duration::from_secs(args.pool_timeout.max(1)),
            statement_timeout: (args.statement_timeout > 0)
                .then(|| Duration::from_secs(args.statement_timeout)),
            sqlite_mmap: args.sqlite_mmap.saturating_mul(1024 * 1024),
            ..DbOptions::default()
        },
        migrate: true,
        page_limits: PageLimits {
            default_limit: args.page_limit_default.max(1),
            max_limit: args.page_limit_max.max(args.page_limit_default).max(1),
        },
        watch_interval: Some(Duration::from_millis(args.watch_interval.max(1))),
        audit_data_writes: args.audit_data_writes,
        audit_retention: (args.audit_retention_days > 0)
            .then(|| Duration::from_secs(args.audit_retention_days.saturating_mul(86_400))),
        tokens: TokenOptions {
            secret: args.token_secret.clone(),
            access_ttl: Duration::from_secs(args.access_token_ttl.max(1)),
            refresh_ttl: Duration::from_secs(args.refresh_token_ttl.max(1)),
            ..TokenOptions::default()
        },
    };
    if let Some(secret) = &args.token_secret
        && let Err(why) = dynex_auth::check_signing_secret(secret)
    {
        if !args.demo {
            anyhow::bail!("refusing to start: {why}");
        }
        log::warn!("{why}; accepted only because this is the demo");
    }
    let open_url = url.clone();
    let dynex = web::block(move || Dynex::open_with(&open_url, options)).await??;
    if args.demo {
        let demo = demo_credentials(dynex.clone()).await?;
        print_demo_banner(&args, &url, &demo);
    }
    println!(
        "dynex-server listening on http://{} (database {})",
        args.bind,
        dynex_core::redact(&url)
    );
    let config = AppConfig {
        route_prefix: args.route_prefix.clone(),
        max_body_bytes: args.max_body_bytes,
        max_upload_bytes: args.max_upload_bytes,
        trust_forwarded_for: args.trust_forwarded_for,
        metrics_access: args.metrics,
        body_timeout: (args.body_timeout > 0).then(|| Duration::from_secs(args.body_timeout)),
        // One set of metrics for every worker's application.
        metrics: crate::Metrics::default(),
    };
    let listener = std::net::TcpListener::bind(args.bind)?;
    // Pipelines run on their schedules and on change events for as long as the process lives.
    let _changes = if args.scheduler == crate::config::Switch::On {
        crate::pipelines::schedule::spawn(dynex.clone(), config.metrics.clone())?;
        Some(crate::pipelines::changes::spawn(
            dynex.clone(),
            config.metrics.clone(),
        )?)
    } else {
        None
    };
    crate::serve_with(
        listener,
        args.workers,
        // A worker's requests use at most the pool's connections at once.
        usize::try_from(args.pool_size).unwrap_or(usize::MAX),
        move || crate::create_app(dynex.clone(), config.clone()),
        crate::on_connect,
    )?
    .await?;
    Ok(())
}

/// The admin user `--demo` creates.
const DEMO_ADMIN: &str = "admin";

/// The name of the API key `--demo` creates, replacing the one of an earlier start.
const DEMO_KEY: &str = "demo";

/// The table the demo leaves unexposed, for a first endpoint in the back office.
const UNEXPOSED_TABLE: &str = "spy_product_label";

/// What `--demo` did and the credentials it prints.
struct Demo {
    /// Whether the catalog was loaded now (not found from an earlier start).
    loaded: bool,
    /// A new API key.
    key: String,
    /// Whether an earlier start's demo keys were revoked for it.
    replaced: bool,
    /// The admin user's fresh password.
    password: String,
    /// Whether [`UNEXPOSED_TABLE`] is still unexposed.
    table_unexposed: bool,
}

/// Loads the demo catalog (if absent), replaces the demo API key and sets a fresh password
/// for the admin user.
async fn demo_credentials(dynex: Dynex) -> anyhow::Result<Demo> {
    let demo = web::block(move || {
        let loaded = dynex.load_demo()?;
        // One demo key, whatever the number of starts: the one printed before is deleted (as
        // are the `demo-<time>` keys earlier versions created at each start).
        let mut replaced = false;
        for key in dynex.list_api_keys()? {
            let earlier = key.name == DEMO_KEY
                || key
                    .name
                    .strip_prefix("demo-")
                    .is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()));
            if earlier {
                replaced |= dynex.delete_api_key(&key.name)?;
            }
        }
        let key = dynex.create_api_key(DEMO_KEY, &[], None)?;
        // A fresh admin password at every demo start, so the printed one always works.
        let password = dynex_auth::generate_secret("");
        match dynex.set_user_password(DEMO_ADMIN, &password) {
            Err(dynex_core::CoreError::NotFound { .. }) => {
                dynex.add_user(DEMO_ADMIN, &password, dynex_auth::Role::Admin)?;
            }
            other => other?,
        }
        let table_unexposed = !dynex
            .snapshot()
            .catalog
            .entities()
            .iter()
            .any(|e| e.config.table_name == UNEXPOSED_TABLE);
        Ok::<_, dynex_core::CoreError>(Demo {
            loaded,
            key: key.key,
            replaced,
            password,
            table_unexposed,
        })
    })
    .await??;
    Ok(demo)
}

/// Prints what the demo did, its credentials and commands to try them; a test runs these
/// commands as printed, so their text is part of the contract.
fn print_demo_banner(args: &ServerArgs, url: &str, demo: &Demo) {
    let base = format!(
        "http://{}/{}",
        args.bind,
        args.route_prefix.trim_matches('/')
    );
    let url = dynex_core::redact(url);
    if demo.loaded {
        println!("dynex demo catalog loaded into {url}");
    } else {
        println!("dynex demo catalog found in {url} (kept as it is, not loaded again)");
    }
    let replaced = if demo.replaced {
        "; it replaces the demo key of an earlier start"
    } else {
        ""
    };
    println!("API key `{DEMO_KEY}` (shown once{replaced}): {}", demo.key);
    // `-g`: the brackets of `page[limit]` are no range for curl.
    println!(
        "Try:\n  curl -g -H 'X-Api-Key: {}' '{base}/countries?include=countryTaxRates&page[limit]=2'",
        demo.key
    );
    println!(
        "Admin user (password shown once): {DEMO_ADMIN} / {}",
        demo.password
    );
    println!(
        "Token:\n  curl -d grant_type=password -d username={DEMO_ADMIN} -d password='{}' http://{}/token",
        demo.password, args.bind
    );
    if demo.table_unexposed {
        println!(
            "Back office: http://{}/ (log in as {DEMO_ADMIN}; the table {UNEXPOSED_TABLE} is not \
             exposed yet: Endpoints, New endpoint from a table)",
            args.bind
        );
    } else {
        println!(
            "Back office: http://{}/ (log in as {DEMO_ADMIN})",
            args.bind
        );
    }
}
