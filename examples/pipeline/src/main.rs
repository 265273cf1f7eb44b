//! A pipeline with a connector of its own, run from Rust without the CLI.
//!
//! A legacy warehouse system that no connector supports hands out its countries two at a time.
//! The program implements [`Source`] for it, reads a pipeline definition whose source is that
//! `connector`, and runs it twice into the demo catalog's `countries`: the first run creates
//! and updates rows, the second finds every row unchanged and writes nothing. A record the
//! entity refuses (a code too long) becomes a dead letter while its neighbours are written.
//! A third run delivers the same records to a target of the program's own ([`Target`]).
//! Run it with `cargo run -p dynex-example-pipeline`.

use std::collections::VecDeque;

use dynex_core::{Dynex, Options};
use dynex_pipeline::definition::{Definition, SourceSpec};
use dynex_pipeline::run::{RunError, RunOptions, run_into, run_with};
use dynex_pipeline::source::{Page, Source, SourceError};
use dynex_pipeline::target::{Delivered, RecordRow, Refusal, Target, TargetError};
use serde_json::json;

/// A target of the program's own: a ledger that keeps rows with a three-letter code and
/// refuses the others, as a remote system would.
#[derive(Default)]
struct Ledger {
    rows: Vec<RecordRow>,
}

impl Target for Ledger {
    fn deliver(&mut self, rows: Vec<RecordRow>) -> Result<Delivered, TargetError> {
        let mut done = Delivered::default();
        for row in rows {
            if row.fields["iso3_code"]
                .as_str()
                .is_some_and(|c| c.len() == 3)
            {
                done.inserted += 1;
                self.rows.push(row);
            } else {
                done.refused.push(Refusal {
                    number: row.number,
                    code: "422".into(),
                    field: Some("iso3_code".into()),
                    message: "the ledger takes three-letter codes".into(),
                });
            }
        }
        Ok(done)
    }
}

/// The warehouse system: pages of records, as its own API would give them.
struct Warehouse {
    pages: VecDeque<Vec<serde_json::Value>>,
}

impl Warehouse {
    fn new(page_size: usize) -> Warehouse {
        let records = [
            json!({"code": "AT", "code3": "AUT", "label": "Austria (warehouse)"}),
            json!({"code": "W1", "code3": "WH1", "label": "Warehouse land"}),
            json!({"code": "W2", "code3": "WH2", "label": "  Second land  "}),
            json!({"code": "W3", "code3": "TOO-LONG", "label": "Refused"}),
            json!({"code": "W4", "code3": "WH4", "label": "Fourth land"}),
        ];
        Warehouse {
            pages: records.chunks(page_size).map(<[_]>::to_vec).collect(),
        }
    }
}

impl Source for Warehouse {
    fn next_page(&mut self) -> Result<Option<Page>, SourceError> {
        Ok(self.pages.pop_front().map(|records| Page {
            records,
            ..Page::default()
        }))
    }
}

const DEFINITION: &str = "
name: warehouse-countries
source:
  connector:
    name: warehouse
    options: { page_size: 2 }
map:
  fields:
    iso2_code: $.code
    iso3_code: $.code3
    name: { path: $.label, trim: true }
target:
  entity:
    entity: countries
    mode: upsert
    key: iso2_code
";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("pipeline.db").display());
    let dynex = Dynex::open_with(
        &url,
        Options {
            watch_interval: None,
            ..Options::default()
        },
    )?;
    dynex.load_demo()?;
    let definition = Definition::parse(DEFINITION)?;
    definition.check(&dynex.snapshot().catalog)?;
    let SourceSpec::Connector(connector) = &definition.source else {
        return Err("the definition names another source".into());
    };
    let page_size = connector.options["page_size"].as_u64().unwrap_or(100) as usize;
    let run = |dynex: &Dynex| {
        run_with(
            dynex,
            &definition,
            &RunOptions::default(),
            &mut (),
            |_start| Ok(Box::new(Warehouse::new(page_size)) as Box<dyn Source>),
        )
    };

    let first = run(&dynex).map_err(failed)?;
    println!("{}", serde_json::to_string_pretty(&first)?);
    assert_eq!(
        (
            first.read,
            first.inserted,
            first.updated,
            first.dead_letters
        ),
        (5, 3, 1, 1)
    );
    let second = run(&dynex).map_err(failed)?;
    assert_eq!(
        (second.inserted, second.updated, second.unchanged),
        (0, 0, 4)
    );
    println!(
        "second run: {} records read, {} unchanged, nothing written",
        second.read, second.unchanged
    );

    let trimmed = dynex.read_collection(
        "countries",
        &[("filter[countries.iso2_code]".into(), "W2".into())],
        None,
    )?;
    assert_eq!(trimmed.rows[0]["name"], "Second land");
    let dead = dynex.dead_letters("warehouse-countries", 10)?;
    assert_eq!(dead.len(), 2, "one per run");
    println!(
        "dead letter: {} {} ({}) for {}",
        dead[0].code,
        dead[0].field.as_deref().unwrap_or(""),
        dead[0].message,
        dead[0].record
    );

    // The same records into a target of the program's own.
    let mut ledger = Ledger::default();
    let into = run_into(
        &dynex,
        &definition,
        &RunOptions::default(),
        &mut (),
        |_start| Ok(Box::new(Warehouse::new(page_size)) as Box<dyn Source>),
        &mut ledger,
    )
    .map_err(failed)?;
    assert_eq!((into.inserted, into.dead_letters), (4, 1));
    assert_eq!(ledger.rows.len(), 4);
    println!("ledger: {} rows kept, 1 refused", ledger.rows.len());
    Ok(())
}

/// A failed run's summary as the error.
fn failed(e: RunError) -> Box<dyn std::error::Error> {
    e.to_string().into()
}
