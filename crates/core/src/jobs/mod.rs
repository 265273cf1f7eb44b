//! Long-running work on whole tables: CSV imports and exports, PostgreSQL `COPY`, the jobs
//! table that tracks them (and resumes interrupted imports), and the index advice for their
//! keys.

pub(crate) mod export;
pub(crate) mod import;
pub(crate) mod indexes;
#[cfg(feature = "postgres")]
pub(crate) mod pgcopy;
pub(crate) mod resume;
pub(crate) mod table;
