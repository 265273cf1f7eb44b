//! The server's metrics, which `GET /metrics` ([`crate::handlers::health`]) answers in the
//! Prometheus text format (version 0.0.4).
//!
//! Requests are counted by route template (the route's pattern, such as
//! `/dynamic-entity/{alias}/{id}`, never the path asked for, so the number of series stays
//! bounded), method and status, with a latency histogram. Each worker thread counts its
//! requests in a shard of its own, summed when scraped: a request then touches no memory that
//! another core writes, where shared counters cost several percent of the read path's
//! throughput. The pool, the configuration version and the build are read when scraped. Imports and exports are counted by the handlers that
//! run them, database failures by [`crate::observe`] from the errors answered.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::http::Method;
use dynex_core::{CoreError, Dynex, ImportSummary};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// Upper bounds of the latency buckets, in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

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

/// The labels of a pipeline's runs counted.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipelineState {
    pipeline: String,
    state: &'static str,
}

/// The labels of a pipeline's records counted.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipelineRecords {
    pipeline: String,
    result: &'static str,
}

/// The label of a pipeline.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PipelineName {
    pipeline: String,
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

/// The metrics of one server: cheap to clone, every clone counts into the same series.
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    requests: Arc<Requests>,
    database_errors: Family<Kind, Counter>,
    imports: Family<Outcome, Counter>,
    import_rows: Family<RowResult, Counter>,
    exports: Family<Outcome, Counter>,
    export_rows: Counter,
    connections: Family<ConnectionState, Gauge>,
    connections_waiting: Gauge,
    connections_max: Gauge,
    config_version: Gauge,
    pipeline_runs: Family<PipelineState, Counter>,
    pipeline_records: Family<PipelineRecords, Counter>,
    pipeline_healthy: Family<PipelineName, Gauge>,
    pipeline_failures: Family<PipelineName, Gauge>,
    pipeline_last_success: Family<PipelineName, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("dynex");
        let requests = Arc::new(Requests::default());
        registry.register_collector(Box::new(requests.clone()));
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
        let pipeline_runs = Family::<PipelineState, Counter>::default();
        registry.register(
            "pipeline_runs",
            "Pipeline runs this server ran (schedules, webhooks, the back office), by pipeline \
             and state: succeeded, failed",
            pipeline_runs.clone(),
        );
        let pipeline_records = Family::<PipelineRecords, Counter>::default();
        registry.register(
            "pipeline_records",
            "Records of the pipeline runs this server ran, by pipeline and result: read, \
             inserted, updated, unchanged, skipped, dead_letter",
            pipeline_records.clone(),
        );
        let pipeline_healthy = Family::<PipelineName, Gauge>::default();
        registry.register(
            "pipeline_healthy",
            "1 when a pipeline is healthy, 0 when it failed 3 times in a row or is overdue \
             for its schedule (from the run history, whichever server ran it)",
            pipeline_healthy.clone(),
        );
        let pipeline_failures = Family::<PipelineName, Gauge>::default();
        registry.register(
            "pipeline_consecutive_failures",
            "Failed or interrupted runs of a pipeline since its last success",
            pipeline_failures.clone(),
        );
        let pipeline_last_success = Family::<PipelineName, Gauge>::default();
        registry.register_with_unit(
            "pipeline_last_success_timestamp",
            "When the last successful run of a pipeline started (Unix time)",
            Unit::Seconds,
            pipeline_last_success.clone(),
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
                database_errors,
                imports,
                import_rows,
                exports,
                export_rows,
                connections,
                connections_waiting,
                connections_max,
                config_version,
                pipeline_runs,
                pipeline_records,
                pipeline_healthy,
                pipeline_failures,
                pipeline_last_success,
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
        self.inner.requests.with_shard(|shard| shard.in_flight += 1);
    }

    /// Counts a request answered: `route` is its route template, `elapsed` the time to the
    /// end of its body.
    pub(crate) fn finished(
        &self,
        route: &str,
        method: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        self.inner.requests.with_shard(|shard| {
            shard.in_flight -= 1;
            shard.record(route, method, status, elapsed.as_secs_f64());
        });
    }

    /// The requests of the last hour, a minute at a time, oldest first; the current minute
    /// last. Minutes without requests are there with zeros.
    pub fn last_hour(&self) -> Vec<Minute> {
        let total = self.inner.requests.total();
        let now = minute_now();
        (now.saturating_sub(59)..=now)
            .map(|minute| {
                let slot = total.minutes[(minute % 60) as usize];
                if slot.start == minute * 60 {
                    slot
                } else {
                    Minute {
                        start: minute * 60,
                        ..Minute::default()
                    }
                }
            })
            .collect()
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
    /// Counts a pipeline run this server ran, with its records.
    pub(crate) fn pipeline_run(
        &self,
        pipeline: &str,
        result: &Result<dynex_pipeline::run::RunSummary, dynex_pipeline::run::RunError>,
    ) {
        let (summary, state) = match result {
            Ok(summary) => (summary, "succeeded"),
            Err(dynex_pipeline::run::RunError::Failed(summary)) => (&**summary, "failed"),
            // Not run: nothing to count.
            Err(_) => return,
        };
        let inner = &self.inner;
        inner
            .pipeline_runs
            .get_or_create(&PipelineState {
                pipeline: pipeline.to_string(),
                state,
            })
            .inc();
        for (result, n) in [
            ("read", summary.read),
            ("inserted", summary.inserted),
            ("updated", summary.updated),
            ("unchanged", summary.unchanged),
            ("skipped", summary.skipped),
            ("dead_letter", summary.dead_letters),
        ] {
            inner
                .pipeline_records
                .get_or_create(&PipelineRecords {
                    pipeline: pipeline.to_string(),
                    result,
                })
                .inc_by(n);
        }
    }

    /// Sets the health gauges of the pipelines; pipelines not named any more are dropped.
    pub(crate) fn pipeline_health(&self, pipelines: &[dynex_pipeline::health::PipelineHealth]) {
        let inner = &self.inner;
        inner.pipeline_healthy.clear();
        inner.pipeline_failures.clear();
        inner.pipeline_last_success.clear();
        for p in pipelines {
            let label = PipelineName {
                pipeline: p.name.clone(),
            };
            inner
                .pipeline_healthy
                .get_or_create(&label)
                .set(i64::from(p.healthy));
            inner
                .pipeline_failures
                .get_or_create(&label)
                .set(i64::from(p.consecutive_failures));
            if let Some(at) = p.last_success_seconds() {
                inner.pipeline_last_success.get_or_create(&label).set(at);
            }
        }
    }

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

/// The requests of one server, counted per worker thread ([`Shard`]) and summed when scraped.
#[derive(Debug)]
struct Requests {
    /// Tells this server's shards from those of other servers of the process (tests run many).
    id: u64,
    /// Every thread's shard; a thread adds its own on its first request.
    shards: Mutex<Vec<Arc<Mutex<Shard>>>>,
}

/// The ids of [`Requests`], unique in the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's shards, by [`Requests::id`]: one per server it has answered for.
    static SHARDS: RefCell<Vec<(u64, Arc<Mutex<Shard>>)>> = const { RefCell::new(Vec::new()) };
}

