//! Model-specific body fields, checked against the schema the catalog declares for them.

use serde_json::{Map, Value};

use super::field::{Invalid, invalid};
use super::model::{FieldType, SpecificField};

pub(super) fn specific(
    fields: &Map<String, Value>,
    schema: &[SpecificField],
) -> Result<Map<String, Value>, Invalid> {
    let mut out = Map::new();
    for field in schema {
        let Some(value) = fields.get(&field.name) else {
            continue;
        };
        check_specific(field, value)?;
        out.insert(field.name.clone(), value.clone());
    }
    Ok(out)
}

fn check_specific(field: &SpecificField, value: &Value) -> Result<(), Invalid> {
    let name = field.name.as_str();
    let number = match (field.ty, value) {
        (FieldType::String, Value::String(s)) => {
            if !field.values.is_empty() && !field.values.contains(s) {
                return Err(invalid(
                    name,
                    format!("{name} must be one of {}.", field.values.join(", ")),
                ));
            }
            None
        }
        (FieldType::Boolean, Value::Bool(_)) => None,
        (FieldType::Integer, Value::Number(n)) if n.as_i64().is_some() || n.as_u64().is_some() => {
            n.as_f64()
        }
        (FieldType::Number, Value::Number(n)) => n.as_f64(),
        (ty, _) => {
            let ty = match ty {
                FieldType::String => "a string",
                FieldType::Integer => "a whole number",
                FieldType::Number => "a number",
                FieldType::Boolean => "a boolean",
            };
            return Err(invalid(name, format!("{name} must be {ty}.")));
        }
    };
    if let Some(n) = number
        && (field.min.is_some_and(|min| n < min) || field.max.is_some_and(|max| n > max))
    {
        let range = format!(
            "{}-{}",
            field.min.map_or("any".into(), |m| m.to_string()),
            field.max.map_or("any".into(), |m| m.to_string())
        );
        return Err(invalid(name, format!("{name} must be in {range}.")));
    }
    Ok(())
}
