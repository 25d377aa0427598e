//! Generations on several nodes of one PostgreSQL store: each runs once whichever node takes
//! it, any node shows and cancels it, one a killed node left is failed and refunded, and the
//! in-flight cap is the account's across nodes. PostgreSQL only, like the rest of `cluster`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::cluster::{Cluster, cluster};

/// The fake upstreams of `upstream::catalog` (the queue holding every generation), and the
/// catalog file that names them, for nodes started with `TIDEGATE_GENERATION__CATALOG`.
pub struct SlowCatalog {
    upstreams: [crate::upstream::Upstream; 3],
    dir: tempfile::TempDir,
}

impl SlowCatalog {
    pub async fn start() -> SlowCatalog {
        use crate::upstream::{self, Mode};
        let upstreams = [
            upstream::start(Mode::Ok).await,
            upstream::start(Mode::Ok).await,
            upstream::start(Mode::Hold).await,
        ];
        let dir = tempfile::tempdir().unwrap();
        let [alpha, beta, queue] = &upstreams;
        std::fs::write(
            dir.path().join("models.toml"),
            upstream::catalog(&alpha.url, &beta.url, &queue.url),
        )
        .unwrap();
        SlowCatalog { upstreams, dir }
    }

    /// The `http_async` upstream serving `remote/slow`.
    pub fn queue(&self) -> &crate::upstream::Upstream {
        &self.upstreams[2]
    }

    pub fn path(&self) -> String {
        self.dir
            .path()
            .join("models.toml")
            .to_str()
            .unwrap()
            .to_owned()
    }
}