impl Default for Requests {
    fn default() -> Self {
        Requests {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shards: Mutex::new(Vec::new()),
        }
    }
}

impl Requests {
    /// Runs `f` on this thread's shard. Its lock is only ever contended by a scrape.
    fn with_shard<R>(&self, f: impl FnOnce(&mut Shard) -> R) -> R {
        SHARDS.with(|cell| {
            let mut shards = cell.borrow_mut();
            let shard = match shards.iter().find(|(id, _)| *id == self.id) {
                Some((_, shard)) => shard.clone(),
                None => {
                    // Shards of servers that are gone are held by this list alone.
                    shards.retain(|(_, shard)| Arc::strong_count(shard) > 1);
                    let shard = Arc::new(Mutex::new(Shard::default()));
                    self.shards
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(shard.clone());
                    shards.push((self.id, shard.clone()));
                    shard
                }
            };
            drop(shards);
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut shard)
        })
    }

    /// The sum of every shard, in label order.
    fn total(&self) -> Shard {
        let mut total = Shard::default();
        let shards = self.shards.lock().unwrap_or_else(PoisonError::into_inner);
        for shard in shards.iter() {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            total.in_flight += shard.in_flight;
            for (sum, minute) in total.minutes.iter_mut().zip(&shard.minutes) {
                if minute.start > sum.start {
                    *sum = *minute;
                } else if minute.start == sum.start {
                    sum.add(minute);
                }
            }
            for (route, methods) in &shard.routes {
                let into = total.routes.entry(route.clone()).or_default();
                for series in methods {
                    match into.iter_mut().find(|s| s.method == series.method) {
                        Some(sum) => sum.add(series),
                        None => into.push(series.clone()),
                    }
                }
            }
        }
        total
    }
}

