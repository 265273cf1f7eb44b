//! The progress line of an export on a terminal: rows written, rows per second and time
//! spent, ticking also while the database prepares the first page (a sort without an index
//! reads the whole table first).

use std::io::{self, IsTerminal};
use std::time::Duration;

use indicatif::{HumanCount, ProgressBar, ProgressState, ProgressStyle};

/// Rows between two updates of the bar: moving it for each row would cost more than writing
/// the row.
pub(crate) const ROWS_PER_UPDATE: u64 = 256;

/// A spinner for exporting `alias`, or `None` when nobody watches: stderr is no terminal,
/// the output is JSON, or the CSV itself goes to the terminal (`to_stdout` and stdout is one),
/// where the bar would be drawn between its lines.
pub(crate) fn bar(alias: &str, json: bool, to_stdout: bool) -> Option<ProgressBar> {
    let watched = !json && io::stderr().is_terminal() && !(to_stdout && io::stdout().is_terminal());
    watched.then(|| {
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} exporting `{msg}`: {human_pos} rows, {rate} rows/s, {elapsed}",
        ) {
            bar.set_style(style.with_key("rate", rate));
        }
        bar.set_message(alias.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    })
}

/// Rows per second so far; `–` before the first row, when there is no rate yet.
fn rate(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let seconds = state.elapsed().as_secs_f64();
    let _ = if state.pos() == 0 || seconds <= 0.0 {
        w.write_str("–")
    } else {
        // Whole rows per second; a fraction of a row means nothing here.
        let per_second = (state.pos() as f64 / seconds) as u64;
        write!(w, "{}", HumanCount(per_second))
    };
}
