//! The e-mail of a notice: its subject and bodies, written to the outbox with the notice for
//! the account's owners. Keys are named by name and prefix only; user text is escaped in HTML.

use super::Notice;
use crate::domain::Timestamp;
use crate::service::ServiceError;
use crate::store::Tx;
use crate::store::email::{self, NewEmail};

/// A message's subject and its two bodies.
pub struct Message {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Writes the message of `notice` for the owners of its account, if it has any.
pub(super) fn enqueue(
    tx: &Tx<'_>,
    notice: &Notice<'_>,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let (_, account_id, _) = notice.subject();
    let Some(account_id) = account_id else {
        return Ok(());
    };
    let owners = email::owner_addresses(tx, account_id)?;
    if owners.is_empty() {
        return Ok(());
    }
    let message = compose(notice);
    let recipients = owners.join(",");
    email::enqueue(
        tx,
        &NewEmail {
            account_id: Some(account_id),
            recipients: &recipients,
            subject: &message.subject,
            text_body: &message.text,
            html_body: &message.html,
        },
        now,
    )?;
    Ok(())
}

/// What the message of `notice` says.
pub fn compose(notice: &Notice<'_>) -> Message {
    let (key, detail) = match notice {
        Notice::KeyExpiring {
            key,
            at,
            warning_days,
        } => (
            key,
            (
                format!(
                    "expires within {}",
                    if *warning_days == 1 {
                        "a day".to_owned()
                    } else {
                        format!("{warning_days} days")
                    }
                ),
                format!("It expires at {}.", at.to_rfc3339()),
            ),
        ),
        Notice::KeyExpired { key, at } => (
            key,
            (
                "expired".to_owned(),
                format!("It expired at {}.", at.to_rfc3339()),
            ),
        ),
        Notice::KeyUnused {
            key,
            last_used,
            days,
            ..
        } => (
            key,
            (
                format!("has not been used for {days} days"),
                match last_used {
                    Some(t) => format!("Its last request was at {}.", t.to_rfc3339()),
                    None => "It has never been used.".to_owned(),
                },
            ),
        ),
        Notice::RateLimited {
            key,
            hour,
            refusals,
            threshold,
        } => (
            key,
            (
                "is being refused for its rate limit".to_owned(),
                format!(
                    "It was refused {refusals} times (more than {threshold}) in the hour from {}.",
                    Timestamp(hour * Timestamp::MS_PER_HOUR).to_rfc3339()
                ),
            ),
        ),
    };
    let (what, more) = detail;
    let subject = format!("API key \"{}\" ({}) {what}", key.name, key.prefix);
    let footer = "You receive this as an owner of the account. Owners choose who is told on the \
                  account's Notifications page.";
    let text = format!(
        "{subject}.\n\n{more}\nAccount: {}\nKey: {} ({})\n\n{footer}\n",
        key.account_id, key.name, key.prefix
    );
    let html = format!(
        "<!DOCTYPE html><html><body><p><strong>{}</strong>.</p><p>{}</p>\
         <p>Account: {}<br>Key: {} ({})</p><p><small>{}</small></p></body></html>",
        escape(&subject),
        escape(&more),
        escape(key.account_id),
        escape(key.name),
        escape(key.prefix),
        escape(footer)
    );
    Message {
        subject,
        text,
        html,
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::changes::KeyRef;

    #[test]
    fn a_key_name_is_escaped_in_html_and_the_message_names_the_key_by_prefix() {
        let key = KeyRef {
            account_id: "acc",
            id: "id",
            name: "<b>prod</b>",
            prefix: "bsk_ab12",
            expires_at: None,
        };
        let m = compose(&Notice::KeyExpired {
            key,
            at: Timestamp(0),
        });
        assert!(m.html.contains("&lt;b&gt;prod&lt;/b&gt;"), "{}", m.html);
        assert!(!m.html.contains("<b>prod"));
        assert_eq!(m.subject, "API key \"<b>prod</b>\" (bsk_ab12) expired");
        assert!(m.text.contains("bsk_ab12"));
    }
}
