//! The server's metrics, which `GET /metrics` ([`crate::handlers::health`]) answers in the
//! Prometheus text format (version 0.0.4).
//!
//! Requests are counted by route template (the route's pattern, such as
//! `/dynamic-entity/{alias}/{id}`, never the path asked for, so the number of series stays
//! bounded), method and status, with a latency histogram. The pool, the configuration version
//! and the build are read when scraped. Imports and exports are counted by the handlers that
//! run them, database failures by [`crate::observe`] from the errors answered.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::Method;
use dynex_core::{CoreError, Dynex, ImportSummary};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Upper bounds of the latency buckets, in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The labels of a request counted.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

/// The labels of a request timed.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    route: String,
    method: &'static str,
}

/// A label that is one word of a fixed set (a kind, an outcome, a state).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: &'static str,
}

/// The label of an import or export counted.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// The label of import rows counted.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RowResult {
    result: &'static str,
}

/// The label of pool connections counted.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionState {
    state: &'static str,
}

/// The label of the build.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Build {
    version: &'static str,
}

/// A histogram with the latency buckets.
fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The metrics of one server: cheap to clone, every clone counts into the same series.
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    database_errors: Family<Kind, Counter>,
    imports: Family<Outcome, Counter>,
    import_rows: Family<RowResult, Counter>,
    exports: Family<Outcome, Counter>,
    export_rows: Counter,
    connections: Family<ConnectionState, Gauge>,
    connections_waiting: Gauge,
    connections_max: Gauge,
    config_version: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("dynex");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let latency = Family::<LatencyLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's head to the end of its answer's body, by route template and \
             method",
            Unit::Seconds,
            latency.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "Requests being answered",
            in_flight.clone(),
        );
        let database_errors = Family::<Kind, Counter>::default();
        registry.register(
            "database_errors",
            "Requests that failed in the database, by kind: unavailable (no connection), busy \
             (retries exhausted), statement (a statement failed), corrupt (undecodable data)",
            database_errors.clone(),
        );
        let imports = Family::<Outcome, Counter>::default();
        registry.register(
            "imports",
            "CSV imports finished (API requests and import jobs), by outcome: ok, rejected \
             (some rows refused), failed",
            imports.clone(),
        );
        let import_rows = Family::<RowResult, Counter>::default();
        registry.register(
            "import_rows",
            "Rows of CSV imports, by result: inserted, updated, unchanged (as written: not \
             those of dry runs or of refused atomic files), rejected",
            import_rows.clone(),
        );
        let exports = Family::<Outcome, Counter>::default();
        registry.register(
            "exports",
            "CSV exports finished (API requests and export jobs), by outcome: ok, failed",
            exports.clone(),
        );
        let export_rows = Counter::default();
        registry.register(
            "export_rows",
            "Rows written by CSV exports",
            export_rows.clone(),
        );
        let connections = Family::<ConnectionState, Gauge>::default();
        registry.register(
            "db_connections",
            "Open database connections of the pool, by state: in_use, idle",
            connections.clone(),
        );
        let connections_waiting = Gauge::default();
        registry.register(
            "db_connections_waiting",
            "Callers waiting for a database connection",
            connections_waiting.clone(),
        );
        let connections_max = Gauge::default();
        registry.register(
            "db_connections_max",
            "The most connections the pool opens (--pool-size)",
            connections_max.clone(),
        );
        let config_version = Gauge::default();
        registry.register(
            "config_version",
            "The configuration version served (as /health/ready reports it)",
            config_version.clone(),
        );
        let build = Family::<Build, Gauge>::default();
        build
            .get_or_create(&Build {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("build_info", "The version of dynex-server", build);
        Metrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                latency,
                in_flight,
                database_errors,
                imports,
                import_rows,
                exports,
                export_rows,
                connections,
                connections_waiting,
                connections_max,
                config_version,
            }),
        }
    }
}

/// A method as a label: the standard ones by name, any other as `OTHER`, so that a client
/// cannot add series.
pub(crate) fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(m, _)| m == method)
        .map_or("OTHER", |(_, name)| name)
}

