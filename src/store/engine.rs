//! The two database engines behind the store, SQLite (embedded, the default) and PostgreSQL
//! (several nodes on one database), seen through one small interface: values bound to `?N`
//! placeholders, rows read by column index, and a handful of dialect differences. The store's
//! operations are written once, in the SQL both engines understand.
//!
//! Values cross the interface as SQLite sees them (integers, reals, text, blobs, NULL): the
//! PostgreSQL schema keeps every integer `BIGINT` and every flag a `0`/`1` `BIGINT`, and a
//! value is converted to whatever type PostgreSQL inferred for its placeholder, so the same
//! statement binds the same way on both.

use std::borrow::Cow;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::path::Path;

use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use super::StoreError;

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

/// A value bound to a placeholder or read from a column.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(Cow<'a, str>),
    Blob(Cow<'a, [u8]>),
}

/// What can be bound to a placeholder.
pub trait Param {
    fn value(&self) -> Value<'_>;
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl Param for $t {
            fn value(&self) -> Value<'_> {
                Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_param!(i64, i32, i16, u8, u16, u32, u64, usize);

impl Param for bool {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl Param for f64 {
    fn value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}

impl Param for str {
    fn value(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl Param for String {
    fn value(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl Param for Cow<'_, str> {
    fn value(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl Param for [u8] {
    fn value(&self) -> Value<'_> {
        Value::Blob(Cow::Borrowed(self))
    }
}

impl Param for Vec<u8> {
    fn value(&self) -> Value<'_> {
        Value::Blob(Cow::Borrowed(self))
    }
}

impl<T: Param + ?Sized> Param for &T {
    fn value(&self) -> Value<'_> {
        (**self).value()
    }
}

impl<T: Param> Param for Option<T> {
    fn value(&self) -> Value<'_> {
        match self {
            Some(v) => v.value(),
            None => Value::Null,
        }
    }
}

impl Param for Value<'_> {
    fn value(&self) -> Value<'_> {
        match self {
            Value::Null => Value::Null,
            Value::Int(i) => Value::Int(*i),
            Value::Real(r) => Value::Real(*r),
            Value::Text(t) => Value::Text(Cow::Borrowed(t)),
            Value::Blob(b) => Value::Blob(Cow::Borrowed(b)),
        }
    }
}

/// What a column can be read as.
pub trait Column: Sized {
    fn from_value(value: Value<'_>) -> Result<Self, String>;
}

fn mismatch<T>(wanted: &str, value: &Value<'_>) -> Result<T, String> {
    let found = match value {
        Value::Null => "NULL",
        Value::Int(_) => "an integer",
        Value::Real(_) => "a real",
        Value::Text(_) => "text",
        Value::Blob(_) => "a blob",
    };
    Err(format!("expected {wanted}, found {found}"))
}

macro_rules! int_column {
    ($($t:ty),*) => {$(
        impl Column for $t {
            fn from_value(value: Value<'_>) -> Result<Self, String> {
                match value {
                    Value::Int(i) => <$t>::try_from(i).map_err(|e| e.to_string()),
                    other => mismatch("an integer", &other),
                }
            }
        }
    )*};
}
int_column!(i64, i32, i16, u8, u16, u32, u64, usize);

impl Column for bool {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Int(i) => Ok(i != 0),
            other => mismatch("a flag", &other),
        }
    }
}

impl Column for f64 {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Real(r) => Ok(r),
            Value::Int(i) => Ok(i as f64),
            other => mismatch("a number", &other),
        }
    }
}

impl Column for String {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Text(t) => Ok(t.into_owned()),
            other => mismatch("text", &other),
        }
    }
}

impl Column for Vec<u8> {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Blob(b) => Ok(b.into_owned()),
            Value::Text(t) => Ok(t.into_owned().into_bytes()),
            other => mismatch("a blob", &other),
        }
    }
}

impl Value<'_> {
    /// The same value, owning its text or bytes.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Int(i) => Value::Int(i),
            Value::Real(r) => Value::Real(r),
            Value::Text(t) => Value::Text(Cow::Owned(t.into_owned())),
            Value::Blob(b) => Value::Blob(Cow::Owned(b.into_owned())),
        }
    }
}

/// Any column, whatever its type (copies between stores).
impl Column for Value<'static> {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        Ok(value.into_owned())
    }
}

impl<T: Column> Column for Option<T> {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One row of a result, read by column index.
pub struct Row<'a>(RowRef<'a>);

enum RowRef<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a postgres::Row),
}

