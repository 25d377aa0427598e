//! Submitting a generation (docs/generation.md, "Accepting a generation"): the model and the key's
//! model list, the plan's in-flight cap, the request body checked and priced, the idempotency
//! claim, and the record accepted with its credits reserved in one transaction; then the worker is
//! told. The same use case for every caller of `POST /v1/generate/{image,video}`; the caller turns
//! its answer into a response.

use super::ServiceError;
use super::auth::Principal;
use super::generations::{
    self, Accept, CreateError, Generation, GenerationStatus, Roster, Workers,
};
use super::idempotency::{self, Claim, IdempotencyScope};
use crate::domain::generation::request::{self, Invalid};
use crate::domain::generation::{ModelType, pricing};
use crate::domain::{Environment, Money, Timestamp};
use crate::store::Store;

/// What a submission runs against: the store, the catalog with its providers, and this node's
/// workers.
pub struct Generator<'a> {
    pub store: &'a Store,
    pub roster: &'a Roster,
    pub workers: &'a dyn Workers,
}

/// One submission, as the caller received it.
pub struct Submission<'a> {
    pub principal: &'a Principal,
    /// The plan's in-flight cap, if any.
    pub max_in_flight: Option<u32>,
    pub model_identifier: &'a str,
    /// Which route it came in on: an image model on the video route is refused.
    pub route_type: ModelType,
    pub body: &'a [u8],
    /// The scope of the `Idempotency-Key` sent, already checked with `idempotency::valid_key`.
    pub idempotency: Option<IdempotencyScope>,
    /// The origin the record's media URLs start with.
    pub origin: String,
    pub now: Timestamp,
}

