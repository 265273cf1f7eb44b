//! Starting the server: open the database (loading the demo when asked), print how to call it,
//! and serve until interrupted.

use std::time::Duration;

use actix_web::{HttpServer, web};
use dynex_core::{DbOptions, Dynex, Options, TokenOptions};
use dynex_query::PageLimits;

use crate::config::{AppConfig, ServerArgs};

/// Opens the database (loading the demo if asked), prints how to call it, and serves until
/// interrupted.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
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
            ..DbOptions::default()
        },
        migrate: true,
        page_limits: PageLimits {
            default_limit: args.page_limit_default.max(1),
            max_limit: args.page_limit_max.max(args.page_limit_default).max(1),
        },
        watch_interval: Some(dynex_core::DEFAULT_WATCH_INTERVAL),
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
        let (key, password) = demo_credentials(dynex.clone()).await?;
        print_demo_banner(&args, &url, &key, &password);
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
    let mut server = HttpServer::new(move || crate::create_app(dynex.clone(), config.clone()))
        .on_connect(crate::on_connect);
    if let Some(w) = args.workers {
        server = server.workers(w.max(1));
    }
    server.bind(args.bind)?.run().await?;
    Ok(())
}

/// The admin user `--demo` creates.
const DEMO_ADMIN: &str = "admin";

/// Loads the demo catalog (if absent) and returns a new API key and the admin user's fresh
/// password.
async fn demo_credentials(dynex: Dynex) -> anyhow::Result<(String, String)> {
    let credentials = web::block(move || {
        dynex.load_demo()?;
        let name = format!("demo-{}", chrono_like_now());
        let key = dynex.create_api_key(&name, &[], None)?;
        // A fresh admin password at every demo start, so the printed one always works.
        let password = dynex_auth::generate_secret("");
        match dynex.set_user_password(DEMO_ADMIN, &password) {
            Err(dynex_core::CoreError::NotFound { .. }) => {
                dynex.add_user(DEMO_ADMIN, &password, dynex_auth::Role::Admin)?;
            }
            other => other?,
        }
        Ok::<_, dynex_core::CoreError>((key.key, password))
    })
    .await??;
    Ok(credentials)
}

/// Prints the demo's credentials and commands to try them; a test runs these commands, so
/// their text is part of the contract.
fn print_demo_banner(args: &ServerArgs, url: &str, key: &str, password: &str) {
    let base = format!(
        "http://{}/{}",
        args.bind,
        args.route_prefix.trim_matches('/')
    );
    println!("dynex demo catalog loaded into {}", dynex_core::redact(url));
    println!("API key (shown once): {key}");
    println!(
        "Try:\n  curl -H 'X-Api-Key: {key}' '{base}/countries?include=countryTaxRates&page[limit]=2'"
    );
    println!("Admin user (password shown once): {DEMO_ADMIN} / {password}");
    println!(
        "Token:\n  curl -d grant_type=password -d username={DEMO_ADMIN} -d password='{password}' http://{}/token",
        args.bind
    );
    println!(
        "Back office: http://{}/ (log in as {DEMO_ADMIN}; the table spy_product_label is not \
             exposed yet: Endpoints, New endpoint from a table)",
        args.bind
    );
}

fn chrono_like_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
