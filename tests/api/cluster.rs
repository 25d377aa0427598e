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
    /// What the nodes were started with on top of the store settings; commands get it too.
    env: Vec<(String, String)>,
}

/// The cluster's schema goes when the test ends (see `backend::drop_schemas`).
impl Drop for Cluster {
    fn drop(&mut self) {
        backend::drop_schemas();
    }
}

impl Cluster {
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.root.path().join("data")
    }

    pub fn cli(&self, args: &[&str]) -> Cli {
        run_binary(&self.data_dir(), args, &self.cli_env())
    }

    /// What a command run against the cluster's store is given.
    pub fn cli_env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
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
        crate::helpers::api_call(&self.client, self.url(node), method, path, key, body).await
    }

    /// How long until every node answers `key` with `wanted`; panics past `within`.
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
        .map(|_| start_binary_logging(root.path(), &all, Stdio::null()))
        .collect();
    let mut cluster = Cluster {
        root,
        nodes,
        client: reqwest::Client::new(),
        account_id: String::new(),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
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
    let Some(cluster) = cluster(2, &[("TIDEGATE_ADMIN_PASSWORD", "cluster-secret-1")]).await else {
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

impl Cluster {
    pub async fn post(&self, node: usize, path: &str, key: &str, body: &Value) -> (u16, Value) {
        let res = self
            .client
            .post(format!("{}{path}", self.url(node)))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, node: usize, path: &str, key: &str) -> (u16, Value) {
        let res = self
            .client
            .get(format!("{}{path}", self.url(node)))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub fn db(&self) -> crate::backend::TestDb {
        crate::backend::TestDb::open(&self.data_dir())
    }

    pub fn count(&self, sql: &str, params: crate::backend::Params<'_>) -> i64 {
        self.db().query_row(sql, params, |r| r.get(0)).unwrap()
    }

    /// Polls `check` (every 20 ms) until it holds, for at most `within`.
    pub async fn until(&self, what: &str, within: Duration, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + within;
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_scheduled_job_runs_once_per_tick_however_many_nodes_follow_the_schedule() {
    let every_second = [("TIDEGATE_JOBS__PURGE_IDEMPOTENCY_KEYS", "* * * * * *")];
    let Some(cluster) = cluster(3, &every_second).await else {
        return;
    };
    let runs = "SELECT count(*) FROM job_runs WHERE job = 'purge-idempotency-keys'";
    cluster
        .until("four ticks", Duration::from_secs(10), || {
            cluster.count(runs, &[]) >= 4
        })
        .await;
    let ticks: Vec<(i64, String)> = cluster
        .db()
        .query_map(
            "SELECT tick, node FROM job_runs WHERE job = 'purge-idempotency-keys' ORDER BY tick",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // Three nodes fire every second; each second ran once, a second apart.
    for pair in ticks.windows(2) {
        assert!(pair[1].0 - pair[0].0 >= 1000, "{ticks:?}");
    }
    let span = ticks.last().unwrap().0 - ticks[0].0;
    assert_eq!(
        i64::try_from(ticks.len()).unwrap() - 1,
        span / 1000,
        "{ticks:?}"
    );
}

#[tokio::test]
async fn three_nodes_together_serve_no_more_than_the_plans_requests_per_minute() {
    let plan = [
        ("TIDEGATE_PLANS__CAPPED__REQUESTS_PER_MINUTE", "60"),
        ("TIDEGATE_ACCOUNTS__DEFAULT_PLAN", "capped"),
    ];
    let Some(cluster) = cluster(3, &plan).await else {
        return;
    };
    let (_, key) = cluster.create_key("full_access");
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..150 {
        let (client, url, key) = (
            cluster.client.clone(),
            cluster.url(i % 3).to_owned(),
            key.clone(),
        );
        calls.spawn(async move {
            let res = client
                .get(format!("{url}/v1/status"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            let reset = res
                .headers()
                .get("x-ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok());
            (res.status().as_u16(), reset)
        });
    }
    let mut served: std::collections::BTreeMap<i64, usize> = Default::default();
    let mut refused = 0;
    while let Some(done) = calls.join_next().await {
        match done.unwrap() {
            (200, Some(reset)) => *served.entry(reset).or_default() += 1,
            (429, _) => refused += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    // Per minute window, the three nodes together served at most the limit, and fell short of
    // it by less than a block (3 permits) per node.
    for (window, n) in &served {
        assert!(*n <= 60, "{n} served in the window ending at {window}");
    }
    let total: usize = served.values().sum();
    assert!(total >= 54, "only {total} served: {served:?}");
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "150 requests at once on 3 nodes with 60 a minute: {total} served, {refused} refused"
    );
    assert_eq!(total + refused, 150);
}

#[tokio::test]
async fn after_the_database_drops_every_connection_the_nodes_recover_without_serving_unlogged() {
    let Some(cluster) = cluster(2, &[]).await else {
        return;
    };
    let (id, key) = cluster.create_key("full_access");
    for node in 0..2 {
        assert_eq!(cluster.status(node, &key).await, 200);
    }
    let url = std::fs::read_to_string(cluster.data_dir().join(".test-postgres-url")).unwrap();
    let name = url.rsplit("application_name=").next().unwrap().to_owned();
    // As a restart or a failover of the database would: every connection of this store goes.
    let dropped = crate::backend::off_runtime(|| {
        let mut admin =
            postgres::Client::connect(&crate::backend::postgres_url().unwrap(), postgres::NoTls)
                .unwrap();
        admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                &[&name],
            )
            .unwrap()
            .len()
    });
    assert!(dropped >= 4, "{dropped} connections dropped");
    let served_rows = "SELECT count(*) FROM request_logs WHERE key_id = ?1 AND status_code = 200";
    let refused_rows = "SELECT count(*) FROM request_logs WHERE key_id = ?1 AND status_code = 503";
    let logged_before = cluster.count(served_rows, &[&id]);
    let (mut served, mut failed) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    for node in 0..2 {
        loop {
            let res = cluster
                .client
                .get(format!("{}/v1/status", cluster.url(node)))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            match res.status().as_u16() {
                200 => {
                    served += 1;
                    break;
                }
                503 => {
                    let body: Value = res.json().await.unwrap();
                    crate::helpers::assert_error(&body, "BSE5002");
                    failed += 1;
                }
                other => panic!("node {node} answered {other}"),
            }
            assert!(Instant::now() < deadline, "node {node} did not recover");
        }
    }
    // Every request that was served has its log row. A refusal is logged (as the 503 it got) when
    // its key was read and only its row could not be written then; one whose key could not be
    // read has no row.
    let logged = cluster.count(served_rows, &[&id]);
    assert_eq!(logged - logged_before, served, "{failed} failed on the way");
    assert!(cluster.count(refused_rows, &[&id]) <= failed);
}

/// TLS to the database: `sslmode=require` verifies the server's certificate. Needs the local
/// server's own certificate (Debian's snake-oil one, for `localhost`) and SSL on.
#[tokio::test]
async fn with_sslmode_require_the_store_is_reached_over_verified_tls() {
    let ca = std::path::Path::new("/etc/ssl/certs/ssl-cert-snakeoil.pem");
    let Some(base) = backend::postgres_url().filter(|u| u.contains("@127.0.0.1:")) else {
        return Backend::Postgres.run(async {}).await;
    };
    if !ca.exists() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "note: no {} here; TLS test skipped",
            ca.display()
        );
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let plain = backend::provision(data.path());
    let tls = format!(
        "{}&sslmode=require",
        plain.replace("@127.0.0.1:", "@localhost:")
    );
    let name = plain.rsplit("application_name=").next().unwrap().to_owned();
    let ca_file = ca.to_str().unwrap();
    let with = |url: &str, ca: Option<&str>| {
        let mut env = vec![
            ("TIDEGATE_STORAGE__BACKEND", "postgres"),
            ("TIDEGATE_STORAGE__POSTGRES_URL", url),
        ];
        if let Some(ca) = ca {
            env.push(("TIDEGATE_STORAGE__POSTGRES_CA_FILE", ca));
        }
        env.into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<Vec<_>>()
    };
    let run = |args: &[&str], env: &[(String, String)]| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_binary(data.path(), args, &env)
    };
    // A certificate the trusted one did not sign: refused, in one line. (The system's roots
    // would do here: Debian keeps the snake-oil certificate among them.)
    let other = std::fs::read_dir("/usr/share/ca-certificates/mozilla")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.path());
    let Some(other) = other else {
        return;
    };
    let other = other.to_str().unwrap().to_owned();
    let out = run(
        &["accounts", "create", "--name", "Acme"],
        &with(&tls, Some(&other)),
    );
    assert_eq!(out.status, 1, "{}", out.stdout);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot connect to PostgreSQL"),
        "{}",
        out.stderr
    );

    // Verified against the server's own certificate, a node serves over TLS (and made the
    // store), and the command line works on it over TLS too.
    let env = with(&tls, Some(ca_file));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (mut node, url) = start_binary_logging(data.path(), &env_refs, Stdio::null());
    let out = run(&["accounts", "create", "--name", "Acme", "--json"], &env);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let account: Value = serde_json::from_str(&out.stdout).unwrap();
    let key = run(
        &[
            "keys",
            "create",
            "--account",
            account["id"].as_str().unwrap(),
            "--name",
            "k",
            "--preset",
            "full_access",
            "--json",
        ],
        &env,
    );
    assert_eq!(key.status, 0, "{}", key.stderr);
    let key: Value = serde_json::from_str(&key.stdout).unwrap();
    let status = reqwest::Client::new()
        .get(format!("{url}/v1/status"))
        .bearer_auth(key["key"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let encrypted = backend::off_runtime(|| {
        let mut admin = postgres::Client::connect(&base, postgres::NoTls).unwrap();
        admin
            .query_one(
                "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s
                 JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1",
                &[&name],
            )
            .map(|row| (row.get::<_, i64>(0), row.get::<_, i64>(1)))
            .unwrap()
    });
    assert!(encrypted.1 >= 2, "{encrypted:?}");
    assert_eq!(
        encrypted.0, encrypted.1,
        "every connection of the node is TLS"
    );
    assert_eq!(stop_with(&mut node, "-TERM"), 0);
}
