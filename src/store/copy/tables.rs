//! The list of what is copied: every table of the store, parents first, with the columns
//! copied, the order rows are read in, the columns that link rows of the same table, and how a
//! row the target already has is treated.

/// A table and the columns copied, in the order both schemas declare them.
pub(super) struct Table {
    pub(super) name: &'static str,
    pub(super) columns: &'static [&'static str],
    /// The primary key (or the columns of the unique index): the order rows are read in from
    /// PostgreSQL. A SQLite source is read in `rowid` order, the order the rows were written in.
    pub(super) key: &'static str,
    /// Columns that refer to rows of the same table: inserted NULL, set once every row is in,
    /// so that foreign-key checks (on when the triggers are) never see a row before its target.
    pub(super) links: &'static [&'static str],
    /// The statement's end: how a row the target has already is treated.
    pub(super) on_conflict: &'static str,
}

pub(super) const fn table(
    name: &'static str,
    columns: &'static [&'static str],
    key: &'static str,
) -> Table {
    Table {
        name,
        columns,
        key,
        links: &[],
        on_conflict: "",
    }
}

/// Roll-up tables that SQLite keeps WITHOUT ROWID: read in the order of their key.
pub(super) const WITHOUT_ROWID: &[&str] =
    &["usage_hourly", "usage_daily_routes", "usage_weekly_keys"];

