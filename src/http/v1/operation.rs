//! What an operation of the /v1 API is: its method and path, the scope it needs, its query
//! parameters and body, the shape of its answer and the errors it may give. The route table
//! (`routes`) lists the seventeen; the firewall, the dispatcher and the OpenAPI document read
//! them.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::Method;

use super::request::{V1Reply, V1Request};
use crate::domain::Scope;
use crate::http::error::ApiError;
use crate::http::openapi::SchemaOf;
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

/// The `data` of a success: the schema of its wire type.
#[derive(Clone, Copy, Debug)]
pub enum Reply {
    Data(SchemaOf),
    /// In the paginated envelope (`total`, `limit`, `offset` beside `data`).
    Page(SchemaOf),
}

pub struct Operation {
    pub id: &'static str,
    pub method: Method,
    /// Path template; `{generation_id}` is a UUID, `{model_identifier}` is `owner/name`.
    pub template: &'static str,
    pub scope: Scope,
    pub query: &'static [QueryParam],
    /// The JSON body the operation takes, if it takes one.
    pub body: Option<SchemaOf>,
    pub summary: &'static str,
    pub reply: Reply,
    /// Statuses the handler itself may answer; those of the pipeline every operation shares
    /// are added by the OpenAPI document.
    pub errors: &'static [u16],
    pub handler: Handler,
}

impl QueryParam {
    /// This integer query parameter of `req`, within its bounds (the firewall has already checked its type).
    pub fn int(&self, req: &V1Request) -> Result<i64, ApiError> {
        let bounds = self.bounds.unwrap_or(Bounds::ANY);
        crate::http::query::bounded_int(
            self.name,
            req.query_value(self.name),
            bounds.default,
            bounds.range(),
        )
    }

    /// This integer query parameter of `req`, clamped into its bounds instead of refused.
    pub fn clamped(&self, req: &V1Request) -> i64 {
        let bounds = self.bounds.unwrap_or(Bounds::ANY);
        req.query_value(self.name)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(bounds.default)
            .clamp(bounds.min, bounds.max)
    }
}

pub const fn q(name: &'static str, ty: QueryType, description: &'static str) -> QueryParam {
    QueryParam {
        name,
        ty,
        description,
        bounds: None,
    }
}

pub const fn int(
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
