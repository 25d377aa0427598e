//! The generation routes of /v1: estimate and generate here; content, the library and health
//! beside it.

mod content;
mod health;
mod library;

pub use content::{cancel, delete_content, get_content, list_content};
pub use health::{cache_health, models_health, providers_health, storage_health};
pub use library::{library_models, library_providers};

use crate::domain::generation::request::{self, Invalid};
use crate::domain::generation::{Model, ModelType, pricing};
use crate::http::envelope::success_body;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::v1::handlers::load_account;
use crate::http::v1::operation::{COUNT, HandlerFuture};
use crate::http::v1::request::{V1Reply, V1Request};
use crate::service::generations::Generation;
use crate::service::idempotency::{self, IdempotencyScope};
use crate::service::submit::{Generator, Submission, SubmitError, Submitted, submit};
use crate::wire::Credits;
use crate::wire::generation::{
    EstimateData, GenerationCanceledSince, GenerationInitialized, GenerationStarted,
};

const INITIALIZED: &str = "Generation initialized";

fn invalid(e: Invalid) -> ApiError {
    ApiError::invalid(&e.field, e.message)
}

fn model(req: &V1Request) -> Result<&Model, ApiError> {
    let id = req.model_identifier.as_deref().unwrap_or_default();
    req.state
        .roster
        .catalog()
        .model(id)
        .ok_or_else(|| unknown_model(id))
}

fn unknown_model(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ModelNotFound,
        format!("The model {id} is not in the catalog."),
    )
    .detail("model_identifier", id)
}

pub(super) fn not_found(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::GenerationNotFound,
        format!("No generation {id} was found."),
    )
}

pub fn estimate(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        let model = model(&req)?;
        let count = COUNT.clamped(&req) as u32;
        // Image models ignore the video parameters.
        let (duration, audio) = if model.is_video() {
            let duration = match req.query_value("duration") {
                None => None,
                Some(raw) => Some(parse_duration(model, raw)?),
            };
            let audio = req.query_value("audio") == Some("true");
            (
                duration,
                request::allowed_audio(model, "audio", audio).map_err(invalid)?,
            )
        } else {
            (None, false)
        };
        let est = pricing::estimate(model, count, duration, req.query_value("resolution"), audio)
            .map_err(invalid)?;
        let balance = load_account(&req).await?.credit_balance;
        let data = EstimateData::of(model, &est, balance);
        Ok(V1Reply::ok("Estimate calculated successfully", data))
    })
}

fn parse_duration(model: &Model, raw: &str) -> Result<u32, ApiError> {
    raw.parse::<f64>()
        .ok()
        .and_then(|d| request::allowed_duration(model, d))
        .ok_or_else(|| {
            ApiError::invalid(
                "duration",
                format!(
                    "duration must be one of {}.",
                    request::durations_text(model)
                ),
            )
        })
}

pub fn generate_image(req: V1Request) -> HandlerFuture {
    Box::pin(generate(req, ModelType::Image))
}

pub fn generate_video(req: V1Request) -> HandlerFuture {
    Box::pin(generate(req, ModelType::Video))
}

async fn generate(req: V1Request, route_type: ModelType) -> Result<V1Reply, ApiError> {
    let idempotency = match req.idempotency_key() {
        None => None,
        Some(key) if idempotency::valid_key(key) => Some(IdempotencyScope {
            account_id: req.principal.key.account_id.clone(),
            route: req.http.path().to_owned(),
            key: key.to_owned(),
            request_id: req.request_id.clone(),
        }),
        Some(_) => {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "Idempotency-Key must be 1-255 characters of A-Z, a-z, 0-9, _, -, : and .",
            ));
        }
    };
    let submission = Submission {
        principal: &req.principal,
        max_in_flight: req.state.gate.plan(Some(&req.principal.plan)).max_in_flight,
        model_identifier: req.model_identifier.as_deref().unwrap_or_default(),
        route_type,
        body: &req.body,
        idempotency,
        origin: req.origin(),
        now: req.now,
    };
    let respond = |g: &Generation| {
        let data = GenerationStarted::Initialized(GenerationInitialized::of(g));
        success_body(&req.request_id, INITIALIZED, req.now, &data, None)
    };
    let generator = Generator {
        store: &req.state.store,
        roster: &req.state.roster,
        workers: req.state.workers.as_ref(),
    };
    let submitted = submit(generator, submission, respond).await;
    match submitted.map_err(submit_error)? {
        Submitted::Accepted { generation } => Ok(V1Reply::ok(
            INITIALIZED,
            GenerationStarted::Initialized(GenerationInitialized::of(&generation)),
        )),
        Submitted::Replayed { body } => Ok(V1Reply::replayed(body)),
        Submitted::ReplayedCanceled {
            request_id,
            generation_id,
        } => {
            let request_id = request_id.as_deref().unwrap_or(&req.request_id);
            let data = GenerationStarted::CanceledSince(GenerationCanceledSince::of(generation_id));
            let body = success_body(request_id, INITIALIZED, req.now, &data, None);
            Ok(V1Reply::replayed(body))
        }
    }
}

fn submit_error(e: SubmitError) -> ApiError {
    match e {
        SubmitError::UnknownModel(id) => unknown_model(&id),
        SubmitError::ModelNotAllowed(id) => ApiError::new(
            ErrorCode::InsufficientPermissions,
            format!("This API key may not use the model {id}."),
        )
        .detail("model_identifier", id),
        SubmitError::Invalid(e) => invalid(e),
        SubmitError::InFlightCap(cap) => in_flight_refusal(cap),
        SubmitError::InsufficientCredits { balance, needed } => ApiError::new(
            ErrorCode::InsufficientCredits,
            format!("This generation costs {needed} credits; the balance is {balance}."),
        )
        .detail("credit_balance", Credits(balance))
        .detail("credits_required", Credits(needed)),
        SubmitError::KeyBudgetExceeded {
            budget,
            spent,
            needed,
            resets_at,
        } => ApiError::new(
            ErrorCode::KeyBudgetExceeded,
            format!(
                "This generation costs {needed} credits; this API key has spent {spent} of its \
                 {} credits this {}.",
                budget.credits,
                budget.period.as_str()
            ),
        )
        .detail("budget_credits", Credits(budget.credits))
        .detail("budget_period", budget.period.as_str())
        .detail("budget_spent", Credits(spent))
        .detail("credits_required", Credits(needed))
        .detail("budget_resets_at", resets_at.to_rfc3339()),
        SubmitError::KeyReused => ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "This Idempotency-Key was already used with a different request body.",
        ),
        SubmitError::InProgress => in_progress(),
        SubmitError::Service(e) => e.into(),
    }
}

fn in_progress() -> ApiError {
    ApiError::new(
        ErrorCode::IdempotencyRequestInProgress,
        "A request with this Idempotency-Key is still being processed; retry shortly.",
    )
    .retry_after(1)
}

fn in_flight_refusal(cap: u32) -> ApiError {
    ApiError::new(
        ErrorCode::ConcurrencyLimitExceeded,
        format!("The plan allows {cap} generation(s) in flight at once; wait for one to finish."),
    )
    .detail("limit", cap)
    .retry_after(1)
}
