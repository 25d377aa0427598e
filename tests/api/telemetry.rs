//! Log lines of a request carry the request's span: its id, method, route and key.

use std::process::Stdio;

use serde_json::Value;

use crate::helpers::run_binary;
use crate::startup::{start_binary_logging, stop_with};

backend_tests!(every_log_line_of_a_request_carries_its_id_method_route_and_key);
async fn every_log_line_of_a_request_carries_its_id_method_route_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let field = |out: &str, name: &str| -> String {
        let v: Value = serde_json::from_str(out).unwrap();
        v[name].as_str().unwrap().to_owned()
    };
    // The server makes the store; the commands work on it beside the server.
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let env = [
        ("TIDEGATE_TELEMETRY__LEVEL", "debug"),
        ("TIDEGATE_TELEMETRY__FORMAT", "json"),
    ];
    let (mut running, address) = start_binary_logging(dir.path(), &env, Stdio::from(log));
    let account = run_binary(
        &data,
        &[
            "accounts",
            "create",
            "--name",
            "spans",
            "--owner",
            "ops@example.com",
            "--json",
        ],
        &[],
    );
    let account = field(&account.stdout, "id");
    let key = run_binary(
        &data,
        &[
            "keys",
            "create",
            "--account",
            &account,
            "--name",
            "spans",
            "--preset",
            "full_access",
            "--json",
        ],
        &[],
    );
    let (secret, prefix) = (field(&key.stdout, "key"), field(&key.stdout, "key_prefix"));

    let response = reqwest::Client::new()
        .get(format!("{address}/v1/status"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(stop_with(&mut running, "-TERM"), 0);

    let log = std::fs::read_to_string(&log_path).unwrap();
    let line: Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| {
            l["fields"]["message"] == "request finished" && l["span"]["request_id"] == request_id
        })
        .unwrap_or_else(|| panic!("no line of {request_id}:\n{log}"));
    let span = &line["span"];
    assert_eq!(span["name"], "request", "{line}");
    assert_eq!(span["method"], "GET", "{line}");
    assert_eq!(span["route"], "/v1/status", "{line}");
    assert_eq!(span["key"], prefix, "{line}");
    assert_eq!(line["fields"]["status"], 200, "{line}");
    assert!(!log.contains(&secret), "the key leaked into the log");
}
