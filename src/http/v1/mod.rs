//! The BabySea-compatible /v1 API.

pub mod dispatch;
pub mod firewall;
pub mod generation;
pub mod handlers;
pub mod openapi;
pub mod operation;
pub mod request;
pub mod routes;