#[tokio::test]
async fn a_generation_runs_once_any_node_shows_it_and_its_event_is_delivered_once() {
    let receiver = crate::receiver::start();
    let Some(cluster) = cluster(3, &[]).await else {
        return;
    };
    let out = cluster.cli(&[
        "credits",
        "add",
        "--account",
        &cluster.account_id,
        "--amount",
        "10",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let endpoint = cluster.cli_json(&[
        "webhooks",
        "add",
        "--account",
        &cluster.account_id,
        "--url",
        &receiver.url,
        "--events",
        "generation.completed",
    ]);
    receiver.expect_secret(endpoint["secret"].as_str().unwrap());
    let (_, key) = cluster.create_key("full_access");

    // Six generations, two submitted through each node.
    let mut ids = Vec::new();
    for node in [0, 1, 2, 0, 1, 2] {
        let (status, body) = cluster
            .post(
                node,
                "/v1/generate/image/tidegate/gradient-1",
                &key,
                &json!({ "generation_prompt": "a lighthouse" }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["data"]["generation_id"].as_str().unwrap().to_owned());
    }
    for (i, id) in ids.iter().enumerate() {
        // Read through another node than the one that took it.
        let node = (i + 1) % 3;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, body) = cluster.get(node, &format!("/v1/content/{id}"), &key).await;
            assert_eq!(status, 200, "{body}");
            if body["data"]["generation_status"] == "succeeded" {
                break;
            }
            assert!(Instant::now() < deadline, "{id} did not succeed: {body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let attempts = cluster.count(
            "SELECT count(*) FROM generation_attempts WHERE generation_id = ?1",
            &[id],
        );
        assert_eq!(attempts, 1, "{id} ran once");
    }
    // Each completion was delivered once, by whichever node sent it.
    cluster
        .until("six deliveries", Duration::from_secs(20), || {
            receiver.of("generation.completed").len() >= 6
        })
        .await;
    let mut delivered: Vec<String> = receiver
        .of("generation.completed")
        .iter()
        .map(|r| {
            r.body["webhook_data"]["generation_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    delivered.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(delivered, expected, "each event once");
    let sent = cluster.count("SELECT count(*) FROM webhook_deliveries", &[]);
    assert_eq!(sent, 6);
    let out = cluster.cli(&["check"]);
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
}

#[tokio::test]
async fn any_node_cancels_a_generation_and_one_a_killed_node_left_is_failed_and_refunded() {
    let fakes = SlowCatalog::start().await;
    let catalog = fakes.path();
    let Some(mut cluster) = cluster(2, &[("TIDEGATE_GENERATION__CATALOG", &catalog)]).await else {
        return;
    };
    let out = cluster.cli(&[
        "credits",
        "add",
        "--account",
        &cluster.account_id,
        "--amount",
        "1",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let (_, key) = cluster.create_key("full_access");
    let balance = "SELECT credit_balance FROM accounts WHERE id = ?1";
    let full = cluster.count(balance, &[&cluster.account_id]);
    let mut running = Vec::new();
    for _ in 0..2 {
        let (status, body) = cluster
            .post(
                0,
                "/v1/generate/image/remote/slow",
                &key,
                &json!({ "generation_prompt": "a lighthouse" }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let id = body["data"]["generation_id"].as_str().unwrap().to_owned();
        cluster
            .until("the generation to start", Duration::from_secs(10), || {
                status_of(&cluster, &id) == "processing"
            })
            .await;
        running.push(id);
    }
    assert!(cluster.count(balance, &[&cluster.account_id]) < full);

    // Node 1 cancels what node 0 runs; node 0 shows it canceled and refunded.
    let (status, body) = cluster
        .post(
            1,
            &format!("/v1/content/generation/cancel/{}", running[0]),
            &key,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, shown) = cluster
        .get(0, &format!("/v1/content/{}", running[0]), &key)
        .await;
    assert_eq!(shown["data"]["generation_status"], "canceled", "{shown}");
    // Node 0 heard of it and stopped the provider's prediction.
    cluster
        .until("the upstream to be told", Duration::from_secs(5), || {
            fakes.queue().cancels() >= 1
        })
        .await;

    // Node 0 dies with the other one running: node 1 fails and refunds it once the lease
    // (10 s) has run out.
    let (mut killed, _) = cluster.nodes.remove(0);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    let started = Instant::now();
    cluster
        .until("the orphan to fail", Duration::from_secs(20), || {
            status_of(&cluster, &running[1]) == "failed"
        })
        .await;
    let taken = started.elapsed();
    assert!(
        taken >= Duration::from_secs(5),
        "not before the lease ran out: {taken:?}"
    );
    let (_, shown) = cluster
        .get(0, &format!("/v1/content/{}", running[1]), &key)
        .await;
    assert_eq!(shown["data"]["generation_status"], "failed", "{shown}");
    assert_eq!(
        cluster.count(balance, &[&cluster.account_id]),
        full,
        "both refunded"
    );
    let out = cluster.cli(&["check"]);
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    drop(killed);
}

fn status_of(cluster: &Cluster, id: &str) -> String {
    cluster
        .db()
        .query_row(
            "SELECT status FROM generations WHERE id = ?1",
            &[&id],
            |r| r.get(0),
        )
        .unwrap()
}

#[tokio::test]
async fn the_in_flight_cap_holds_across_nodes() {
    let fakes = SlowCatalog::start().await;
    let catalog = fakes.path();
    let env = [
        ("TIDEGATE_GENERATION__CATALOG", catalog.as_str()),
        ("TIDEGATE_PLANS__CAPPED__MAX_IN_FLIGHT", "2"),
        ("TIDEGATE_ACCOUNTS__DEFAULT_PLAN", "capped"),
    ];
    let Some(cluster) = cluster(3, &env).await else {
        return;
    };
    let out = cluster.cli(&[
        "credits",
        "add",
        "--account",
        &cluster.account_id,
        "--amount",
        "1",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let (_, key) = cluster.create_key("full_access");
    let mut accepted = 0;
    for i in 0..6 {
        let (status, body) = cluster
            .post(
                i % 3,
                "/v1/generate/image/remote/slow",
                &key,
                &json!({ "generation_prompt": "a lighthouse" }),
            )
            .await;
        match status {
            200 => accepted += 1,
            429 => {}
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(
        accepted, 2,
        "the cap is the account's, whichever node takes the request"
    );
}

/// A cancel whose notification the running node never heard (sent while its listener was
/// reconnecting, or written by hand) still stops the provider call: the node checks what it
/// runs against the store every few seconds.
#[tokio::test]
async fn a_cancel_the_running_node_did_not_hear_of_still_stops_its_provider_call() {
    let fakes = SlowCatalog::start().await;
    let catalog = fakes.path();
    let Some(cluster) = cluster(1, &[("TIDEGATE_GENERATION__CATALOG", &catalog)]).await else {
        return;
    };
    let out = cluster.cli(&[
        "credits",
        "add",
        "--account",
        &cluster.account_id,
        "--amount",
        "1",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let (_, key) = cluster.create_key("full_access");
    let (status, body) = cluster
        .post(
            0,
            "/v1/generate/image/remote/slow",
            &key,
            &json!({ "generation_prompt": "a lighthouse" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["data"]["generation_id"].as_str().unwrap().to_owned();
    cluster
        .until("the generation to start", Duration::from_secs(10), || {
            status_of(&cluster, &id) == "processing"
        })
        .await;
    // Canceled in the store with no notification at all.
    cluster
        .db()
        .execute(
            "UPDATE generations SET status = 'canceled' WHERE id = ?1",
            &[&id],
        )
        .unwrap();
    let started = Instant::now();
    cluster
        .until("the upstream to be told", Duration::from_secs(10), || {
            fakes.queue().cancels() >= 1
        })
        .await;
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "a cancel no node heard of stopped the provider call after {:?}",
        started.elapsed()
    );
}
