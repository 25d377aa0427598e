//! Several `tidegate serve` processes on one PostgreSQL store, as behind a load balancer: what
//! one node changes, every other node honours. PostgreSQL only (they skip without
//! `TIDEGATE_TEST_POSTGRES_URL`, like every PostgreSQL variant).

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::backend::{self, Backend};
use crate::helpers::{Cli, run_binary};
use crate::startup::{Running, start_binary_logging, stop_with};

/// Nodes sharing one store: one data directory (its media and the file naming the schema) and
/// one database schema.
pub struct Cluster {
    root: tempfile::TempDir,
    pub nodes: Vec<(Running, String)>,
    pub client: reqwest::Client,
    pub account_id: String,
}

impl Cluster {
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.root.path().join("data")
    }

    pub fn cli(&self, args: &[&str]) -> Cli {
        run_binary(&self.data_dir(), args, &[])
    }

    pub fn cli_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.cli(&all);
        assert_eq!(out.status, 0, "tidegate {args:?}: {}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    }

    pub fn url(&self, node: usize) -> &str {
        &self.nodes[node].1
    }

    /// A key of the cluster's account: (id, secret).
    pub fn create_key(&self, preset: &str) -> (String, String) {
        let key = self.cli_json(&[
            "keys",
            "create",
            "--account",
            &self.account_id,
            "--name",
            preset,
            "--preset",
            preset,
        ]);
        (
            key["id"].as_str().unwrap().to_owned(),
            key["key"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn status(&self, node: usize, key: &str) -> u16 {
        self.client
            .get(format!("{}/v1/status", self.url(node)))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    pub async fn api(
        &self,
        node: usize,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(
                method.parse().unwrap(),
                format!("{}/api/v1{path}", self.url(node)),
            )
            .bearer_auth(key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// How long until every other node than `from` answers `key` with `wanted`; panics past
    /// `within`.
    pub async fn propagation(&self, key: &str, wanted: u16, within: Duration) -> Duration {
        let started = Instant::now();
        for node in 0..self.nodes.len() {
            loop {
                if self.status(node, key).await == wanted {
                    break;
                }
                assert!(
                    started.elapsed() < within,
                    "node {node} still does not answer {wanted} after {within:?}"
                );
                tokio::task::yield_now().await;
            }
        }
        started.elapsed()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (running, _) in &mut self.nodes {
            let _ = running.child.kill();
            let _ = running.child.wait();
        }
    }
}

/// Starts `n` nodes on a new schema with `env` on top of the store settings, and an account.
pub async fn cluster(n: usize, env: &[(&str, &str)]) -> Option<Cluster> {
    if backend::postgres_url().is_none() {
        Backend::Postgres.run(async {}).await;
        return None;
    }
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    backend::provision(&data);
    let store: Vec<(String, String)> = backend::store_env(&data);
    let mut all: Vec<(&str, &str)> = store
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend_from_slice(env);
    let nodes = (0..n)
        .map(|_| start_binary_logging(root.path(), &all, Stdio::inherit()))
        .collect();
    let mut cluster = Cluster {
        root,
        nodes,
        client: reqwest::Client::new(),
        account_id: String::new(),
    };
    let account = cluster.cli_json(&["accounts", "create", "--name", "Acme"]);
    cluster.account_id = account["id"].as_str().unwrap().to_owned();
    Some(cluster)
}

#[tokio::test]
async fn a_key_change_made_through_any_node_is_honoured_by_every_node_within_a_second() {
    let Some(cluster) = cluster(3, &[]).await else {
        return;
    };
    let (_, manager) = cluster.create_key("key_management");
    let (id, secret) = cluster.create_key("full_access");
    for node in 0..3 {
        assert_eq!(cluster.status(node, &secret).await, 200, "node {node}");
    }
    let within = Duration::from_secs(1);
    let mut times = Vec::new();

    // Disabled through node 1, enabled again through node 2.
    let (status, _) = cluster
        .api(
            1,
            "PATCH",
            &format!("/api-keys/{id}"),
            &manager,
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(status, 200);
    times.push(cluster.propagation(&secret, 401, within).await);
    let (status, _) = cluster
        .api(
            2,
            "PATCH",
            &format!("/api-keys/{id}"),
            &manager,
            Some(json!({ "disabled": false })),
        )
        .await;
    assert_eq!(status, 200);
    times.push(cluster.propagation(&secret, 200, within).await);

    // Rotated through node 0: the new key works everywhere, the old one until it expires.
    let (status, rotated) = cluster
        .api(0, "POST", &format!("/api-keys/{id}/rotate"), &manager, None)
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["data"]["key"].as_str().unwrap().to_owned();
    let new_id = rotated["data"]["id"].as_str().unwrap().to_owned();
    times.push(cluster.propagation(&new_secret, 200, within).await);
    let (status, _) = cluster
        .api(1, "POST", &format!("/api-keys/{id}/expire"), &manager, None)
        .await;
    assert_eq!(status, 200);
    times.push(cluster.propagation(&secret, 401, within).await);

    // Revoked from the command line (another process again), then deleted through node 2.
    let (other_id, other) = cluster.create_key("full_access");
    times.push(cluster.propagation(&other, 200, within).await);
    let out = cluster.cli(&["keys", "revoke", &other_id]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    times.push(cluster.propagation(&other, 401, within).await);
    let (status, _) = cluster
        .api(2, "DELETE", &format!("/api-keys/{new_id}"), &manager, None)
        .await;
    assert_eq!(status, 200);
    times.push(cluster.propagation(&new_secret, 401, within).await);

    let slowest = times.iter().max().unwrap();
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "key changes reached all 3 nodes in {times:?} (slowest {slowest:?})"
    );
}

#[tokio::test]
async fn a_sign_in_on_one_node_is_a_session_on_every_node() {
    let Some(cluster) = cluster(2, &[("TIDEGATE_ADMIN_PASSWORD", "cluster-secret-1")]).await
    else {
        return;
    };
    // A browser keeps one cookie jar for the host, whatever the port.
    let browser = crate::people::browser();
    let form = browser
        .get(format!("{}/login", cluster.url(0)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::people::csrf_in(&form);
    let res = browser
        .post(format!("{}/login", cluster.url(0)))
        .form(&[
            ("email", "admin@localhost"),
            ("password", "cluster-secret-1"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "signed in on node 0");
    for node in 0..2 {
        let res = browser
            .get(format!("{}/keys", cluster.url(node)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "the session holds on node {node}");
    }
    let mut cluster = cluster;
    let (mut first, _) = cluster.nodes.remove(0);
    assert_eq!(stop_with(&mut first, "-TERM"), 0);
    let res = browser
        .get(format!("{}/keys", cluster.url(0)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "and outlives the node it began on");
}
