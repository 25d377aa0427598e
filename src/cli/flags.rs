//! The command line speaks of its flags, not of the API's field names: a service's refusal
//! names the flag the user typed, and a value outside a fixed set lists the valid ones.

use crate::domain::Preset;

/// The flag each field of the services' input is given with.
const FLAGS: [(&str, &str); 20] = [
    ("expires_in_days", "--expires-in-days"),
    ("expires_at", "--expires-at"),
    ("ip_allowlist", "--allowed-ips"),
    ("allowed_models", "--allowed-models"),
    ("rate_limit_per_minute", "--rate-limit"),
    ("preset", "--preset"),
    ("scopes", "--scopes"),
    ("region", "--region"),
    ("plan", "--plan"),
    ("role", "--role"),
    ("email", "--email"),
    ("name", "--name"),
    ("confirm", "--confirm"),
    ("amount", "--amount"),
    ("reference", "--reference"),
    ("budget_credits", "--budget-credits"),
    ("budget_period", "--budget-period"),
    ("quota_requests", "--quota-requests"),
    ("quota_refill_day", "--quota-refill-day"),
    ("quota_refill", "--quota-refill"),
];

/// The flag a service field is given with (the field itself when no flag gives it).
pub fn flag_of(field: &str) -> String {
    FLAGS
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, flag)| (*flag).to_owned())
        .unwrap_or_else(|| field.to_owned())
}

/// `message` about `field`, with every field name in it replaced by its flag; an unknown preset
/// or scope also lists the valid ones.
pub fn reword(field: &str, message: &str) -> String {
    let mut text = message.to_owned();
    // Longer names first: `expires_in_days` before a name it might contain.
    for (name, flag) in FLAGS.iter().filter(|(n, _)| n.contains('_')) {
        text = text.replace(name, flag);
    }
    let flag = flag_of(field);
    match field {
        "preset" => format!("{text} for {flag}; valid presets: {}", presets()),
        "scopes" if text.starts_with("unknown scope") => {
            format!("{text} for {flag}; valid scopes: {}", scopes())
        }
        _ => format!("{flag}: {text}"),
    }
}

pub fn presets() -> String {
    Preset::ALL.map(Preset::id).join(", ")
}

pub fn scopes() -> String {
    crate::domain::Scope::ALL.map(|s| s.as_str()).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_error_names_the_flag() {
        assert_eq!(
            reword("expires_in_days", "must be between 1 and 3650"),
            "--expires-in-days: must be between 1 and 3650"
        );
        assert_eq!(
            reword(
                "expires_at",
                "give either expires_at or expires_in_days, not both"
            ),
            "--expires-at: give either --expires-at or --expires-in-days, not both"
        );
    }

    #[test]
    fn an_unknown_preset_lists_the_valid_ones() {
        let text = reword("preset", "unknown preset \"admin\"");
        assert!(
            text.starts_with("unknown preset \"admin\" for --preset; valid presets: full_access, ")
        );
    }
}
