//! `tidegate webhooks add|list|show|enable|disable|rotate-secret|test|deliveries|replay|
//! deliver-queued|delete`. Deliveries are made by the running server, which finds what these
//! commands queue within a second.

use clap::Subcommand;

use super::open_store;
use super::{CliError, Context, print_json, print_table, say};
use crate::domain::Clock;
use crate::domain::webhook::{DeliveryStatus, Endpoint, redact_url};
use crate::service::Actor;
use crate::service::webhooks::{self as service, EndpointInput};
use crate::store::Db;
use crate::store::accounts::list_accounts;
use crate::store::webhooks::get_endpoint_any;
use crate::wire::webhook::{
    DeletedEndpointOut, DeliveryOut, EndpointOut, EndpointSummaryOut, EndpointWithSecretOut,
    ReleasedOut, TestSentOut,
};

#[derive(Subcommand)]
pub enum WebhooksCommand {
    /// Add an endpoint; its signing secret is printed once.
    Add {
        /// The account's id.
        #[arg(long, value_name = "ID")]
        account: String,
        /// The https:// URL events are posted to.
        #[arg(long)]
        url: String,
        /// Comma-separated events (default: the four generation events): generation.started,
        /// generation.completed, generation.failed, generation.canceled, credits.low_balance,
        /// apikey.created, apikey.rotated, apikey.revoked, apikey.deleted, apikey.expiring,
        /// apikey.expired, apikey.unused, apikey.grace_ending, ratelimit.exceeded,
        /// webhook.disabled.
        #[arg(long, value_delimiter = ',')]
        events: Option<Vec<String>>,
        /// A note for people, shown in lists.
        #[arg(long)]
        description: Option<String>,
        /// Add it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// List endpoints (of one account, or all).
    List {
        /// Only this account's endpoints (its id).
        #[arg(long, value_name = "ID")]
        account: Option<String>,
    },
    /// Show one endpoint.
    Show {
        /// The endpoint's id (`tidegate webhooks list` shows them).
        #[arg(value_name = "ENDPOINT_ID")]
        id: String,
    },
    /// Enable a disabled endpoint (events queued meanwhile wait for deliver-queued).
    Enable {
        /// The endpoint's id (`tidegate webhooks list` shows them).
        #[arg(value_name = "ENDPOINT_ID")]
        id: String,
    },
    /// Disable an endpoint: its events are queued, not sent.
    Disable {
        /// The endpoint's id (`tidegate webhooks list` shows them).
        #[arg(value_name = "ENDPOINT_ID")]
        id: String,
    },
    /// Give an endpoint a new signing secret (printed once).
    RotateSecret {
        /// The endpoint's id (`tidegate webhooks list` shows them).
        #[arg(value_name = "ENDPOINT_ID")]
        id: String,
    },
    /// Send a webhook.test event.
    Test {
        /// The endpoint's id (`tidegate webhooks list` shows them).
        #[arg(value_name = "ENDPOINT_ID")]
        id: String,
    },
    /// An endpoint's delivery log, newest first.
    Deliveries {
        /// The endpoint's id (`tidegate webhooks list` shows them).
        #[arg(value_name = "ENDPOINT_ID")]
        id: String,
        /// Only deliveries in this state: pending, succeeded, failed, queued or expired.
        #[arg(long)]
        status: Option<String>,
        /// At most this many deliveries.
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: usize,
    },
    /// Send the event of a past delivery again, as a new delivery.
    Replay {
        /// The endpoint's id (`tidegate webhooks list` shows them).
        #[arg(value_name = "ENDPOINT_ID")]
        id: String,
        /// The id of the delivery to send again (`tidegate webhooks deliveries` shows them).
        #[arg(value_name = "DELIVERY_ID")]
        delivery: String,
    },
    /// Send the events queued while the endpoint was disabled.
    DeliverQueued {
        /// The endpoint's id (`tidegate webhooks list` shows them).
        #[arg(value_name = "ENDPOINT_ID")]
        id: String,
    },
    /// Delete an endpoint and its delivery log.
    Delete {
        /// The endpoint's id (`tidegate webhooks list` shows them).
        #[arg(value_name = "ENDPOINT_ID")]
        id: String,
    },
}

fn endpoint_of(db: &mut Db, id: &str) -> Result<Endpoint, CliError> {
    get_endpoint_any(&db.read(), id)?
        .ok_or_else(|| CliError::new(format!("no webhook endpoint {id}")))
}

pub fn run(ctx: &Context, cmd: WebhooksCommand) -> Result<(), CliError> {
    let store = open_store(&ctx.config)?;
    let mut db = store.db()?;
    let now = Clock::system().now();
    let config = &ctx.config.webhooks;
    match cmd {
        WebhooksCommand::Add {
            account,
            url,
            events,
            description,
            disabled,
        } => {
            let input = EndpointInput {
                url: Some(url),
                events,
                description,
                enabled: Some(!disabled),
            };
            let (endpoint, secret) =
                service::create_endpoint(&mut db, config, &Actor::Cli, &account, &input, now)?;
            say(
                ctx,
                &EndpointWithSecretOut::of(&endpoint, secret.expose()),
                &format!(
                    "Added webhook endpoint {} ({})\nSigning secret (shown only this once): {}",
                    endpoint.id,
                    redact_url(&endpoint.url),
                    secret.expose()
                ),
            );
        }
        WebhooksCommand::List { account } => {
            let accounts = match account {
                Some(id) => vec![id],
                None => list_accounts(&db.read())?
                    .into_iter()
                    .map(|a| a.id)
                    .collect(),
            };
            let mut all = Vec::new();
            for account in accounts {
                all.extend(service::list(&db.read(), &account)?);
            }
            if ctx.json {
                print_json(&all.iter().map(EndpointSummaryOut::of).collect::<Vec<_>>());
            } else {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|s| {
                        let e = &s.endpoint;
                        vec![
                            e.id.clone(),
                            redact_url(&e.url),
                            if e.enabled { "enabled" } else { "disabled" }.to_owned(),
                            e.events.names().join(","),
                            s.last_delivery
                                .as_ref()
                                .map_or_else(|| "-".into(), |d| d.status.to_string()),
                            s.queued.to_string(),
                        ]
                    })
                    .collect();
                print_table(&["ID", "URL", "STATUS", "EVENTS", "LAST", "QUEUED"], &rows);
            }
        }
        WebhooksCommand::Show { id } => {
            let e = endpoint_of(&mut db, &id)?;
            say(
                ctx,
                &EndpointOut::of(&e),
                &format!(
                    "id       {}\nurl      {}\naccount  {}\nstatus   {}\nevents   {}\ncreated  {}",
                    e.id,
                    redact_url(&e.url),
                    e.account_id,
                    if e.enabled { "enabled" } else { "disabled" },
                    e.events.names().join(", "),
                    e.created_at.to_rfc3339()
                ),
            );
        }
        WebhooksCommand::Enable { id } => {
            let account = endpoint_of(&mut db, &id)?.account_id;
            let input = EndpointInput {
                enabled: Some(true),
                ..EndpointInput::default()
            };
            let e =
                service::update_endpoint(&mut db, config, &Actor::Cli, &account, &id, &input, now)?;
            say(
                ctx,
                &EndpointOut::of(&e),
                &format!("Enabled webhook endpoint {id}"),
            );
        }
        WebhooksCommand::Disable { id } => {
            let account = endpoint_of(&mut db, &id)?.account_id;
            let input = EndpointInput {
                enabled: Some(false),
                ..EndpointInput::default()
            };
            let e =
                service::update_endpoint(&mut db, config, &Actor::Cli, &account, &id, &input, now)?;
            say(
                ctx,
                &EndpointOut::of(&e),
                &format!("Disabled webhook endpoint {id}"),
            );
        }
        WebhooksCommand::RotateSecret { id } => {
            let account = endpoint_of(&mut db, &id)?.account_id;
            let (e, secret) = service::rotate_secret(&mut db, &Actor::Cli, &account, &id, now)?;
            say(
                ctx,
                &EndpointWithSecretOut::of(&e, secret.expose()),
                &format!(
                    "New signing secret (shown only this once): {}",
                    secret.expose()
                ),
            );
        }
        WebhooksCommand::Test { id } => {
            let account = endpoint_of(&mut db, &id)?.account_id;
            let delivery = service::send_test(&mut db, &account, &id, now)?;
            let line = format!("Queued test delivery {delivery}; the server sends it.");
            let sent = TestSentOut {
                delivery_id: delivery,
                event: "webhook.test".into(),
            };
            say(ctx, &sent, &line);
        }
        WebhooksCommand::Deliveries { id, status, limit } => {
            let account = endpoint_of(&mut db, &id)?.account_id;
            let status = status
                .map(|s| {
                    DeliveryStatus::parse(&s).ok_or_else(|| {
                        CliError::new("status: one of pending, succeeded, failed, queued, expired")
                    })
                })
                .transpose()?;
            let rows = service::deliveries(&db.read(), &account, &id, status, None, limit)?;
            if ctx.json {
                print_json(&rows.iter().map(DeliveryOut::of).collect::<Vec<_>>());
            } else {
                let table: Vec<Vec<String>> = rows
                    .iter()
                    .map(|d| {
                        vec![
                            d.id.clone(),
                            d.event.clone(),
                            d.status.to_string(),
                            d.last_status_code
                                .map_or_else(|| "-".into(), |c| c.to_string()),
                            d.attempts.to_string(),
                            d.created_at.to_rfc3339(),
                        ]
                    })
                    .collect();
                print_table(
                    &["ID", "EVENT", "STATUS", "CODE", "ATTEMPTS", "CREATED"],
                    &table,
                );
            }
        }
        WebhooksCommand::Replay { id, delivery } => {
            let account = endpoint_of(&mut db, &id)?.account_id;
            let d = service::replay(&mut db, &account, &id, &delivery, now)?;
            say(
                ctx,
                &DeliveryOut::of(&d),
                &format!("Queued delivery {} (a replay of {delivery})", d.id),
            );
        }
        WebhooksCommand::DeliverQueued { id } => {
            let account = endpoint_of(&mut db, &id)?.account_id;
            let released = service::deliver_queued(&mut db, config, &account, &id, now)?;
            say(
                ctx,
                &ReleasedOut {
                    delivering: released.delivering as u64,
                    expired: released.expired as u64,
                },
                &format!(
                    "Delivering {} queued events ({} older ones expired)",
                    released.delivering, released.expired
                ),
            );
        }
        WebhooksCommand::Delete { id } => {
            let account = endpoint_of(&mut db, &id)?.account_id;
            let e = service::delete_endpoint(&mut db, &Actor::Cli, &account, &id, now)?;
            say(
                ctx,
                &DeletedEndpointOut {
                    id: e.id.clone(),
                    deleted: true,
                },
                &format!("Deleted webhook endpoint {}", e.id),
            );
        }
    }
    Ok(())
}
