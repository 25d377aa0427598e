//! The e-mail of a notice: its subject and bodies, written to the outbox with the notice for
//! the account's owners. Keys are named by name and prefix only; user text is escaped in HTML.

use super::Notice;
use crate::domain::webhook::DisabledReason;
use crate::domain::{Money, Timestamp};
use crate::service::ServiceError;
use crate::service::changes::KeyRef;
use crate::store::Tx;
use crate::store::email::{self, NewEmail};
use crate::store::notification_settings;

/// A message's subject and its two bodies.
pub struct Message {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Writes the message of `notice` for the members its account's notification settings choose
/// for its event, if any.
pub(super) fn enqueue(
    tx: &Tx<'_>,
    notice: &Notice<'_>,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let (_, account_id, _) = notice.subject();
    let Some(account_id) = account_id else {
        return Ok(());
    };
    let to = notification_settings::recipients(tx, account_id, notice.event().as_str())?;
    if to.is_empty() {
        return Ok(());
    }
    let message = compose(notice);
    let recipients = to.join(",");
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

/// What the message of `notice` says: its subject, a sentence more, and the facts it is about.
pub fn compose(notice: &Notice<'_>) -> Message {
    let key_named = |key: &KeyRef<'_>, what: String| {
        (
            format!("API key \"{}\" ({}) {what}", key.name, key.prefix),
            vec![
                ("Account", key.account_id.to_owned()),
                ("Key", format!("{} ({})", key.name, key.prefix)),
            ],
        )
    };
    let ((subject, facts), more) = match notice {
        Notice::KeyExpiring {
            key,
            at,
            warning_days,
        } => (
            key_named(
                key,
                format!(
                    "expires within {}",
                    if *warning_days == 1 {
                        "a day".to_owned()
                    } else {
                        format!("{warning_days} days")
                    }
                ),
            ),
            format!("It expires at {}.", at.to_rfc3339()),
        ),
        Notice::KeyExpired { key, at } => (
            key_named(key, "expired".to_owned()),
            format!("It expired at {}.", at.to_rfc3339()),
        ),
        Notice::KeyUnused {
            key,
            last_used,
            days,
            ..
        } => (
            key_named(key, format!("has not been used for {days} days")),
            match last_used {
                Some(t) => format!("Its last request was at {}.", t.to_rfc3339()),
                None => "It has never been used.".to_owned(),
            },
        ),
        Notice::RateLimited {
            key,
            hour,
            refusals,
            threshold,
        } => (
            key_named(key, "is being refused for its rate limit".to_owned()),
            format!(
                "It was refused {refusals} times (more than {threshold}) in the hour from {}.",
                Timestamp(hour * Timestamp::MS_PER_HOUR).to_rfc3339()
            ),
        ),
        Notice::GraceEnding {
            key, at, last_used, ..
        } => (
            key_named(key, "stops working within a day".to_owned()),
            format!(
                "It was rotated, and its grace period ends at {}, but it still receives \
                 requests: the last at {}. Move its clients to the new key before then.",
                at.to_rfc3339(),
                last_used.to_rfc3339()
            ),
        ),
        Notice::BudgetReached {
            key,
            percent,
            budget,
            spent,
            period_start,
        } => (
            key_named(
                key,
                if *percent >= 100 {
                    "spent its whole credit budget".to_owned()
                } else {
                    format!("spent {percent} % of its credit budget")
                },
            ),
            format!(
                "Its generations spent {spent} of its {} credits a {} since {}.{}",
                budget.credits,
                budget.period.as_str(),
                period_start.to_rfc3339(),
                if *percent >= 100 {
                    " Generations that would pass it are refused until the period ends."
                } else {
                    ""
                }
            ),
        ),
        Notice::KeyLeaked {
            key,
            source,
            action,
            ..
        } => (
            key_named(key, "was found leaked".to_owned()),
            format!(
                "It was found at {source} and has been {}.{}",
                action.done(),
                if action == &crate::domain::key::leak::LeakAction::Notify {
                    " It still works: revoke or rotate it on its page."
                } else {
                    " Give its clients a new key."
                }
            ),
        ),
        Notice::EndpointDisabled {
            account_id,
            url,
            reason,
            failures,
            ..
        } => (
            (
                format!("Webhook endpoint {url} was disabled"),
                vec![
                    ("Account", (*account_id).to_owned()),
                    ("Endpoint", (*url).to_owned()),
                ],
            ),
            match reason {
                DisabledReason::Gone => "It answered 410 Gone.".to_owned(),
                _ => format!(
                    "{failures} deliveries in a row failed. Its events wait for it: enable it \
                     again on the Webhooks page once it works."
                ),
            },
        ),
        Notice::LowBalance {
            account_id,
            balance,
            crossed,
            ..
        } => {
            let list: Vec<String> = crossed.iter().map(|t| Money(*t).to_string()).collect();
            (
                (
                    format!("The credit balance is down to {balance}"),
                    vec![
                        ("Account", (*account_id).to_owned()),
                        ("Balance", balance.to_string()),
                    ],
                ),
                format!("It fell below the alert at {}.", list.join(", ")),
            )
        }
    };
    let footer = "You receive this as a member of the account chosen to hear of it. Owners \
                  choose who is told on the account's Notifications page; each member can \
                  mute what they do not want.";
    let text_facts: String = facts
        .iter()
        .map(|(name, value)| format!("{name}: {value}\n"))
        .collect();
    let html_facts: Vec<String> = facts
        .iter()
        .map(|(name, value)| format!("{}: {}", escape(name), escape(value)))
        .collect();
    let text = format!("{subject}.\n\n{more}\n{text_facts}\n{footer}\n");
    let html = format!(
        "<!DOCTYPE html><html><body><p><strong>{}</strong>.</p><p>{}</p>\
         <p>{}</p><p><small>{}</small></p></body></html>",
        escape(&subject),
        escape(&more),
        html_facts.join("<br>"),
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