pub enum Submitted {
    /// Accepted and queued.
    Accepted { generation: Box<Generation> },
    /// The same request was accepted before: its stored response, again.
    Replayed { body: Vec<u8> },
    /// The same request was accepted before and its generation has since been canceled.
    ReplayedCanceled {
        request_id: Option<String>,
        generation_id: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("model {0} is not in the catalog")]
    UnknownModel(String),
    #[error("this key may not use the model {0}")]
    ModelNotAllowed(String),
    #[error("{}: {}", .0.field, .0.message)]
    Invalid(Invalid),
    #[error("in-flight generation cap of {0} reached")]
    InFlightCap(u32),
    #[error("balance {balance} cannot cover {needed}")]
    InsufficientCredits { balance: Money, needed: Money },
    /// The key's credit budget for the period cannot cover it.
    #[error("the key's credit budget cannot cover {needed} more")]
    KeyBudgetExceeded {
        budget: crate::domain::key::budget::Budget,
        spent: Money,
        needed: Money,
        resets_at: crate::domain::Timestamp,
    },
    /// The key was used before with a different body.
    #[error("the idempotency key was used with a different body")]
    KeyReused,
    /// A request with the same key is still being accepted.
    #[error("a request with the same idempotency key is in progress")]
    InProgress,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Runs the submission. `respond` renders the accepted answer's body for the generation, for
/// the idempotency record stored with it.
pub async fn submit(
    generator: Generator<'_>,
    s: Submission<'_>,
    respond: impl Fn(&Generation) -> Vec<u8>,
) -> Result<Submitted, SubmitError> {
    let store = generator.store;
    let Some(scope) = s.idempotency.clone() else {
        return accept(&generator, &s, None, &respond).await;
    };
    let fingerprint = idempotency::fingerprint(s.body);
    let (now, claiming) = (s.now, scope.clone());
    let claimed = store
        .run(move |db| idempotency::claim(db, &claiming, &fingerprint, now))
        .await?;
    match claimed {
        Claim::Replay { body, .. } => replay(store, &s, body).await,
        Claim::Reused => Err(SubmitError::KeyReused),
        Claim::InProgress => Err(SubmitError::InProgress),
        Claim::Fresh => {
            let result = accept(&generator, &s, Some(&scope), &respond).await;
            if result.is_err() {
                let released = store
                    .run(move |db| idempotency::release(&db.read(), &scope))
                    .await;
                if let Err(e) = released {
                    tracing::error!(
                        error = %super::cause_chain(&e),
                        "cannot release an idempotency claim"
                    );
                }
            }
            result
        }
    }
}

/// The stored response again, unless its generation has been canceled since.
async fn replay(
    store: &Store,
    s: &Submission<'_>,
    body: Vec<u8>,
) -> Result<Submitted, SubmitError> {
    let stored: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let generation_id = stored["data"]["generation_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (account_id, id) = (s.principal.key.account_id.clone(), generation_id.clone());
    let current = store
        .run(move |db| generations::find_in(&db.read(), &account_id, &id))
        .await?;
    if current.is_some_and(|g| g.status == GenerationStatus::Canceled) {
        return Ok(Submitted::ReplayedCanceled {
            request_id: stored["request_id"].as_str().map(str::to_owned),
            generation_id,
        });
    }
    Ok(Submitted::Replayed { body })
}

async fn accept(
    generator: &Generator<'_>,
    s: &Submission<'_>,
    idempotency: Option<&IdempotencyScope>,
    respond: &impl Fn(&Generation) -> Vec<u8>,
) -> Result<Submitted, SubmitError> {
    let store = generator.store;
    let model = generator
        .roster
        .catalog()
        .model(s.model_identifier)
        .ok_or_else(|| SubmitError::UnknownModel(s.model_identifier.to_owned()))?;
    let key = &s.principal.key;
    if let Some(allowed) = &key.allowed_models
        && !allowed.iter().any(|m| m == &model.identifier)
    {
        return Err(SubmitError::ModelNotAllowed(model.identifier.clone()));
    }
    if let Some(cap) = s.max_in_flight {
        let account_id = key.account_id.clone();
        let in_flight = store
            .run(move |db| generations::count_in_flight(&db.read(), &account_id))
            .await?;
        if in_flight >= i64::from(cap) {
            return Err(SubmitError::InFlightCap(cap));
        }
    }
    let body = request::parse(s.body, model, s.route_type).map_err(SubmitError::Invalid)?;
    let cost = match key.environment {
        Environment::Test => Money::default(),
        Environment::Live => pricing::cost_of(model, &body).map_err(SubmitError::Invalid)?,
    };
    let g = Generation {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: key.account_id.clone(),
        key_id: Some(key.id.clone()),
        environment: key.environment,
        model_identifier: model.identifier.clone(),
        model_type: model.model_type,
        // A test key never reaches an upstream that may charge for it.
        provider_order: match key.environment {
            Environment::Test => generator
                .roster
                .local()
                .map(str::to_owned)
                .into_iter()
                .collect(),
            Environment::Live => generator.roster.order(&body.provider_order, model),
        },
        provider_used: None,
        prediction_id: None,
        status: GenerationStatus::Pending,
        prompt: body.prompt,
        ratio: body.ratio,
        output_format: body.output_format,
        output_number: body.output_number,
        input_files: body.input_files,
        last_frame: body.last_frame,
        output_files: None,
        duration: body.duration,
        resolution: body.resolution,
        generate_audio: body.generate_audio,
        specific: body.specific,
        cost,
        error: None,
        error_code: None,
        files_removed: false,
        created_at: s.now,
        started_at: None,
        completed_at: None,
        predict_ms: None,
        origin: Some(s.origin.clone()),
    };
    let response = respond(&g);
    let generation = Box::new(g.clone());
    let actor = format!("key:{}", key.key_prefix);
    let id = g.id.clone();
    let (scope, max_in_flight) = (idempotency.cloned(), s.max_in_flight);
    let node = store.node().to_owned();
    let accepted = store
        .run(move |db| {
            let idempotency = scope.as_ref().map(|scope| (scope, response.as_slice()));
            let accept = Accept {
                generation: &g,
                node: &node,
                max_in_flight,
                actor: &actor,
                idempotency,
            };
            Ok::<_, ServiceError>(generations::accept(db, &accept))
        })
        .await?;
    match accepted {
        Ok(()) => {}
        Err(CreateError::InFlightCap(cap)) => return Err(SubmitError::InFlightCap(cap)),
        Err(CreateError::InsufficientCredits { balance, needed }) => {
            return Err(SubmitError::InsufficientCredits { balance, needed });
        }
        Err(CreateError::KeyBudgetExceeded {
            budget,
            spent,
            needed,
            resets_at,
        }) => {
            return Err(SubmitError::KeyBudgetExceeded {
                budget,
                spent,
                needed,
                resets_at,
            });
        }
        Err(CreateError::ClaimLost) => return Err(SubmitError::InProgress),
        Err(CreateError::Service(e)) => return Err(e.into()),
    }
    generator.workers.enqueue(id);
    Ok(Submitted::Accepted { generation })
}
