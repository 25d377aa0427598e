//! The failure limiters beside other nodes (docs/cluster.md, "What each node keeps to itself"):
//! what a guesser reaches through one node is in force on every other (PostgreSQL only, like
//! `cluster.rs`; the nodes sit behind a trusted proxy on loopback, so requests can come from any
//! address), and what one node does when the store cannot count (both backends).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::backend::Backend;
use crate::cluster::{Cluster, cluster};
use crate::helpers::{assert_error, spawn_app_with};
use crate::people::{browser, csrf_in};

const PROXY: (&str, &str) = ("TIDEGATE_SERVER__TRUSTED_PROXIES", "[\"127.0.0.1/32\"]");

/// The status, Retry-After seconds (0 without) and page of a sign-in through `node` from `ip`.
async fn sign_in(
    cluster: &Cluster,
    node: usize,
    ip: &str,
    email: &str,
    password: &str,
) -> (u16, u64, String) {
    let client = browser();
    let form = client
        .get(format!("{}/login", cluster.url(node)))
        .header("x-forwarded-for", ip)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = client
        .post(format!("{}/login", cluster.url(node)))
        .header("x-forwarded-for", ip)
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf", &csrf_in(&form)),
        ])
        .send()
        .await
        .unwrap();
    let retry = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    (res.status().as_u16(), retry, res.text().await.unwrap())
}

