//! The SMTP client notifications are e-mailed through (docs/notifications.md, "E-mail"): one
//! connection per message (a few messages at a time need no pool), STARTTLS, TLS from the start
//! or, for a server on loopback, none. The server's addresses are checked like every outbound
//! connection's: link-local and metadata addresses are refused.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::outbound::AddressPolicy;
use crate::config::SmtpConfig;

/// Longest a connection, a command or an answer may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A message to send.
pub struct Outgoing<'a> {
    pub to: &'a [String],
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
}

/// The configured server.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    host: String,
    port: u16,
}

impl Smtp {
    /// The client for `config`; an error names the setting at fault.
    pub fn new(config: &SmtpConfig) -> Result<Smtp, String> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| format!("smtp.from: not an e-mail address: {e}"))?;
        let builder = match config.security.as_str() {
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host),
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host),
            _ => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                &config.host,
            )),
        }
        .map_err(|e| format!("smtp.host: {e}"))?;
        let mut builder = builder.port(config.port).timeout(Some(TIMEOUT));
        if !config.user.is_empty() {
            builder = builder.credentials(Credentials::new(
                config.user.clone(),
                config.password.clone(),
            ));
        }
        Ok(Smtp {
            transport: builder.build(),
            from,
            host: config.host.clone(),
            port: config.port,
        })
    }

    /// Sends `message`; the error says what the server or the connection answered (it never
    /// holds the password).
    pub async fn send(&self, message: &Outgoing<'_>) -> Result<(), String> {
        self.check_addresses().await?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(message.subject);
        for to in message.to {
            let mailbox: Mailbox = to
                .parse()
                .map_err(|e| format!("recipient {to:?} is not an e-mail address: {e}"))?;
            builder = builder.to(mailbox);
        }
        let email = builder
            .multipart(MultiPart::alternative_plain_html(
                message.text.to_owned(),
                message.html.to_owned(),
            ))
            .map_err(|e| format!("cannot build the message: {e}"))?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| format!("{}:{}: {e}", self.host, self.port))
    }

    /// Refuses a server whose name resolves to a link-local or metadata address.
    async fn check_addresses(&self) -> Result<(), String> {
        let policy = AddressPolicy {
            allow_private: true,
        };
        let addresses = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("{}: cannot resolve: {e}", self.host))?;
        for address in addresses {
            if let Some(why) = policy.refusal(address.ip()) {
                return Err(format!(
                    "{}: refused address {} ({why})",
                    self.host,
                    address.ip()
                ));
            }
        }
        Ok(())
    }
}
