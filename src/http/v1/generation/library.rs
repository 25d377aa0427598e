//! The model and provider library.

use crate::http::v1::operation::HandlerFuture;
use crate::http::v1::request::{V1Reply, V1Request};
use crate::wire::library::{ModelList, ProviderList};

pub fn library_models(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        Ok(V1Reply::ok(
            "Models retrieved successfully",
            ModelList::of(&req.state.roster),
        ))
    })
}

pub fn library_providers(req: V1Request) -> HandlerFuture {
    Box::pin(async move {
        Ok(V1Reply::ok(
            "Providers retrieved successfully",
            ProviderList::of(&req.state.roster),
        ))
    })
}
