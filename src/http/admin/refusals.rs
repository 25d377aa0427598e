//! The usage page's "Refused before a key was known" (docs/admin.md, "Usage"): requests of the
//! last 7 days turned away before any key was found (schema firewall, no key, an unknown or
//! malformed key, a blocked address), per address and reason. These requests belong to no
//! workspace, so only the instance administrator reads each address beside its hash; everyone
//! else the hash only (docs/keys.md, "Request log").

use crate::domain::Timestamp;
use crate::http::session::{AdminError, AdminSession};
use crate::http::state::AppState;
use crate::service::logs::{self, AddressView, RefusalTally};
use crate::wire::error::meaning_of;

const DAYS: i64 = 7;
/// The most address-and-reason lines shown, most refused first.
const MOST: i64 = 50;

/// What `templates/partials/refusals.html` shows.
pub struct Refusals {
    /// Whether the reader sees addresses (a column of their own) beside the hashes.
    pub addresses: bool,
    pub rows: Vec<Refused>,
}

/// One address refused for one reason.
pub struct Refused {
    pub tally: RefusalTally,
    /// The hash's first 12 characters, as the logs show it.
    pub short_hash: String,
    /// What the reason means, for its title.
    pub meaning: &'static str,
}

/// The last 7 days' refusals, as the signed-in person may read them.
pub async fn recent(session: &AdminSession, state: &AppState) -> Result<Refusals, AdminError> {
    // Refused before any account was known: a workspace's owners may not read the addresses
    // of clients of other workspaces.
    let view = if session.0.is_instance_admin {
        AddressView::Clear
    } else {
        AddressView::HashOnly
    };
    let since = state
        .clock
        .now()
        .plus_millis(-(DAYS - 1) * Timestamp::MS_PER_DAY)
        .day();
    let found = state
        .store
        .run(move |db| logs::refusals_since(&db.read(), &since, MOST, view))
        .await?;
    let rows = found
        .into_iter()
        .map(|tally| Refused {
            short_hash: tally.ip_hash.chars().take(12).collect(),
            meaning: match tally.reason.as_str() {
                "firewall" => "Not an operation of the API: refused by the schema firewall.",
                code => meaning_of(code),
            },
            tally,
        })
        .collect();
    Ok(Refusals {
        addresses: view == AddressView::Clear,
        rows,
    })
}