/// The tables of the records, each after the tables it refers to (the rest are in
/// `tables_ops.rs`). A table or column the source does not have
/// is one this binary's schema does not have either (the source's version is this binary's),
/// and is left out; one the source has that is not listed here stops the copy before anything
/// is written, rather than leave it behind.
pub(super) const TABLES: &[Table] = &[
    // A PostgreSQL node started on the target may have created its own install secret; the
    // source's wins (IP hashes were keyed with it).
    Table {
        on_conflict: " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        ..table("settings", &["name", "value"], "name")
    },
    table(
        "accounts",
        &[
            "id",
            "name",
            "email",
            "is_personal",
            "picture_url",
            "region",
            "plan",
            "credit_balance",
            "subscription_status",
            "cancel_at_period_end",
            "currency",
            "period_starts_at",
            "period_ends_at",
            "billing_created_at",
            "billing_updated_at",
            "created_at",
            "deleted_at",
        ],
        "id",
    ),
    table(
        "users",
        &[
            "id",
            "email",
            "password_hash",
            "is_instance_admin",
            "created_at",
            "must_change_password",
            "totp_secret",
            "totp_pending",
            "totp_enabled_at",
            "totp_last_step",
        ],
        "id",
    ),
    table(
        "recovery_codes",
        &["user_id", "code_hash", "used_at"],
        "user_id, code_hash",
    ),
    table(
        "memberships",
        &["account_id", "user_id", "role", "created_at"],
        "account_id, user_id",
    ),
    Table {
        links: &["replaced_by", "replaces"],
        ..table(
            "api_keys",
            &[
                "id",
                "account_id",
                "name",
                "key_prefix",
                "key_hash",
                "environment",
                "scopes",
                "ip_allowlist",
                "allowed_models",
                "rate_limit_per_minute",
                "created_at",
                "created_by",
                "last_used_at",
                "expires_at",
                "rotated_at",
                "replaced_by",
                "replaces",
                "disabled_at",
                "revoked_at",
                "expiry_recorded_at",
                "expiry_warned_at",
                "budget_credits",
                "budget_period",
            ],
            "id",
        )
    },
    // The migration wrote its one row; the source's value replaces it.
    Table {
        on_conflict: " ON CONFLICT (id) DO UPDATE SET value = excluded.value",
        ..table("key_generation", &["id", "value"], "id")
    },
    table(
        "request_logs",
        &[
            "id",
            "request_id",
            "key_id",
            "account_id",
            "key_prefix",
            "environment",
            "method",
            "endpoint",
            "route",
            "query",
            "status_code",
            "error_code",
            "idempotency_replayed",
            "ip_hash",
            "user_agent",
            "region",
            "latency_us",
            "created_at",
            "client_ip",
        ],
        "id",
    ),
    table(
        "usage_daily",
        &[
            "day",
            "account_id",
            "key_id",
            "route",
            "status_class",
            "requests",
        ],
        "account_id, day, key_id, route, status_class",
    ),
    table(
        "usage_daily_errors",
        &[
            "day",
            "account_id",
            "key_id",
            "route",
            "error_code",
            "requests",
        ],
        "account_id, day, key_id, route, error_code",
    ),
    table(
        "usage_daily_routes",
        &["account_id", "day", "route", "status_class", "requests"],
        "account_id, day, route, status_class",
    ),
    table(
        "usage_weekly_keys",
        &["account_id", "week", "key_id", "requests"],
        "account_id, week, key_id",
    ),
    table(
        "usage_hourly",
        &[
            "account_id",
            "key_id",
            "hour",
            "success",
            "client_error",
            "auth_refused",
            "rate_limited",
            "server_error",
            "l00",
            "l01",
            "l02",
            "l03",
            "l04",
            "l05",
            "l06",
            "l07",
            "l08",
            "l09",
            "l10",
            "l11",
            "l12",
            "l13",
            "l14",
            "l15",
            "l16",
            "l17",
        ],
        "account_id, key_id, hour",
    ),
    table(
        "refusals_daily",
        &["day", "ip_hash", "reason", "requests", "client_ip"],
        "day, ip_hash, reason",
    ),
    table(
        "activity",
        &[
            "id",
            "account_id",
            "actor",
            "category",
            "action",
            "target",
            "description",
            "ip_hash",
            "created_at",
            "prev_hash",
            "hash",
        ],
        "id",
    ),
    table(
        "idempotency_keys",
        &[
            "account_id",
            "route",
            "idempotency_key",
            "fingerprint",
            "state",
            "status_code",
            "response_body",
            "request_id",
            "created_at",
            "rowid",
        ],
        "rowid",
    ),
    table(
        "credit_ledger",
        &[
            "id",
            "account_id",
            "kind",
            "amount",
            "reference",
            "reservation_id",
            "actor",
            "created_at",
        ],
        "id",
    ),
    table(
        "sessions",
        &[
            "id_hash",
            "user_id",
            "account_id",
            "csrf_token",
            "ip_hash",
            "created_at",
            "expires_at",
            "stage",
            "method",
            "client_ip",
            "user_agent",
            "last_seen_at",
        ],
        "id_hash",
    ),
    table(
        "audit_stream",
        &["id", "last_sent_id", "holder", "lease_until"],
        "id",
    ),
    table(
        "oidc_attempts",
        &[
            "state_hash",
            "binding_hash",
            "nonce",
            "pkce_verifier",
            "redirect_uri",
            "created_at",
            "expires_at",
        ],
        "state_hash",
    ),
    table(
        "sign_in_links",
        &[
            "token_hash",
            "user_id",
            "created_at",
            "expires_at",
            "used_at",
        ],
        "token_hash",
    ),
    table(
        "low_balance_thresholds",
        &["account_id", "threshold", "armed"],
        "account_id, threshold",
    ),
    table(
        "key_policies",
        &[
            "account_id",
            "default_expiry_days",
            "max_lifetime_days",
            "require_expiry",
            "max_rotation_grace_hours",
            "allowed_presets",
            "enforce_on_use",
            "updated_at",
        ],
        "account_id",
    ),
    table(
        "instance_key_policy",
        &[
            "id",
            "default_expiry_days",
            "max_lifetime_days",
            "require_expiry",
            "max_rotation_grace_hours",
            "allowed_presets",
            "enforce_on_use",
            "updated_at",
        ],
        "id",
    ),
    table("nodes", &["id", "started_at", "lease_until"], "id"),
    table(
        "generations",
        &[
            "id",
            "account_id",
            "key_id",
            "environment",
            "model_identifier",
            "model_type",
            "provider_order",
            "provider_used",
            "prediction_id",
            "status",
            "prompt",
            "ratio",
            "output_format",
            "output_number",
            "input_files",
            "output_files",
            "duration",
            "resolution",
            "generate_audio",
            "specific",
            "cost",
            "error",
            "error_code",
            "files_removed",
            "created_at",
            "started_at",
            "completed_at",
            "predict_ms",
            "last_frame",
            "origin",
            "node",
            "rowid",
        ],
        "rowid",
    ),
    table(
        "generation_attempts",
        &[
            "id",
            "generation_id",
            "provider",
            "outcome",
            "error_code",
            "error",
            "latency_ms",
            "created_at",
        ],
        "id",
    ),
    table(
        "usage_generations_daily",
        &["day", "account_id", "generations", "estimated_cost"],
        "account_id, day",
    ),
];

/// Every table, in copy order: [`TABLES`], then [`super::tables_ops::OPERATIONS`].
pub(super) fn all() -> impl Iterator<Item = &'static Table> {
    TABLES.iter().chain(super::tables_ops::OPERATIONS)
}