/// The requests one thread counted for one server.
#[derive(Debug)]
struct Shard {
    /// Requests begun less requests answered (negative when others end what this one began).
    in_flight: i64,
    /// By route template, then by method.
    routes: HashMap<String, Vec<Series>, foldhash::fast::RandomState>,
    /// The last hour, a minute per slot (`minute % 60`).
    minutes: [Minute; 60],
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            in_flight: 0,
            routes: HashMap::default(),
            minutes: [Minute::default(); 60],
        }
    }
}

/// The requests answered in one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Minute {
    /// The minute's start, in seconds since the Unix epoch.
    pub start: u64,
    /// Requests answered.
    pub requests: u64,
    /// Of those, answered with a `4xx` status.
    pub client_errors: u64,
    /// Of those, answered with a `5xx` status.
    pub server_errors: u64,
}

impl Minute {
    fn add(&mut self, other: &Minute) {
        self.requests += other.requests;
        self.client_errors += other.client_errors;
        self.server_errors += other.server_errors;
    }
}

/// The current minute since the Unix epoch.
fn minute_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60)
}

impl Shard {
    fn record(&mut self, route: &str, method: &'static str, status: u16, seconds: f64) {
        let now = minute_now();
        let slot = &mut self.minutes[(now % 60) as usize];
        if slot.start != now * 60 {
            *slot = Minute {
                start: now * 60,
                ..Minute::default()
            };
        }
        slot.requests += 1;
        match status {
            400..=499 => slot.client_errors += 1,
            500..=599 => slot.server_errors += 1,
            _ => {}
        }
        // A route's template is allocated once, on its first request.
        let methods = match self.routes.get_mut(route) {
            Some(methods) => methods,
            None => self.routes.entry(route.to_string()).or_default(),
        };
        let series = match methods.iter().position(|s| s.method == method) {
            Some(i) => &mut methods[i],
            None => {
                methods.push(Series::new(method));
                methods.last_mut().expect("just pushed")
            }
        };
        series.record(status, seconds);
    }
}

/// The requests of one route and method: counts by status and the latency histogram.
#[derive(Debug, Clone)]
struct Series {
    method: &'static str,
    /// Requests by status, in no order.
    statuses: Vec<(u16, u64)>,
    /// Requests by latency bucket: `buckets[i]` counts those within `LATENCY_BUCKETS[i]` and
    /// above the bound before it; the last counts those above every bound.
    buckets: [u64; LATENCY_BUCKETS.len() + 1],
    /// The sum of their latencies, in seconds.
    seconds: f64,
}

impl Series {
    fn new(method: &'static str) -> Self {
        Series {
            method,
            statuses: Vec::new(),
            buckets: [0; LATENCY_BUCKETS.len() + 1],
            seconds: 0.0,
        }
    }

