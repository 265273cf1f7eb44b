//! Embedding dynex: read configured entities from Rust without HTTP.
//!
//! Opens a fresh SQLite database, loads the demo catalog and reads the first two countries with
//! their tax rates, exactly as `GET /dynamic-entity/countries?include=countryTaxRates&page[limit]=2`
//! would. Run it with `cargo run -p dynex-example-embed`.

use dynex_core::{Dynex, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("embed.db").display());
    // Applies dynex's migrations and loads the entity configuration into memory.
    let dynex = Dynex::open_with(
        &url,
        Options {
            watch_interval: None,
            ..Options::default()
        },
    )?;
    dynex.load_demo()?;
    let query = [
        ("include".to_string(), "countryTaxRates".to_string()),
        ("page[limit]".to_string(), "2".to_string()),
    ];
    let countries = dynex.read_collection("countries", &query, None)?.rows;
    assert_eq!(countries.len(), 2);
    println!("{}", serde_json::to_string_pretty(&countries)?);
    let austria = dynex.read_one("countries", "2", &[], None)?;
    println!("country 2 is {}", austria["name"]);
    Ok(())
}
