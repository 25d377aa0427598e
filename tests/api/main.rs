//! Integration tests: the real server on port 0, the real binary, the real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// First, so that its `backend_tests!` is in scope in every module after it.
#[macro_use]
mod backend;

mod abuse;
mod admin_cli;
mod admin_keys;
mod admin_logs;
mod admin_members;
mod admin_pages;
mod architecture;
mod bad_input;
mod bench_seed;
mod browser;
mod cli_accounts;
mod cli_help;
mod cli_keys;
mod cli_store;
mod cli_users;
mod cluster;
mod cluster_generations;
mod contract;
mod docs;
mod faults;
mod form_errors;
mod generation_credits;
mod generation_flow;
mod generation_input;
mod generation_media;
mod generation_providers;
mod generation_record;
mod helpers;
mod jobs;
mod key_page;
mod keys_cli;
mod lighthouse;
mod limits;
mod management;
mod management_access;
mod migrate_store;
mod openapi;
mod openapi_management;
mod operators;
mod page_errors;
mod people;
mod pipeline;
mod receiver;
mod request_log;
mod routes;
mod startup;
mod telemetry;
mod upstream;
mod webdriver;
mod webhook_pages;
mod webhooks;
