//! Who may call: API keys, users, integration clients and the OAuth tokens issued to them.

pub(crate) mod clients;
pub(crate) mod keys;
pub(crate) mod tokens;
pub(crate) mod users;
