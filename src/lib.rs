//! Tidegate: a self-hosted API-key appliance serving a BabySea-compatible /v1 API from one
//! SQLite file.

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod providers;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod wire;
