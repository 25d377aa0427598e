//! The 17 operations of the /v1 API: one table that drives the router, the scope map, the schema
//! firewall and the OpenAPI document.

use actix_web::http::Method;

use super::generation;
use super::handlers;
use super::operation::{COUNT, DAYS, LIMIT, OFFSET, Operation, QueryParam, QueryType, Reply, q};
use crate::domain::Scope;
use crate::http::openapi::schema;
use crate::wire::account::{AccountData, BillingData};
use crate::wire::generation::{
    EstimateData, GenerateImageRequest, GenerateVideoRequest, GenerationCanceled,
    GenerationDeleted, GenerationListOut, GenerationRecord, GenerationStarted,
};
use crate::wire::health::{CacheHealth, ModelsHealth, ProvidersHealth, StorageHealth};
use crate::wire::key::StatusData;
use crate::wire::library::{ModelList, ProviderList};
use crate::wire::usage::UsageData;

use QueryType::{Boolean, Number, String as Str};
use Scope::*;

const NONE: &[QueryParam] = &[];

pub static OPERATIONS: [Operation; 17] = [
    Operation {
        id: "getStatus",
        method: Method::GET,
        template: "/v1/status",
        scope: AccountRead,
        query: NONE,
        body: None,
        summary: "Check the connection and describe the calling key",
        reply: Reply::Data(schema::<StatusData<'static>>),
        errors: &[],
        handler: handlers::status,
    },
    Operation {
        id: "getUsage",
        method: Method::GET,
        template: "/v1/usage",
        scope: AccountRead,
        query: &[DAYS],
        body: None,
        summary: "Usage statistics of the account",
        reply: Reply::Data(schema::<UsageData>),
        errors: &[400],
        handler: handlers::usage,
    },
    Operation {
        id: "getAccount",
        method: Method::GET,
        template: "/v1/user/account",
        scope: AccountRead,
        query: NONE,
        body: None,
        summary: "The account of the calling key",
        reply: Reply::Data(schema::<AccountData>),
        errors: &[],
        handler: handlers::account,
    },
    Operation {
        id: "getBilling",
        method: Method::GET,
        template: "/v1/user/billing",
        scope: AccountRead,
        query: NONE,
        body: None,
        summary: "Plan and credit balance of the account",
        reply: Reply::Data(schema::<BillingData>),
        errors: &[],
        handler: handlers::billing,
    },
    Operation {
        id: "estimateCost",
        method: Method::GET,
        template: "/v1/estimate/{model_identifier}",
        scope: LibraryRead,
        query: &[
            COUNT,
            q("duration", Number, "Video duration in seconds"),
            q("resolution", Str, "Video resolution"),
            q("audio", Boolean, "Whether the video has audio"),
        ],
        body: None,
        summary: "Estimate the cost of a generation",
        reply: Reply::Data(schema::<EstimateData>),
        errors: &[400, 404],
        handler: generation::estimate,
    },
    Operation {
        id: "generateImage",
        method: Method::POST,
        template: "/v1/generate/image/{model_identifier}",
        scope: GenerationWrite,
        query: NONE,
        body: Some(schema::<GenerateImageRequest>),
        summary: "Start an image generation",
        reply: Reply::Data(schema::<GenerationStarted>),
        errors: &[400, 402, 404, 409],
        handler: generation::generate_image,
    },
    Operation {
        id: "generateVideo",
        method: Method::POST,
        template: "/v1/generate/video/{model_identifier}",
        scope: GenerationWrite,
        query: NONE,
        body: Some(schema::<GenerateVideoRequest>),
        summary: "Start a video generation",
        reply: Reply::Data(schema::<GenerationStarted>),
        errors: &[400, 402, 404, 409],
        handler: generation::generate_video,
    },
    Operation {
        id: "listContent",
        method: Method::GET,
        template: "/v1/content/list",
        scope: GenerationRead,
        query: &[LIMIT, OFFSET],
        body: None,
        summary: "List generations, newest first",
        reply: Reply::Page(schema::<GenerationListOut>),
        errors: &[400],
        handler: generation::list_content,
    },
    Operation {
        id: "getContent",
        method: Method::GET,
        template: "/v1/content/{generation_id}",
        scope: GenerationRead,
        query: NONE,
        body: None,
        summary: "One generation record",
        reply: Reply::Data(schema::<GenerationRecord>),
        errors: &[404],
        handler: generation::get_content,
    },
    Operation {
        id: "deleteContent",
        method: Method::DELETE,
        template: "/v1/content/{generation_id}",
        scope: GenerationDelete,
        query: NONE,
        body: None,
        summary: "Delete a generation and its files",
        reply: Reply::Data(schema::<GenerationDeleted>),
        errors: &[404],
        handler: generation::delete_content,
    },
    Operation {
        id: "cancelGeneration",
        method: Method::POST,
        template: "/v1/content/generation/cancel/{generation_id}",
        scope: GenerationDelete,
        query: NONE,
        body: None,
        summary: "Cancel a pending or processing generation",
        reply: Reply::Data(schema::<GenerationCanceled>),
        errors: &[404, 409],
        handler: generation::cancel,
    },
    Operation {
        id: "listModels",
        method: Method::GET,
        template: "/v1/library/models",
        scope: LibraryRead,
        query: NONE,
        body: None,
        summary: "The model catalog",
        reply: Reply::Data(schema::<ModelList>),
        errors: &[],
        handler: generation::library_models,
    },
    Operation {
        id: "listProviders",
        method: Method::GET,
        template: "/v1/library/providers",
        scope: LibraryRead,
        query: NONE,
        body: None,
        summary: "The inference providers",
        reply: Reply::Data(schema::<ProviderList>),
        errors: &[],
        handler: generation::library_providers,
    },
    Operation {
        id: "getProvidersHealth",
        method: Method::GET,
        template: "/v1/health/inference/providers",
        scope: HealthRead,
        query: NONE,
        body: None,
        summary: "Circuit-breaker state of each provider",
        reply: Reply::Data(schema::<ProvidersHealth>),
        errors: &[],
        handler: generation::providers_health,
    },
    Operation {
        id: "getModelsHealth",
        method: Method::GET,
        template: "/v1/health/inference/models",
        scope: HealthRead,
        query: NONE,
        body: None,
        summary: "Availability of each model per provider",
        reply: Reply::Data(schema::<ModelsHealth>),
        errors: &[],
        handler: generation::models_health,
    },
    Operation {
        id: "getStorageHealth",
        method: Method::GET,
        template: "/v1/health/storage",
        scope: HealthRead,
        query: NONE,
        body: None,
        summary: "Probe the media store",
        reply: Reply::Data(schema::<StorageHealth>),
        errors: &[],
        handler: generation::storage_health,
    },
    Operation {
        id: "getCacheHealth",
        method: Method::GET,
        template: "/v1/health/cache",
        scope: HealthRead,
        query: NONE,
        body: None,
        summary: "Probe the SQLite store",
        reply: Reply::Data(schema::<CacheHealth>),
        errors: &[],
        handler: generation::cache_health,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_seventeen_distinct_operations() {
        let mut seen: Vec<(String, &str)> = OPERATIONS
            .iter()
            .map(|o| (o.method.to_string(), o.template))
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 17);
        let mut ids: Vec<&str> = OPERATIONS.iter().map(|o| o.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 17);
    }

    #[test]
    fn no_get_takes_a_body() {
        // A GET may be decided twice (see `dispatch`); its body is read only the first time.
        assert!(
            OPERATIONS
                .iter()
                .filter(|o| o.method == Method::GET)
                .all(|o| o.body.is_none())
        );
    }
}