impl<'a> Row<'a> {
    pub(super) fn sqlite(row: &'a rusqlite::Row<'a>) -> Row<'a> {
        Row(RowRef::Sqlite(row))
    }

    pub(super) fn postgres(row: &'a postgres::Row) -> Row<'a> {
        Row(RowRef::Postgres(row))
    }

    pub fn get<T: Column>(&self, index: usize) -> Result<T, StoreError> {
        let value = match &self.0 {
            RowRef::Sqlite(row) => sqlite_value(row.get_ref(index)?)?,
            RowRef::Postgres(row) => row.try_get::<_, Lenient>(index)?.0,
        };
        T::from_value(value).map_err(|what| StoreError::Decode { index, what })
    }
}

fn sqlite_value(value: rusqlite::types::ValueRef<'_>) -> Result<Value<'_>, StoreError> {
    use rusqlite::types::ValueRef;
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(Cow::Borrowed(std::str::from_utf8(t).map_err(|e| {
            StoreError::Decode {
                index: 0,
                what: e.to_string(),
            }
        })?)),
        ValueRef::Blob(b) => Value::Blob(Cow::Borrowed(b)),
    })
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

type BoxError = Box<dyn StdError + Sync + Send>;

fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    )
}

/// A value goes over as the type PostgreSQL inferred for its placeholder.
impl ToSql for Value<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::OID => u32::try_from(*i)?.to_sql(ty, out),
                _ if is_text(ty) => i.to_string().to_sql(&Type::TEXT, out),
                _ => Err(format!("an integer cannot be bound as {ty}").into()),
            },
            Value::Real(r) => match *ty {
                Type::FLOAT8 => r.to_sql(ty, out),
                Type::FLOAT4 => (*r as f32).to_sql(ty, out),
                _ if is_text(ty) => r.to_string().to_sql(&Type::TEXT, out),
                _ => Err(format!("a real cannot be bound as {ty}").into()),
            },
            Value::Text(t) => match *ty {
                Type::BYTEA => t.as_bytes().to_sql(ty, out),
                Type::INT8 => t.parse::<i64>()?.to_sql(ty, out),
                _ => t.as_ref().to_sql(&Type::TEXT, out),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_ref().to_sql(ty, out),
                _ if is_text(ty) => std::str::from_utf8(b)?.to_sql(&Type::TEXT, out),
                _ => Err(format!("a blob cannot be bound as {ty}").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A column read from PostgreSQL as the value SQLite would have given.
struct Lenient(Value<'static>);

impl<'a> FromSql<'a> for Lenient {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let value = match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::OID => Value::Int(u32::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::NUMERIC => numeric(raw)?,
            Type::BYTEA => Value::Blob(Cow::Owned(raw.to_vec())),
            _ => Value::Text(Cow::Owned(String::from_sql(&Type::TEXT, raw)?)),
        };
        Ok(Lenient(value))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Lenient(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Column `index` of a PostgreSQL row as the value SQLite would have given (for tools and
/// tests that read either engine).
pub fn pg_value(row: &postgres::Row, index: usize) -> Result<Value<'static>, postgres::Error> {
    Ok(row.try_get::<_, Lenient>(index)?.0)
}

/// A `NUMERIC` (what `SUM` of a `BIGINT` gives) as an integer when it is whole, else a real.
/// The binary form: digit count, weight of the first digit (in powers of 10,000), sign, display
/// scale, then base-10,000 digits.
fn numeric(raw: &[u8]) -> Result<Value<'static>, BoxError> {
    let word = |i: usize| -> Result<i16, BoxError> {
        let bytes = raw.get(i * 2..i * 2 + 2).ok_or("short NUMERIC")?;
        Ok(i16::from_be_bytes([bytes[0], bytes[1]]))
    };
    let digits = usize::try_from(word(0)?)?;
    let weight = i32::from(word(1)?);
    let sign = word(2)? as u16;
    if sign == 0xC000 {
        return Err("NUMERIC NaN".into());
    }
    let mut whole: i128 = 0;
    let mut fraction = 0f64;
    for i in 0..digits {
        let digit = i128::from(word(4 + i)?);
        let power = weight - i32::try_from(i)?;
        if power >= 0 {
            let scale = 10_000_i128
                .checked_pow(u32::try_from(power)?)
                .ok_or("NUMERIC out of range")?;
            whole = digit
                .checked_mul(scale)
                .and_then(|d| whole.checked_add(d))
                .ok_or("NUMERIC out of range")?;
        } else {
            fraction += digit as f64 * 10_000f64.powi(power);
        }
    }
    let negative = sign == 0x4000;
    if fraction == 0.0 {
        let whole = i64::try_from(whole)?;
        Ok(Value::Int(if negative { -whole } else { whole }))
    } else {
        let real = whole as f64 + fraction;
        Ok(Value::Real(if negative { -real } else { real }))
    }
}

/// `?N` and `?` placeholders, as rusqlite numbers them, rewritten as PostgreSQL's `$N`.
/// Quoted text and identifiers and `--` comments are left alone.
pub fn postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut highest = 0u32;
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for inner in chars.by_ref() {
                    out.push(inner);
                    if inner == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for inner in chars.by_ref() {
                    out.push(inner);
                    if inner == '\n' {
                        break;
                    }
                }
            }
            '?' => {
                let mut number = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    number.push(*d);
                    chars.next();
                }
                let n = match number.parse::<u32>() {
                    Ok(n) => n,
                    Err(_) => highest + 1,
                };
                highest = highest.max(n);
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

/// A PostgreSQL connection and the statements it has prepared, by their SQL text.
pub struct PgConn {
    /// Always there until the connection is dropped (see `Drop`).
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
}

const MAX_PREPARED: usize = 512;

impl PgConn {
    pub fn new(client: postgres::Client) -> PgConn {
        PgConn {
            client: Some(client),
            statements: HashMap::new(),
        }
    }

    /// Whether the server dropped it (a restart, a failover).
    pub(super) fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(postgres::Client::is_closed)
    }

    pub(super) fn client(&mut self) -> Result<&mut postgres::Client, StoreError> {
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::Task("the connection is closed".into()))
    }

    pub(super) fn prepare(&mut self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client()?.prepare(&postgres_placeholders(sql))?;
        if self.statements.len() >= MAX_PREPARED {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// Pools PostgreSQL connections for r2d2, as r2d2_sqlite does for SQLite; each connection
/// keeps its own prepared statements.
#[derive(Clone)]
pub struct PgManager {
    config: postgres::Config,
    /// With `sslmode=require`: TLS, the server's certificate verified.
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl PgManager {
    /// `ca_file` names the certificates (PEM) to trust instead of the system's roots.
    pub fn new(config: postgres::Config, ca_file: Option<&Path>) -> Result<PgManager, StoreError> {
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Require => Some(tls_connector(ca_file)?),
            _ => None,
        };
        Ok(PgManager { config, tls })
    }

    pub fn connect(&self) -> Result<PgConn, postgres::Error> {
        let client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone())?,
            None => self.config.connect(postgres::NoTls)?,
        };
        Ok(PgConn::new(client))
    }
}

/// A TLS connector that verifies the server against `ca_file`'s certificates, or the system's
/// roots when there is none. Unlike libpq's `require`, an unverified server is refused.
fn tls_connector(
    ca_file: Option<&Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let unusable = |what: String| StoreError::Tls(what);
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| unusable(format!("{}: {e}", path.display())))?;
            for cert in certs {
                let cert = cert.map_err(|e| unusable(format!("{}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| unusable(format!("{}: {e}", path.display())))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // A system certificate rustls cannot use is left out, as browsers do.
                let _ = roots.add(cert);
            }
        }
    }
    if roots.is_empty() {
        return Err(unusable("no certificate to verify the server with".into()));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| unusable(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Closing a connection blocks on the client's own runtime, which cannot start on a thread that
/// drives async tasks (where the last handle of a pool may be dropped): there, it closes on a
/// thread of its own.
impl Drop for PgConn {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::Builder::new()
                .name("postgres-close".into())
                .spawn(move || drop(client));
        }
    }
}

impl r2d2::ManageConnection for PgManager {
    type Connection = PgConn;
    type Error = StoreError;

    fn connect(&self) -> Result<PgConn, StoreError> {
        PgManager::connect(self).map_err(StoreError::Connect)
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), StoreError> {
        conn.client()?.simple_query("")?;
        Ok(())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered_for_postgres() {
        assert_eq!(
            postgres_placeholders("SELECT ?1, ?2 WHERE a = ?1"),
            "SELECT $1, $2 WHERE a = $1"
        );
        assert_eq!(
            postgres_placeholders("INSERT INTO t VALUES (?, ?, ?)"),
            "INSERT INTO t VALUES ($1, $2, $3)"
        );
        assert_eq!(
            postgres_placeholders("SELECT '?' || ?1 -- what?\n, \"a?\""),
            "SELECT '?' || $1 -- what?\n, \"a?\""
        );
    }

    #[test]
    fn a_whole_numeric_reads_as_an_integer() {
        // 123456789 = 1·10000² + 2345·10000 + 6789, weight 2.
        let raw: Vec<u8> = [3i16, 2, 0, 0, 1, 2345, 6789]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        assert_eq!(numeric(&raw).unwrap(), Value::Int(123_456_789));
        let negative: Vec<u8> = [1i16, 0, 0x4000, 0, 42]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        assert_eq!(numeric(&negative).unwrap(), Value::Int(-42));
        let zero: Vec<u8> = [0i16, 0, 0, 0]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        assert_eq!(numeric(&zero).unwrap(), Value::Int(0));
    }
}
