//! The BabySea-compatible /v1 API.

pub(crate) mod dispatch;
pub(crate) mod firewall;
pub(crate) mod generation;
pub(crate) mod handlers;
pub(crate) mod openapi;
pub(crate) mod operation;
pub(crate) mod request;
pub(crate) mod routes;
