use dynex_core::CoreError;
use dynex_core::db::run_script;
use dynex_test_support::{TestDb, backend_tests};
use serde_json::json;

use crate::demo;

backend_tests!(one_run_at_a_time_and_dead_runs_are_interrupted);

/// This machine's name, as the runs record it.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn state_of(dx: &dynex_core::Dynex, run: i64) -> (String, Option<String>) {
    let r = dx
        .pipeline_runs("p", 10)
        .unwrap()
        .into_iter()
        .find(|r| r.id == run)
        .expect("the run");
    (r.state, r.error)
}

/// A pipeline runs once at a time; a run whose process is gone, or that went silent for the
/// lease, is marked `interrupted` by the next run, which then starts.
fn one_run_at_a_time_and_dead_runs_are_interrupted(db: TestDb) {
    let dx = demo(&db);
    dx.save_pipeline("p", "name: p\n").unwrap();
    let set = |sql: String| run_script(&mut dx.db().conn().unwrap(), &sql).unwrap();

    let (first, _) = dx.start_pipeline_run("p", &json!({}), false).unwrap();
    let refused = dx.start_pipeline_run("p", &json!({}), false).unwrap_err();
    assert!(
        matches!(refused, CoreError::AlreadyExists { .. }),
        "{refused}"
    );
    assert_eq!(
        refused.to_string(),
        "a run in progress of the pipeline `p` already exists"
    );
    assert_eq!(state_of(&dx, first).0, "running");

    // Its process, on this machine, is gone (no such pid): taken for dead at once.
    set(format!(
        "UPDATE dynex_pipeline_run SET options = '{{\"owner\":{{\"host\":\"{}\",\"pid\":4000000000}}}}' WHERE id = {first}",
        host()
    ));
    let (second, _) = dx.start_pipeline_run("p", &json!({}), false).unwrap();
    let (state, error) = state_of(&dx, first);
    assert_eq!(state, "interrupted");
    assert_eq!(
        error.as_deref(),
        Some(
            format!(
                "interrupted: its process (4000000000 on {}) is gone",
                host()
            )
            .as_str()
        )
    );

    // Another machine's run is alive while it shows it, and shows it by its heartbeat.
    set(format!(
        "UPDATE dynex_pipeline_run SET options = '{{\"owner\":{{\"host\":\"elsewhere\",\"pid\":1}}}}', updated_ms = updated_ms - 50000 WHERE id = {second}"
    ));
    dx.pipeline_run_alive(second).unwrap();
    assert!(dx.start_pipeline_run("p", &json!({}), false).is_err());
    // Silent for longer than the lease: interrupted.
    set(format!(
        "UPDATE dynex_pipeline_run SET updated_ms = updated_ms - 120000 WHERE id = {second}"
    ));
    let (third, _) = dx.start_pipeline_run("p", &json!({}), false).unwrap();
    let (state, error) = state_of(&dx, second);
    assert_eq!(state, "interrupted");
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.starts_with("interrupted: no sign of life for 1")),
        "{error:?}"
    );
    dx.finish_pipeline_run(third, dynex_core::RunState::Succeeded, &json!({}), None)
        .unwrap();
    // A finished run leaves the way free.
    dx.start_pipeline_run("p", &json!({}), false).unwrap();
}
