//! The 17 operations of the /v1 API: one table that drives the router, the scope map, the schema
//! firewall and the OpenAPI document.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::Method;

use super::generation;
use super::handlers::{self, V1Reply, V1Request};
use crate::domain::Scope;
use crate::http::error::ApiError;
use crate::service::usage::MAX_DAYS;

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
    /// A whole number's default and range; what the handler does outside it is in `description`.
    pub bounds: Option<Bounds>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    pub default: i64,
    pub min: i64,
    pub max: i64,
}

impl Bounds {
    pub const ANY: Bounds = Bounds {
        default: 0,
        min: i64::MIN,
        max: i64::MAX,
    };

    pub fn range(self) -> std::ops::RangeInclusive<i64> {
        self.min..=self.max
    }
}

/// The `data` of a success, named by its schema in the OpenAPI document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    Data(&'static str),
    /// In the paginated envelope (`total`, `limit`, `offset` beside `data`).
    Page(&'static str),
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
    pub reply: Reply,
    /// Statuses the handler itself may answer; those of the pipeline every operation shares
    /// are added by the OpenAPI document.
    pub errors: &'static [u16],
    pub handler: Handler,
}

const fn q(name: &'static str, ty: QueryType, description: &'static str) -> QueryParam {
    QueryParam {
        name,
        ty,
        description,
        bounds: None,
    }
}

const fn int(
    name: &'static str,
    (default, min, max): (i64, i64, i64),
    description: &'static str,
) -> QueryParam {
    QueryParam {
        name,
        ty: QueryType::Integer,
        description,
        bounds: Some(Bounds { default, min, max }),
    }
}

pub const DAYS: QueryParam = int("days", (30, 1, MAX_DAYS), "Days to cover");
pub const COUNT: QueryParam = int(
    "count",
    (1, 1, 100),
    "Number of assets; a value outside 1-100 is clamped",
);
pub const LIMIT: QueryParam = int("limit", (50, 1, 100), "Page size");
pub const OFFSET: QueryParam = int("offset", (0, 0, i64::MAX), "Generations to skip");

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
        body: false,
        summary: "Check the connection and describe the calling key",
        reply: Reply::Data("StatusData"),
        errors: &[],
        handler: handlers::status,
    },
    Operation {
        id: "getUsage",
        method: Method::GET,
        template: "/v1/usage",
        scope: AccountRead,
        query: &[DAYS],
        body: false,
        summary: "Usage statistics of the account",
        reply: Reply::Data("UsageData"),
        errors: &[400],
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
        reply: Reply::Data("AccountData"),
        errors: &[],
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
        reply: Reply::Data("BillingData"),
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
        body: false,
        summary: "Estimate the cost of a generation",
        reply: Reply::Data("EstimateData"),
        errors: &[400, 404],
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
        reply: Reply::Data("GenerationStarted"),
        errors: &[400, 402, 404, 409],
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
        reply: Reply::Data("GenerationStarted"),
        errors: &[400, 402, 404, 409],
        handler: generation::generate_video,
    },
    Operation {
        id: "listContent",
        method: Method::GET,
        template: "/v1/content/list",
        scope: GenerationRead,
        query: &[LIMIT, OFFSET],
        body: false,
        summary: "List generations, newest first",
        reply: Reply::Page("GenerationList"),
        errors: &[400],
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
        reply: Reply::Data("GenerationRecord"),
        errors: &[404],
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
        reply: Reply::Data("GenerationDeleted"),
        errors: &[404],
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
        reply: Reply::Data("GenerationCanceled"),
        errors: &[404, 409],
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
        reply: Reply::Data("ModelList"),
        errors: &[],
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
        reply: Reply::Data("ProviderList"),
        errors: &[],
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
        reply: Reply::Data("ProvidersHealth"),
        errors: &[],
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
        reply: Reply::Data("ModelsHealth"),
        errors: &[],
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
        reply: Reply::Data("StorageHealth"),
        errors: &[],
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
        reply: Reply::Data("CacheHealth"),
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
                .all(|o| !o.body)
        );
    }
}
