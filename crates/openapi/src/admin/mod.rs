//! The admin API under `/admin/api`: entities (the Data Exchange API's configuration), the live
//! tables they can expose, Spryker's `configuration.json`, users, integration clients, API keys,
//! jobs (CSV imports run in the background, CSV exports), the audit log and the overview.
//!
//! One module per area: `entities` (tables, entities, `configuration.json`, with the schemas
//! of a configuration and a live table in `schemas`), `access` (users, clients, API keys),
//! `jobs`, `audit` and `overview`; `op` builds the operations and answers they share.

use crate::Doc;

mod access;
mod audit;
mod entities;
mod jobs;
mod op;
mod overview;
mod schemas;

/// Adds the admin routes.
pub(crate) fn add(doc: &mut Doc<'_>) {
    doc.tag(
        "admin",
        "Entities (the Data Exchange API's configuration, in Spryker's installer shape), the \
         live tables they can expose, import and export of `configuration.json`, users, \
         integration clients, API keys, jobs (CSV imports run in the background, CSV \
         exports, their history), the audit log and the overview of the back office's landing \
         page. Needs the `admin` scope. Secrets are shown once, when created.",
    );
    entities::add(doc);
    access::add(doc);
    jobs::add(doc);
    audit::add(doc);
    overview::add(doc);
}