    fn record(&mut self, status: u16, seconds: f64) {
        match self.statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => self.statuses.push((status, 1)),
        }
        let bucket = LATENCY_BUCKETS.partition_point(|&bound| bound < seconds);
        self.buckets[bucket] += 1;
        self.seconds += seconds;
    }

    fn add(&mut self, other: &Series) {
        for &(status, n) in &other.statuses {
            match self.statuses.iter_mut().find(|(s, _)| *s == status) {
                Some((_, sum)) => *sum += n,
                None => self.statuses.push((status, n)),
            }
        }
        for (sum, n) in self.buckets.iter_mut().zip(other.buckets) {
            *sum += n;
        }
        self.seconds += other.seconds;
    }
}

impl Collector for Requests {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let total = self.total();
        // Sorted, so that a scrape lists series in a stable order.
        let routes: BTreeMap<&str, &Vec<Series>> =
            total.routes.iter().map(|(r, m)| (r.as_str(), m)).collect();
        let mut metric = encoder.encode_descriptor(
            "http_requests",
            "HTTP requests answered, by route template, method and status.",
            None,
            MetricType::Counter,
        )?;
        for (&route, methods) in &routes {
            for series in methods.iter() {
                let mut statuses = series.statuses.clone();
                statuses.sort_unstable();
                for (status, n) in statuses {
                    let labels = (
                        [("route", route), ("method", series.method)],
                        [("status", status)],
                    );
                    metric
                        .encode_family(&labels)?
                        .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
                }
            }
        }
        let mut metric = encoder.encode_descriptor(
            "http_request_duration",
            "Time from a request's head to the end of its answer's body, by route template and \
             method.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (&route, methods) in &routes {
            for series in methods.iter() {
                // Counts per bucket: the encoder makes them cumulative.
                let buckets: Vec<(f64, u64)> = LATENCY_BUCKETS
                    .iter()
                    .copied()
                    .chain([f64::INFINITY])
                    .zip(series.buckets)
                    .collect();
                let labels = [("route", route), ("method", series.method)];
                metric
                    .encode_family(&labels)?
                    .encode_histogram::<NoLabelSet>(
                        series.seconds,
                        series.buckets.iter().sum(),
                        &buckets,
                        None,
                    )?;
            }
        }
        let mut metric = encoder.encode_descriptor(
            "http_requests_in_flight",
            "Requests being answered.",
            None,
            MetricType::Gauge,
        )?;
        metric.encode_gauge(&total.in_flight)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests counted on several threads are summed when scraped and in the last hour.
    #[test]
    fn shards_of_every_thread_are_summed() {
        let metrics = Metrics::default();
        std::thread::scope(|scope| {
            for status in [200, 200, 404, 503] {
                let metrics = &metrics;
                scope.spawn(move || {
                    metrics.started();
                    metrics.finished("/a/{id}", "GET", status, Duration::from_millis(2));
                });
            }
        });
        metrics.started();
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &metrics.inner.registry)
            .unwrap();
        for line in [
            r#"dynex_http_requests_total{route="/a/{id}",method="GET",status="200"} 2"#,
            r#"dynex_http_requests_total{route="/a/{id}",method="GET",status="404"} 1"#,
            r#"dynex_http_requests_total{route="/a/{id}",method="GET",status="503"} 1"#,
            r#"dynex_http_request_duration_seconds_bucket{route="/a/{id}",method="GET",le="0.001"} 0"#,
            r#"dynex_http_request_duration_seconds_bucket{route="/a/{id}",method="GET",le="0.0025"} 4"#,
            r#"dynex_http_request_duration_seconds_count{route="/a/{id}",method="GET"} 4"#,
            "dynex_http_requests_in_flight 1",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
        let hour = metrics.last_hour();
        assert_eq!(hour.len(), 60);
        let now: Minute = hour.iter().copied().fold(Minute::default(), |mut sum, m| {
            sum.add(&m);
            sum
        });
        assert_eq!(
            (now.requests, now.client_errors, now.server_errors),
            (4, 1, 1)
        );
        assert!(hour.windows(2).all(|w| w[1].start == w[0].start + 60));
    }
}
