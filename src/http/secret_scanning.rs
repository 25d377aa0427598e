//! `POST /api/v1/secret-scanning/github` (docs/keys.md, "Leaked keys"): GitHub's secret
//! scanning partner endpoint. Unauthenticated, but a report is read only once its signature
//! checks with the GitHub key it names; each Tidegate key in it is handled as its account
//! chose (revoke, disable or notify) and answered as GitHub expects, by its SHA-256 only.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::state::AppState;
use crate::domain::random::hex;
use crate::providers::github_keys::verify;
use crate::service::Actor;
use crate::service::leaks::{self, Response, Verdict};
use crate::wire::error::ErrorCode;

/// Largest report read (GitHub sends at most 1,000 tokens).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

#[derive(Deserialize)]
struct Reported {
    token: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    source: String,
}

#[derive(Serialize)]
struct Answer {
    token_hash: String,
    token_type: String,
    label: &'static str,
}

fn header<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

pub async fn github(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let scanning = &state.secret_scanning;
    let now = state.clock.now();
    scanning.admit(now.0).map_err(|wait| {
        ApiError::new(
            ErrorCode::AuthRateLimited,
            "Too many reports; try again later.",
        )
        .retry_after(wait)
    })?;
    let (Some(id), Some(signature)) = (
        header(&req, "Github-Public-Key-Identifier"),
        header(&req, "Github-Public-Key-Signature"),
    ) else {
        return Err(ApiError::new(
            ErrorCode::AuthenticationRequired,
            "A report must carry Github-Public-Key-Identifier and Github-Public-Key-Signature.",
        ));
    };
    let Some(point) = scanning.keys.key(id).await else {
        return Err(ApiError::new(
            ErrorCode::AuthenticationFailed,
            "The report names a key GitHub does not publish.",
        ));
    };
    if !verify(&point, &body, signature) {
        return Err(ApiError::new(
            ErrorCode::AuthenticationFailed,
            "The report's signature does not match its body.",
        ));
    }
    let reported: Vec<Reported> = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid(
            "body",
            format!("A report is a JSON array of {{token, type, url, source}}: {e}"),
        )
    })?;
    let format = state.gate.key_format.clone();
    let answers = state
        .store
        .run(move |db| {
            let mut answers = Vec::with_capacity(reported.len());
            for item in reported {
                let source = match (item.url.trim(), item.source.trim()) {
                    ("", "") => "GitHub secret scanning".to_owned(),
                    ("", source) => format!("GitHub secret scanning ({source})"),
                    (url, _) => url.to_owned(),
                };
                let verdict = leaks::respond(
                    db,
                    &format,
                    &item.token,
                    &source,
                    Response::AccountPolicy,
                    &Actor::System,
                    now,
                )?;
                answers.push(Answer {
                    token_hash: hex(&Sha256::digest(item.token.as_bytes())),
                    token_type: item.kind,
                    label: match verdict {
                        Verdict::Known { .. } => "true_positive",
                        Verdict::NotAKey | Verdict::Unknown => "false_positive",
                    },
                });
            }
            Ok::<_, crate::service::ServiceError>(answers)
        })
        .await?;
    Ok(HttpResponse::Ok().json(answers))
}
