//! Values to and from each driver: a row read by column index from either engine, a value bound
//! as the type PostgreSQL inferred for its placeholder, and a PostgreSQL column read back as the
//! value SQLite would have given.

use std::borrow::Cow;
use std::error::Error as StdError;

use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use super::{Column, Value};
use crate::store::StoreError;

/// One row of a result, read by column index.
pub struct Row<'a>(RowRef<'a>);

enum RowRef<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a postgres::Row),
}

impl<'a> Row<'a> {
    pub(in crate::store) fn sqlite(row: &'a rusqlite::Row<'a>) -> Row<'a> {
        Row(RowRef::Sqlite(row))
    }

    pub(in crate::store) fn postgres(row: &'a postgres::Row) -> Row<'a> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
