//! Integration tests: the real server on port 0, the real binary, the real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abuse;
mod admin_cli;
mod admin_keys;
mod admin_logs;
mod admin_members;
mod admin_pages;
mod bad_input;
mod browser;
mod contract;
mod faults;
mod generation;
mod helpers;
mod jobs;
mod keys_cli;
mod limits;
mod management;
mod management_access;
mod openapi;
mod people;
mod pipeline;
mod request_log;
mod routes;
mod startup;
mod upstream;
mod webdriver;