/// The kind of database failure an error is, for `dynex_database_errors_total`; `None` for
/// errors that are not the database's.
pub(crate) fn database_error_kind(error: &CoreError) -> Option<&'static str> {
    match error {
        CoreError::Unavailable(_) => Some("unavailable"),
        CoreError::Busy => Some("busy"),
        CoreError::StatementTimeout(_) => Some("timeout"),
        CoreError::Database(_) | CoreError::Migration(_) => Some("statement"),
        CoreError::Corrupt(_) => Some("corrupt"),
        CoreError::InvalidUrl(_)
        | CoreError::UnknownEntity(_)
        | CoreError::RowNotFound(_)
        | CoreError::Query(_)
        | CoreError::Config(_)
        | CoreError::ConfigFormat(_)
        | CoreError::NotFound { .. }
        | CoreError::AlreadyExists { .. }
        | CoreError::Invalid(_)
        | CoreError::Rows(_)
        | CoreError::MissingScope(_)
        | CoreError::MethodNotAllowed(_)
        | CoreError::FilterRequired(_)
        | CoreError::BadCredentials
        | CoreError::PreconditionFailed { .. } => None,
    }
}

impl Metrics {
    /// Counts a request begun; [`Metrics::finished`] counts it done.
    pub(crate) fn started(&self) {
        self.inner.in_flight.inc();
    }

    /// Counts a request answered: `route` is its route template, `elapsed` the time to the
    /// end of its body.
    pub(crate) fn finished(
        &self,
        route: String,
        method: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        self.inner.in_flight.dec();
        self.inner
            .latency
            .get_or_create(&LatencyLabels {
                route: route.clone(),
                method,
            })
            .observe(elapsed.as_secs_f64());
        self.inner
            .requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
    }

    /// Counts a failure of the database, if `error` is one.
    pub(crate) fn database_error(&self, error: &CoreError) {
        if let Some(kind) = database_error_kind(error) {
            self.inner
                .database_errors
                .get_or_create(&Kind { kind })
                .inc();
        }
    }

    /// Counts a finished import: `Ok` with its summary, or its failure.
    pub(crate) fn import(&self, result: Result<&ImportSummary, &CoreError>) {
        let outcome = match result {
            Ok(summary) => {
                // Rows of a dry run, or of an atomic file that was refused, were not written.
                let kept = |n: u64| if summary.committed { n } else { 0 };
                for (result, rows) in [
                    ("inserted", kept(summary.inserted)),
                    ("updated", kept(summary.updated)),
                    ("unchanged", kept(summary.unchanged)),
                    ("rejected", summary.rejected),
                ] {
                    self.inner
                        .import_rows
                        .get_or_create(&RowResult { result })
                        .inc_by(rows);
                }
                if summary.rejected > 0 {
                    "rejected"
                } else {
                    "ok"
                }
            }
            Err(error) => {
                self.database_error(error);
                "failed"
            }
        };
        self.inner.imports.get_or_create(&Outcome { outcome }).inc();
    }

    /// Counts a finished export: the rows written, or (`None`) its failure.
    pub(crate) fn export(&self, rows: Option<u64>) {
        let outcome = match rows {
            Some(rows) => {
                self.inner.export_rows.inc_by(rows);
                "ok"
            }
            None => "failed",
        };
        self.inner.exports.get_or_create(&Outcome { outcome }).inc();
    }

    /// The text of a scrape, with `dynex`'s pool and configuration version read now.
    pub(crate) fn render(&self, dynex: &Dynex) -> Result<String, std::fmt::Error> {
        let pool = dynex.db().status();
        let inner = &self.inner;
        let in_use = pool.connections.saturating_sub(pool.idle);
        inner
            .connections
            .get_or_create(&ConnectionState { state: "in_use" })
            .set(i64::from(in_use));
        inner
            .connections
            .get_or_create(&ConnectionState { state: "idle" })
            .set(i64::from(pool.idle));
        inner
            .connections_waiting
            .set(i64::try_from(pool.waiting).unwrap_or(i64::MAX));
        inner.connections_max.set(i64::from(pool.max));
        inner.config_version.set(dynex.snapshot().version);
        let mut text = String::with_capacity(8192);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &inner.registry)?;
        Ok(text)
    }
}
