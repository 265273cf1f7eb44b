//! dynex's own tables as diesel sees them: one schema for SQLite, PostgreSQL and MySQL.
//!
//! Written by hand to match `migrations/{sqlite,postgres,mysql}`, which are the truth: only SQL
//! types all three backends share through [`crate::db::MultiBackend`] (`VARCHAR` and `TEXT` are
//! `Text`, `TIMESTAMP` and MySQL's `DATETIME` are `Timestamp`, `BOOLEAN` is `Bool`).

diesel::table! {
    /// Entity configurations.
    dynex_entity (id) {
        /// Generated id.
        id -> Integer,
        /// The entity's alias in the API.
        table_alias -> Text,
        /// The table it exposes.
        table_name -> Text,
        /// Whether the API serves it.
        is_active -> Bool,
        /// The definition as JSON.
        definition -> Text,
        /// Creation time.
        created_at -> Timestamp,
        /// Last change.
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Relations from a parent entity to a child entity.
    dynex_entity_relation (id) {
        /// Generated id.
        id -> Integer,
        /// The parent entity.
        fk_parent_entity -> Integer,
        /// The child entity.
        fk_child_entity -> Integer,
        /// The relation's name, unique per parent.
        name -> Text,
        /// Whether nested writes may go through it.
        is_editable -> Bool,
    }
}

diesel::table! {
    /// The field pairs that join a relation's child to its parent.
    dynex_entity_relation_field (id) {
        /// Generated id.
        id -> Integer,
        /// The relation.
        fk_relation -> Integer,
        /// The pair's place in the relation.
        position -> Integer,
        /// The child's field.
        child_field_name -> Text,
        /// The parent's field.
        parent_field_name -> Text,
    }
}

diesel::table! {
    /// Version counters (`config`: every configuration change increments it).
    dynex_state (name) {
        /// The counter's name.
        name -> Text,
        /// Its value.
        version -> BigInt,
    }
}

diesel::table! {
    /// API keys, stored as hashes.
    dynex_api_key (id) {
        /// Generated id.
        id -> Integer,
        /// The key's name.
        name -> Text,
        /// SHA-256 of the key.
        key_hash -> Text,
        /// The key's first characters.
        key_prefix -> Text,
        /// Granted scopes, space-separated.
        scopes -> Text,
        /// Expiry (UTC).
        valid_to -> Nullable<Timestamp>,
        /// Creation time.
        created_at -> Timestamp,
        /// Revocation time.
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Users of the back office and the API.
    dynex_user (id) {
        /// Generated id.
        id -> Integer,
        /// The user's name.
        name -> Text,
        /// Argon2id hash of the password.
        password_hash -> Text,
        /// The role's name.
        role -> Text,
        /// Creation time.
        created_at -> Timestamp,
        /// When the password was last set.
        password_changed_at -> Timestamp,
        /// Tokens issued until this instant (Unix milliseconds) are void.
        tokens_valid_after -> BigInt,
    }
}

diesel::table! {
    /// Integration clients of the client credentials grant.
    dynex_client (id) {
        /// Generated id.
        id -> Integer,
        /// The client id.
        client_id -> Text,
        /// SHA-256 of the secret.
        secret_hash -> Text,
        /// The scopes it may be granted, space-separated.
        scopes -> Text,
        /// Tokens issued until this instant (Unix milliseconds) are void.
        tokens_valid_after -> BigInt,
        /// Creation time.
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Refresh tokens, stored as hashes; times are Unix milliseconds.
    dynex_refresh_token (id) {
        /// Generated id.
        id -> Integer,
        /// SHA-256 of the token.
        token_hash -> Text,
        /// The family a chain of refreshes shares.
        family -> Text,
        /// The user's name.
        subject -> Text,
        /// Granted scopes, space-separated.
        scopes -> Text,
        /// Issue time.
        issued_at -> BigInt,
        /// Expiry.
        expires_at -> BigInt,
        /// Expiry of the access token issued with it.
        access_expires_at -> BigInt,
        /// When it was claimed by a refresh.
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Revoked token families, until their last access token expires (Unix milliseconds).
    dynex_token_revocation (family) {
        /// The family.
        family -> Text,
        /// When the revocation may be forgotten.
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// Failed logins per principal and per address (Unix milliseconds).
    dynex_login_failure (id) {
        /// Generated id.
        id -> Integer,
        /// `user:name`, `client:id` or `addr:address`.
        subject -> Text,
        /// When it failed.
        failed_at -> BigInt,
    }
}

diesel::table! {
    /// Settings kept in the database (the token signing secret).
    dynex_setting (name) {
        /// The setting's name.
        name -> Text,
        /// Its value.
        value -> Text,
    }
}

diesel::table! {
    /// Progress of CLI imports, for `dynex import --resume`.
    dynex_import_job (id) {
        /// Generated id.
        id -> Integer,
        /// The entity's alias.
        entity -> Text,
        /// What identifies the file.
        source -> Text,
        /// The last line whose batch is committed.
        committed_line -> BigInt,
        /// `running` or `done`.
        state -> Text,
        /// Start time.
        started_at -> Timestamp,
    }
}

diesel::table! {
    /// Jobs started over HTTP; times are Unix milliseconds.
    dynex_job (id) {
        /// Random id.
        id -> Text,
        /// `import` or `export`.
        kind -> Text,
        /// The entity's alias.
        entity -> Text,
        /// The file's name.
        file_name -> Text,
        /// The options as JSON.
        options -> Text,
        /// The file's header as JSON (imports).
        header -> Nullable<Text>,
        /// `running`, `done`, `failed` or `interrupted`.
        state -> Text,
        /// Who started it.
        created_by -> Text,
        /// The input's size, when known.
        bytes_total -> Nullable<BigInt>,
        /// Bytes read so far.
        bytes_read -> BigInt,
        /// The summary as JSON.
        summary -> Nullable<Text>,
        /// Why it failed, as JSON.
        error -> Nullable<Text>,
        /// Start time.
        started_ms -> BigInt,
        /// Last recorded progress.
        updated_ms -> BigInt,
        /// End time.
        finished_ms -> Nullable<BigInt>,
        /// What resuming it needs (options, mapping, upload) as JSON; NULL when it cannot be.
        resume -> Nullable<Text>,
    }
}

diesel::table! {
    /// The rejected lines of import jobs.
    dynex_job_reject (job_id, line) {
        /// The job.
        job_id -> Text,
        /// The line number in the file.
        line -> BigInt,
        /// The error code.
        code -> Text,
        /// The field at fault, if one.
        field -> Nullable<Text>,
        /// Why it was refused.
        message -> Text,
        /// The line's cells as a JSON array.
        cells -> Text,
    }
}

diesel::table! {
    /// The audit log; times are Unix milliseconds.
    dynex_audit (id) {
        /// Ascending with time.
        id -> BigInt,
        /// When.
        at_ms -> BigInt,
        /// Who: the API key's, user's or client's name, or the CLI's operating-system user.
        actor -> Text,
        /// From where: the client's address, or `cli`.
        source -> Text,
        /// What, as `area.verb` (`key.create`).
        action -> Text,
        /// What it was done to (an alias, a key's or user's name).
        target -> Text,
        /// More, as a JSON object.
        detail -> Text,
    }
}

diesel::table! {
    /// Pipeline definitions; times are Unix milliseconds.
    dynex_pipeline (name) {
        /// The pipeline's name.
        name -> Text,
        /// The definition as its author wrote it (YAML).
        definition -> Text,
        /// When it was first saved.
        created_at_ms -> BigInt,
        /// When it was last saved.
        updated_at_ms -> BigInt,
    }
}

diesel::table! {
    /// Pipeline runs; times are Unix milliseconds.
    dynex_pipeline_run (id) {
        /// Ascending with time.
        id -> BigInt,
        /// The pipeline's name.
        pipeline -> Text,
        /// `running`, `succeeded`, `failed` or `interrupted`.
        state -> Text,
        /// The run's options (JSON).
        options -> Text,
        /// The counts so far (JSON).
        summary -> Text,
        /// The cursor the run started from.
        cursor_before -> Nullable<Text>,
        /// The cursor the run committed last.
        cursor_after -> Nullable<Text>,
        /// What ended a failed run.
        error -> Nullable<Text>,
        /// When it started.
        started_ms -> BigInt,
        /// When its last batch was committed.
        updated_ms -> BigInt,
        /// When it ended.
        finished_ms -> Nullable<BigInt>,
        /// When someone asked it to stop.
        stop_requested_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Scheduled ticks of pipelines, each claimed by the one server that runs it.
    dynex_pipeline_tick (pipeline, due_ms) {
        /// The pipeline's name.
        pipeline -> Text,
        /// The tick's time (Unix milliseconds).
        due_ms -> BigInt,
        /// The server that claimed it (`host:pid`).
        claimed_by -> Text,
        /// When it was claimed.
        claimed_ms -> BigInt,
        /// The run it started.
        run_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Where each pipeline's next run starts.
    dynex_pipeline_state (pipeline) {
        /// The pipeline's name.
        pipeline -> Text,
        /// The cursor committed last (JSON).
        cursor_value -> Text,
        /// The run that committed it.
        run_id -> BigInt,
        /// When.
        updated_ms -> BigInt,
    }
}

diesel::table! {
    /// Records pipelines could not deliver.
    dynex_pipeline_dead_letter (id) {
        /// Ascending with time.
        id -> BigInt,
        /// The pipeline's name.
        pipeline -> Text,
        /// The run that met it.
        run_id -> BigInt,
        /// `map` or `write`.
        stage -> Text,
        /// The first error's code.
        code -> Text,
        /// The field the first error is about.
        field -> Nullable<Text>,
        /// Every error, `; `-separated.
        message -> Text,
        /// The source record as received (JSON).
        record -> Text,
        /// When.
        created_ms -> BigInt,
    }
}

diesel::table! {
    /// Variables of pipeline definitions.
    dynex_variable (name) {
        /// The variable's name (`AKENEO_URL`).
        name -> Text,
        /// The value; a secret's is `v1:` and the base64 of nonce and ciphertext.
        value -> Text,
        /// 1 for a secret.
        secret -> SmallInt,
        /// When it was last set (Unix milliseconds).
        updated_ms -> BigInt,
    }
}

diesel::table! {
    /// Change events of entities that `changes` sources follow.
    dynex_change (id) {
        /// Ascending with the writes (not strictly with their commits).
        id -> BigInt,
        /// The entity's alias.
        entity -> Text,
        /// The row's identifier (JSON).
        identifier -> Text,
        /// `insert`, `update` or `delete`.
        operation -> Text,
        /// The visible names of the fields that changed (JSON array).
        fields -> Text,
        /// Who wrote.
        principal -> Text,
        /// When (Unix milliseconds).
        created_ms -> BigInt,
    }
}

diesel::table! {
    /// Requests of `http` targets.
    dynex_pipeline_delivery (id) {
        /// Ascending with time.
        id -> BigInt,
        /// The pipeline's name.
        pipeline -> Text,
        /// The run that sent it.
        run_id -> BigInt,
        /// The URL, without credentials.
        url -> Text,
        /// The last answer's status.
        status -> Nullable<Integer>,
        /// Requests sent.
        attempts -> Integer,
        /// 1 when delivered.
        ok -> SmallInt,
        /// Why it failed.
        error -> Nullable<Text>,
        /// The record it carried (JSON).
        record -> Text,
        /// When.
        created_ms -> BigInt,
    }
}

diesel::joinable!(dynex_entity_relation_field -> dynex_entity_relation (fk_relation));

diesel::allow_tables_to_appear_in_same_query!(
    dynex_entity,
    dynex_entity_relation,
    dynex_entity_relation_field,
);

diesel::define_sql_function! {
    /// SQL `LOWER`, for names compared ignoring ASCII case on every backend.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A stored timestamp as dynex shows it: `YYYY-MM-DD HH:MM:SS`, then the fraction of a second
/// without trailing zeros when there is one (PostgreSQL keeps microseconds).
pub(crate) fn timestamp_text(t: &chrono::NaiveDateTime) -> String {
    let text = t.format("%Y-%m-%d %H:%M:%S%.f").to_string();
    dynex_schema::normalize_datetime(&text).unwrap_or(text)
}
