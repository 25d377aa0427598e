//! A form sent back because something in it is wrong: which form it was, the field at fault
//! (or none: the form as a whole) and why, with what the person typed so that nothing is lost.
//! Pages render the message next to its field.

use crate::http::session::{AdminError, AdminSession, as_sentence};
use crate::service::ServiceError;

#[derive(Debug, Default)]
pub struct SentBack {
    form: &'static str,
    /// Empty: about the form as a whole.
    field: String,
    message: String,
    values: Vec<(&'static str, String)>,
}

impl SentBack {
    /// Nothing sent back: a page shown fresh.
    pub fn none() -> SentBack {
        SentBack::default()
    }

    /// `form` sent back for what the service refused; the refusals that are no fault of the
    /// form (a role that does not allow it, the system's own failure) stay errors.
    pub fn refused(
        form: &'static str,
        values: Vec<(&'static str, String)>,
        e: ServiceError,
    ) -> Result<SentBack, AdminError> {
        let (field, message) = match e {
            ServiceError::Invalid { field, message, .. } => {
                (field.to_owned(), as_sentence(&message))
            }
            ServiceError::InvalidState(message) => (String::new(), as_sentence(&message)),
            ServiceError::NotFound(what) => match AdminError::not_found(what) {
                AdminError::NotFound(message) => (String::new(), message),
                other => return Err(other),
            },
            other => return Err(other.into()),
        };
        Ok(SentBack {
            form,
            field,
            message,
            values,
        })
    }

    pub fn is_some(&self) -> bool {
        !self.form.is_empty()
    }

    /// 400 for a field in error, 409 for a form refused as a whole, 200 for nothing sent back.
    pub fn status(&self) -> actix_web::http::StatusCode {
        use actix_web::http::StatusCode;
        match (self.is_some(), self.field.is_empty()) {
            (false, _) => StatusCode::OK,
            (true, false) => StatusCode::BAD_REQUEST,
            (true, true) => StatusCode::CONFLICT,
        }
    }

    /// Why `field` of `form` is wrong, if it is.
    pub fn error(&self, form: &str, field: &str) -> Option<&str> {
        (self.form == form && self.field == field).then_some(self.message.as_str())
    }

    /// What is wrong with `form` as a whole, or with a field it does not show (`shown`).
    pub fn form_error(&self, form: &str, shown: &[&str]) -> Option<&str> {
        (self.form == form && !shown.contains(&self.field.as_str()))
            .then_some(self.message.as_str())
    }

    /// What was typed into `field` of `form`, when it is the form sent back.
    pub fn value(&self, form: &str, field: &str) -> &str {
        if self.form != form {
            return "";
        }
        self.values
            .iter()
            .find(|(name, _)| *name == field)
            .map_or("", |(_, value)| value.as_str())
    }
}

/// The values of every `name` field of a form body: ticked boxes repeat one name, which a
/// struct cannot take.
pub fn repeated(body: &str, name: &str) -> Vec<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(body)
        .map(|pairs| Pairs(pairs).all(name))
        .unwrap_or_default()
}

/// A form body read as its pairs, for forms whose checkbox groups repeat a name.
pub struct Pairs(Vec<(String, String)>);

impl Pairs {
    /// Reads the body and checks its CSRF token; a body that cannot be read carries no token.
    pub fn read(session: &AdminSession, body: &[u8]) -> Result<Pairs, AdminError> {
        let pairs = Pairs(serde_urlencoded::from_bytes(body).map_err(|_| AdminError::Csrf)?);
        session.check_csrf(&pairs.one("csrf"))?;
        Ok(pairs)
    }

    /// The last value sent for `name`, or "".
    pub fn one(&self, name: &str) -> String {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Every value sent for `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// The message of `error` when it is about `field`: a page that shows one error at a time keeps
/// it as (field, message).
pub fn error_for<'e>(error: &'e Option<(&str, String)>, field: &str) -> Option<&'e str> {
    error
        .as_ref()
        .filter(|(f, _)| *f == field)
        .map(|(_, m)| m.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_error_belongs_to_its_form_and_field_and_keeps_the_input() {
        let e = ServiceError::invalid("amount", "must be positive");
        let sent = SentBack::refused("credits", vec![("reference", "inv-1".into())], e).unwrap();
        assert_eq!(sent.error("credits", "amount"), Some("Must be positive."));
        assert_eq!(sent.error("threshold", "amount"), None);
        assert_eq!(sent.form_error("credits", &["amount", "reference"]), None);
        assert_eq!(sent.value("credits", "reference"), "inv-1");
        assert_eq!(sent.value("threshold", "reference"), "");
    }

    #[test]
    fn a_refusal_of_the_whole_form_reads_as_a_sentence() {
        let e = ServiceError::InvalidState("a user with the e-mail x already exists".into());
        let sent = SentBack::refused("user", vec![], e).unwrap();
        assert_eq!(
            sent.form_error("user", &["email"]),
            Some("A user with the e-mail x already exists.")
        );
        let forbidden = ServiceError::Forbidden("no".into());
        assert!(SentBack::refused("user", vec![], forbidden).is_err());
    }
}
