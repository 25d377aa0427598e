//! The 17 operations of the /v1 API: one table that drives the router, the scope map, the schema
//! firewall and the OpenAPI document.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::Method;

use super::generation;
use super::handlers::{self, V1Reply, V1Request};
use crate::domain::Scope;
use crate::http::error::ApiError;

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<V1Reply, ApiError>>>>;
pub type Handler = fn(V1Request) -> HandlerFuture;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryType {
    Integer,
    Number,
    String,
    Boolean,
}

#[derive(Debug)]
pub struct QueryParam {
    pub name: &'static str,
    pub ty: QueryType,
    pub description: &'static str,
}

pub struct Operation {
    pub id: &'static str,
    pub method: Method,
    /// Path template; `{generation_id}` is a UUID, `{model_identifier}` is `owner/name`.
    pub template: &'static str,
    pub scope: Scope,
    pub query: &'static [QueryParam],
    /// Whether the operation takes a JSON body.
    pub body: bool,
    pub summary: &'static str,
    pub handler: Handler,
}

const fn q(name: &'static str, ty: QueryType, description: &'static str) -> QueryParam {
    QueryParam {
        name,
        ty,
        description,
    }
}

use QueryType::{Boolean, Integer, Number, String as Str};
use Scope::*;

const NONE: &[QueryParam] = &[];

pub static OPERATIONS: [Operation; 17] = [
    Operation {
        id: "getStatus",
        method: Method::GET,
        template: "/v1/status",
        scope: AccountRead,
        query: NONE,
        body: false,
        summary: "Check the connection and describe the calling key",
        handler: handlers::status,
    },
    Operation {
        id: "getUsage",
        method: Method::GET,
        template: "/v1/usage",
        scope: AccountRead,
        query: &[q("days", Integer, "Days to cover, 1-90 (default 30)")],
        body: false,
        summary: "Usage statistics of the account",
        handler: handlers::usage,
    },
    Operation {
        id: "getAccount",
        method: Method::GET,
        template: "/v1/user/account",
        scope: AccountRead,
        query: NONE,
        body: false,
        summary: "The account of the calling key",
        handler: handlers::account,
    },
    Operation {
        id: "getBilling",
        method: Method::GET,
        template: "/v1/user/billing",
        scope: AccountRead,
        query: NONE,
        body: false,
        summary: "Plan and credit balance of the account",
        handler: handlers::billing,
    },
    Operation {
        id: "estimateCost",
        method: Method::GET,
        template: "/v1/estimate/{model_identifier}",
        scope: LibraryRead,
        query: &[
            q(
                "count",
                Integer,
                "Number of generations, clamped to 1-100 (default 1)",
            ),
            q("duration", Number, "Video duration in seconds"),
            q("resolution", Str, "Video resolution"),
            q("audio", Boolean, "Whether the video has audio"),
        ],
        body: false,
        summary: "Estimate the cost of a generation",
        handler: generation::estimate,
    },
    Operation {
        id: "generateImage",
        method: Method::POST,
        template: "/v1/generate/image/{model_identifier}",
        scope: GenerationWrite,
        query: NONE,
        body: true,
        summary: "Start an image generation",
        handler: generation::generate_image,
    },
    Operation {
        id: "generateVideo",
        method: Method::POST,
        template: "/v1/generate/video/{model_identifier}",
        scope: GenerationWrite,
        query: NONE,
        body: true,
        summary: "Start a video generation",
        handler: generation::generate_video,
    },
    Operation {
        id: "listContent",
        method: Method::GET,
        template: "/v1/content/list",
        scope: GenerationRead,
        query: &[
            q("limit", Integer, "Page size, 1-100 (default 50)"),
            q("offset", Integer, "Rows to skip (default 0)"),
        ],
        body: false,
        summary: "List generations, newest first",
        handler: generation::list_content,
    },
    Operation {
        id: "getContent",
        method: Method::GET,
        template: "/v1/content/{generation_id}",
        scope: GenerationRead,
        query: NONE,
        body: false,
        summary: "One generation record",
        handler: generation::get_content,
    },
    Operation {
        id: "deleteContent",
        method: Method::DELETE,
        template: "/v1/content/{generation_id}",
        scope: GenerationDelete,
        query: NONE,
        body: false,
        summary: "Delete a generation and its files",
        handler: generation::delete_content,
    },
    Operation {
        id: "cancelGeneration",
        method: Method::POST,
        template: "/v1/content/generation/cancel/{generation_id}",
        scope: GenerationDelete,
        query: NONE,
        body: false,
        summary: "Cancel a pending or processing generation",
        handler: generation::cancel,
    },
    Operation {
        id: "listModels",
        method: Method::GET,
        template: "/v1/library/models",
        scope: LibraryRead,
        query: NONE,
        body: false,
        summary: "The model catalog",
        handler: generation::library_models,
    },
    Operation {
        id: "listProviders",
        method: Method::GET,
        template: "/v1/library/providers",
        scope: LibraryRead,
        query: NONE,
        body: false,
        summary: "The inference providers",
        handler: generation::library_providers,
    },
    Operation {
        id: "getProvidersHealth",
        method: Method::GET,
        template: "/v1/health/inference/providers",
        scope: HealthRead,
        query: NONE,
        body: false,
        summary: "Circuit-breaker state of each provider",
        handler: generation::providers_health,
    },
    Operation {
        id: "getModelsHealth",
        method: Method::GET,
        template: "/v1/health/inference/models",
        scope: HealthRead,
        query: NONE,
        body: false,
        summary: "Availability of each model per provider",
        handler: generation::models_health,
    },
    Operation {
        id: "getStorageHealth",
        method: Method::GET,
        template: "/v1/health/storage",
        scope: HealthRead,
        query: NONE,
        body: false,
        summary: "Probe the media store",
        handler: generation::storage_health,
    },
    Operation {
        id: "getCacheHealth",
        method: Method::GET,
        template: "/v1/health/cache",
        scope: HealthRead,
        query: NONE,
        body: false,
        summary: "Probe the SQLite store",
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
                .all(|o| !o.body)
        );
    }
}
