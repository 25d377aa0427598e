//! Tidegate: a self-hosted API-key appliance serving a BabySea-compatible /v1 API from one
//! SQLite file (or one PostgreSQL database shared by several nodes).
//!
//! The crate is the binary's: `src/main.rs` calls [`main`]. Everything inside is private to the
//! crate, so the compiler reports what nobody uses; what the integration tests start and reach
//! is re-exported here and under [`testing`].

mod app;
mod cli;
mod config;
mod domain;
mod http;
mod jobs;
mod providers;
mod service;
mod store;
mod telemetry;
mod wire;

pub use app::{Application, main};
pub use config::Config;
pub use domain::Clock;
pub use jobs::JobContext;

/// What the integration tests reach inside the crate, beside the running server: the jobs run
/// on demand, a few pure functions, the store's value conversions and the two OpenAPI documents
/// every answer is checked against.
pub mod testing {
    pub use crate::domain::generation::is_model_identifier;
    pub use crate::domain::second_factor::code_for as totp_code;
    pub use crate::domain::{Environment, KeyDigest, KeyFormat, Timestamp};
    pub use crate::jobs::{JOB_NAMES, Job, JobError, JobOutcome, run_job};
    pub use crate::service::password::verify_password;
    pub use crate::service::sessions::token_hash;
    pub use crate::store::migrations::MIGRATIONS;

    /// How each engine's values are read, for tests that compare two stores.
    pub mod engine {
        pub use crate::store::engine::{Column, Param, Value, pg_value, postgres_placeholders};
    }

    /// The /v1 OpenAPI document and the operations it is built from.
    pub mod v1 {
        pub use crate::http::v1::openapi::{FIREWALL_BODY, document, path_of};
        pub use crate::http::v1::routes::OPERATIONS;
    }

    /// The management API's OpenAPI document and the operations it is built from.
    pub mod management {
        pub use crate::http::api::openapi::document;
        pub use crate::http::api::operations::OPERATIONS;
    }
}
