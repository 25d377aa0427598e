//! The two database engines behind the store, SQLite (embedded, the default) and PostgreSQL
//! (several nodes on one database), seen through one small interface: values bound to `?N`
//! placeholders, rows read by column index, and a handful of dialect differences. The store's
//! operations are written once, in the SQL both engines understand.
//!
//! Values cross the interface as SQLite sees them (integers, reals, text, blobs, NULL): the
//! PostgreSQL schema keeps every integer `BIGINT` and every flag a `0`/`1` `BIGINT`, and a
//! value is converted to whatever type PostgreSQL inferred for its placeholder, so the same
//! statement binds the same way on both.

mod connection;
mod convert;
mod placeholders;
mod value;

pub use connection::{PgConn, PgManager};
pub use convert::{Row, pg_value};
pub use placeholders::postgres_placeholders;
pub use value::{Column, Param, Value};

/// Which engine a connection speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The last 8 characters of a text column, as the request-log indexes store them.
    pub fn tail8(self, column: &str) -> String {
        match self {
            Engine::Sqlite => format!("substr({column}, -8)"),
            Engine::Postgres => format!("right({column}, 8)"),
        }
    }

    /// `LIKE` as SQLite has it: case-insensitive for ASCII letters.
    pub fn like(self) -> &'static str {
        match self {
            Engine::Sqlite => "LIKE",
            Engine::Postgres => "ILIKE",
        }
    }

    /// The clause a job claim ends with, so two nodes never claim the same row.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Engine::Sqlite => "",
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}