/// A failed sign-in through `node`, made as soon as the e-mail address's delay lets it (each
/// refusal while it waits counts nothing).
async fn fail_when_allowed(cluster: &Cluster, node: usize, ip: &str, email: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match sign_in(cluster, node, ip, email, "wrong password").await {
            (401, _, _) => return,
            (429, _, _) => assert!(Instant::now() < deadline, "still delayed"),
            (status, _, page) => panic!("{status}: {page}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_sign_in_delay_and_block_reached_through_one_node_hold_on_another() {
    let env = [
        PROXY,
        ("TIDEGATE_ADMIN_PASSWORD", "cluster-secret-1"),
        ("TIDEGATE_AUTH__SIGNIN_MAX_FAILURES", "3"),
    ];
    let Some(cluster) = cluster(2, &env).await else {
        return;
    };
    // Six wrong passwords for one e-mail address through node 0, each from its own address (no
    // address reaches its block): three are free, then delays of 1 and 2 s, and now 4 s.
    for n in 1..=6 {
        fail_when_allowed(&cluster, 0, &format!("198.51.100.{n}"), "admin@localhost").await;
    }
    let (status, wait, page) = sign_in(
        &cluster,
        1,
        "198.51.100.20",
        "admin@localhost",
        "cluster-secret-1",
    )
    .await;
    assert_eq!(status, 429, "the delay holds on node 1: {page}");
    assert!((1..=4).contains(&wait), "{wait}");
    assert!(page.contains("Too many failed attempts for this e-mail address."));

    // Three failures from one address through node 0, each for another e-mail address: the
    // address is blocked on node 1 for the rest of the window, whatever the e-mail.
    for n in 0..3 {
        let email = format!("nobody{n}@example.com");
        let (status, _, _) = sign_in(&cluster, 0, "192.0.2.7", &email, "x").await;
        assert_eq!(status, 401);
    }
    let (status, wait, page) = sign_in(&cluster, 1, "192.0.2.7", "someone@example.com", "x").await;
    assert_eq!(status, 429, "the block holds on node 1: {page}");
    assert!(wait > 60, "{wait}: for the rest of the window");
    assert!(page.contains("Too many failed attempts from this address."));
    // Another address is not blocked, and the right password still opens once its delay is over.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match sign_in(
            &cluster,
            1,
            "192.0.2.8",
            "admin@localhost",
            "cluster-secret-1",
        )
        .await
        {
            (303, _, _) => break,
            (429, _, page) => {
                assert!(page.contains("for this e-mail address"), "{page}");
                assert!(Instant::now() < deadline, "still delayed");
            }
            (status, _, page) => panic!("{status}: {page}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The counts name addresses and e-mail addresses by their keyed hash only.
    let in_clear =
        "SELECT count(*) FROM auth_failures WHERE subject LIKE '%@%' OR subject LIKE '19%'";
    assert_eq!(cluster.count(in_clear, &[]), 0);
}

/// A call to /v1/status through `node` from `ip` with an unknown key: status, Retry-After
/// seconds (0 without) and body.
async fn unknown_key(cluster: &Cluster, node: usize, ip: &str) -> (u16, u64, serde_json::Value) {
    let res = cluster
        .client
        .get(format!("{}/v1/status", cluster.url(node)))
        .header("x-forwarded-for", ip)
        .bearer_auth("bye_wrong")
        .send()
        .await
        .unwrap();
    let retry = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    (res.status().as_u16(), retry, res.json().await.unwrap())
}

#[tokio::test]
async fn a_pre_auth_block_reached_through_one_node_holds_on_another() {
    let env = [PROXY, ("TIDEGATE_AUTH__PREAUTH_MAX_FAILURES", "3")];
    let Some(cluster) = cluster(2, &env).await else {
        return;
    };
    let (_, key) = cluster.create_key("full_access");
    for _ in 0..3 {
        let (status, _, body) = unknown_key(&cluster, 0, "203.0.113.9").await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, wait, body) = unknown_key(&cluster, 1, "203.0.113.9").await;
    assert_eq!(status, 429, "the block holds on node 1: {body}");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_error(&body, "BSE1006");
    // A valid key from the blocked address is served on both nodes.
    for node in 0..2 {
        let res = cluster
            .client
            .get(format!("{}/v1/status", cluster.url(node)))
            .header("x-forwarded-for", "203.0.113.9")
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "node {node}");
    }
    // Node 1 hears of a block as node 0 commits it, and refuses from memory: no count in the
    // store moves. (Each try blocks a new address, in case node 1 asks before it hears.) Rows
    // name addresses by their keyed hash only.
    let counted = "SELECT count(*) FROM auth_failures WHERE kind = 'preauth' AND failures > 0";
    let in_clear = "SELECT count(*) FROM auth_failures WHERE subject LIKE '203.%'";
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut heard = false;
    for n in 10..=250 {
        let ip = format!("203.0.113.{n}");
        for _ in 0..3 {
            assert_eq!(unknown_key(&cluster, 0, &ip).await.0, 401);
        }
        let before = cluster.count(counted, &[]);
        let (status, _, body) = unknown_key(&cluster, 1, &ip).await;
        assert_eq!(status, 429, "{body}");
        heard = cluster.count(counted, &[]) == before;
        if heard || Instant::now() > deadline {
            break;
        }
    }
    assert!(heard, "node 1 never heard of a block in time");
    assert_eq!(cluster.count(in_clear, &[]), 0);
}

backend_tests!(when_failures_cannot_be_counted_in_the_store_v1_blocks_from_memory);
async fn when_failures_cannot_be_counted_in_the_store_v1_blocks_from_memory() {
    let app = spawn_app_with(&[("auth.preauth_max_failures", json!(3))]).await;
    let (_, key) = app.create_key(&[]);
    app.db()
        .refuse("auth_failures", "INSERT", "disk full")
        .unwrap();
    for _ in 0..3 {
        let (status, body) = app.get_json("/v1/status", "bye_wrong").await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, body) = app.get_json("/v1/status", "bye_wrong").await;
    assert_eq!(status, 429, "{body}");
    assert_error(&body, "BSE1006");
    assert_eq!(app.get("/v1/status", Some(&key)).await.status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM auth_failures", &[]), 0);
}

backend_tests!(a_sign_in_the_store_cannot_check_is_refused_and_old_failures_are_pruned);
async fn a_sign_in_the_store_cannot_check_is_refused_and_old_failures_are_pruned() {
    let app = spawn_app_with(&[("auth.preauth_max_failures", json!(3))]).await;
    let client = browser();
    let wrong = crate::people::sign_in(&app, &client, "admin@localhost", "wrong").await;
    assert_eq!(wrong.status(), 401);
    for _ in 0..3 {
        assert_eq!(app.get("/v1/status", Some("bye_wrong")).await.status(), 401);
    }
    let rows = "SELECT count(*) FROM auth_failures";
    let shared = Backend::current() == Backend::Postgres;
    // One node on SQLite counts in memory; beside other nodes, per address and e-mail address.
    assert_eq!(app.count(rows, &[]), if shared { 3 } else { 0 });

    // A pre-auth row goes with the next write once its block is over.
    app.clock.advance(61_000);
    let wrong = crate::people::sign_in(&app, &client, "admin@localhost", "wrong").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(app.count(rows, &[]), if shared { 2 } else { 0 });

    // Without its counts, a sign-in is refused on PostgreSQL; on SQLite nothing is read.
    let db = app.db();
    db.execute_batch("ALTER TABLE auth_failures RENAME TO auth_failures_away")
        .unwrap();
    let res = crate::people::sign_in(&app, &client, "admin@localhost", "wrong").await;
    assert_eq!(res.status(), if shared { 500 } else { 401 });
    db.execute_batch("ALTER TABLE auth_failures_away RENAME TO auth_failures")
        .unwrap();
}
