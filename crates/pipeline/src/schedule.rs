//! When a pipeline runs by itself: `schedule: { cron: "*/15 * * * *", timezone: Europe/Berlin }`.
//!
//! The cron expression has the five standard fields (minute, hour, day of month, month, day of
//! week), with lists, ranges, steps and names, or one of `@hourly`, `@daily`, `@weekly`,
//! `@monthly`, `@yearly`. It is read in the schedule's time zone (UTC when absent), so that
//! `0 3 * * *` stays 3 a.m. across daylight-saving changes. `dynex-server` runs due pipelines;
//! each tick is claimed once through the database, whatever the number of servers.

use std::str::FromStr;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::{Deserialize, Serialize};

use crate::problem::Checker;

/// A pipeline's schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Five cron fields, or a macro such as `@hourly`.
    pub cron: String,
    /// An IANA time zone (`Europe/Berlin`); UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// A schedule ready to tell its ticks.
#[derive(Debug, Clone)]
pub struct Ticks {
    cron: Cron,
    tz: Tz,
}

impl Schedule {
    /// Checks the expression and the time zone, recording problems at `path`.
    pub fn check(&self, path: &str, checker: &mut Checker) {
        if let Err(message) = self.ticks() {
            checker.add(path, message);
        }
    }

    /// The schedule's ticks, or why the expression or time zone cannot be read.
    pub fn ticks(&self) -> Result<Ticks, String> {
        let text = self.cron.trim();
        let fields = text.split_whitespace().count();
        if !text.starts_with('@') && fields != 5 {
            return Err(format!(
                "`{text}` has {fields} fields; a schedule has five: minute, hour, day of month, \
                 month, day of week (`*/15 * * * *`)"
            ));
        }
        let cron =
            Cron::from_str(text).map_err(|e| format!("`{text}` is not a cron expression: {e}"))?;
        let tz = match &self.timezone {
            None => Tz::UTC,
            Some(name) => name.parse::<Tz>().map_err(|_| {
                format!("`{name}` is not a time zone: use an IANA name such as `Europe/Berlin`")
            })?,
        };
        Ok(Ticks { cron, tz })
    }
}

impl Ticks {
    /// The first tick strictly after `t`, on a whole second: every server computes the same
    /// ticks, whatever the fraction of a second it asks at.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let whole = t.with_nanosecond(0)?;
        self.cron
            .find_next_occurrence(&whole.with_timezone(&self.tz), false)
            .ok()
            .and_then(|n| n.with_timezone(&Utc).with_nanosecond(0))
    }

    /// The usual time between two ticks after `t`, to tell when a pipeline is overdue.
    pub fn interval_after(&self, t: DateTime<Utc>) -> Option<chrono::Duration> {
        let first = self.next_after(t)?;
        let second = self.next_after(first)?;
        Some(second - first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn ticks_follow_the_time_zone() {
        let berlin = Schedule {
            cron: "0 3 * * *".into(),
            timezone: Some("Europe/Berlin".into()),
        };
        let ticks = berlin.ticks().unwrap();
        // Winter: UTC+1; summer: UTC+2.
        assert_eq!(
            ticks.next_after(at("2026-01-10T12:00:00Z")),
            Some(at("2026-01-11T02:00:00Z"))
        );
        assert_eq!(
            ticks.next_after(at("2026-07-10T12:00:00Z")),
            Some(at("2026-07-11T01:00:00Z"))
        );
        let every = Schedule {
            cron: "*/15 * * * *".into(),
            timezone: None,
        };
        let ticks = every.ticks().unwrap();
        assert_eq!(
            ticks.next_after(at("2026-01-10T12:15:00Z")),
            Some(at("2026-01-10T12:30:00Z"))
        );
        // A fraction of a second does not move the tick.
        assert_eq!(
            ticks.next_after(at("2026-01-10T12:14:59.987Z")),
            Some(at("2026-01-10T12:15:00Z"))
        );
        assert_eq!(
            ticks.interval_after(at("2026-01-10T12:00:00Z")),
            Some(chrono::Duration::minutes(15))
        );
    }

    #[test]
    fn bad_schedules_are_named() {
        let six = Schedule {
            cron: "0 */5 * * * *".into(),
            timezone: None,
        };
        assert!(six.ticks().unwrap_err().contains("has 6 fields"));
        let bad = Schedule {
            cron: "61 * * * *".into(),
            timezone: None,
        };
        assert!(
            bad.ticks()
                .unwrap_err()
                .contains("is not a cron expression")
        );
        let zone = Schedule {
            cron: "@hourly".into(),
            timezone: Some("Mars/Olympus".into()),
        };
        assert!(zone.ticks().unwrap_err().contains("is not a time zone"));
    }
}
