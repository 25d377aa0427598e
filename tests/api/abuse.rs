//! Hostile clients: password guessing from many addresses, slow bodies, connection floods. None
//! of them may keep anyone else out.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app_with};
use crate::people::{browser, csrf_in};

/// A server behind a reverse proxy on loopback, so tests can speak from any address.
async fn app_behind_a_proxy() -> TestApp {
    spawn_app_with(&[("server.trusted_proxies", json!(["127.0.0.1/32"]))]).await
}

/// Posts the sign-in form from `ip` (through the trusted proxy); returns the status and the
/// Retry-After seconds, if any.
async fn sign_in_from(app: &TestApp, ip: &str, email: &str, password: &str) -> (u16, u64) {
    thread_local! {
        static CLIENT: reqwest::Client = browser();
    }
    let client = CLIENT.with(reqwest::Client::clone);
    let form = client
        .get(format!("{}/login", app.address))
        .header("x-forwarded-for", ip)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = client
        .post(format!("{}/login", app.address))
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
    (res.status().as_u16(), retry)
}

fn admin_password(app: &TestApp) -> String {
    let reset = app.cli_json(&["users", "set-password", "--email", "admin@localhost"]);
    reset["password"].as_str().unwrap().to_owned()
}

backend_tests!(failures_from_many_addresses_delay_but_never_lock_out_the_right_password);
async fn failures_from_many_addresses_delay_but_never_lock_out_the_right_password() {
    let app = app_behind_a_proxy().await;
    let password = admin_password(&app);
    // Twelve addresses each get one wrong password verified, waiting out the delays as a
    // patient guesser would.
    for n in 1..=12 {
        let ip = format!("198.51.100.{n}");
        loop {
            match sign_in_from(&app, &ip, "admin@localhost", "wrong password").await {
                (401, _) => break,
                (429, wait) => {
                    assert!((1..=30).contains(&wait), "{wait}");
                    app.clock.advance(i64::try_from(wait).unwrap() * 1000);
                }
                other => panic!("{other:?}"),
            }
        }
    }
    // The owner, from a thirteenth address, is in within a minute of the last failure.
    let mut waited = 0;
    loop {
        match sign_in_from(&app, "203.0.113.13", "admin@localhost", &password).await {
            (303, _) => break,
            (429, wait) => {
                waited += wait;
                app.clock.advance(i64::try_from(wait).unwrap() * 1000);
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(waited <= 60, "the right password waited {waited} s");
    // A success clears the delay.
    assert_eq!(
        sign_in_from(&app, "203.0.113.13", "admin@localhost", &password)
            .await
            .0,
        303
    );
}

backend_tests!(a_guesser_on_any_number_of_addresses_gets_one_guess_per_30_seconds);
async fn a_guesser_on_any_number_of_addresses_gets_one_guess_per_30_seconds() {
    let app = app_behind_a_proxy().await;
    // Ten minutes of one guess a second, each from a new address.
    let (mut verified, mut refused) = (0, 0);
    for second in 0..600 {
        let ip = format!("10.{}.{}.1", second / 250, second % 250);
        match sign_in_from(&app, &ip, "admin@localhost", "guess").await.0 {
            401 => verified += 1,
            429 => refused += 1,
            other => panic!("{other}"),
        }
        app.clock.advance(1000);
    }
    // Three free failures, then delays of 1, 2, 4, 8 and 16 s, then one every 30 s: guesses are
    // checked at 0, 1, 2, 3, 4, 6, 10, 18 and 34 s, then every 30 s, 27 in ten minutes.
    assert!(verified <= 27, "{verified} guesses checked");
    assert!(verified >= 20, "{verified}: the delay is not a lock");
    assert_eq!(verified + refused, 600);
}

backend_tests!(one_address_is_blocked_after_its_failures_whatever_the_e_mail);
async fn one_address_is_blocked_after_its_failures_whatever_the_e_mail() {
    let app = spawn_app_with(&[
        ("server.trusted_proxies", json!(["127.0.0.1/32"])),
        ("auth.signin_max_failures", json!(3)),
    ])
    .await;
    let password = admin_password(&app);
    for n in 0..3 {
        let email = format!("nobody{n}@example.com");
        assert_eq!(sign_in_from(&app, "192.0.2.7", &email, "x").await.0, 401);
    }
    let (status, wait) = sign_in_from(&app, "192.0.2.7", "admin@localhost", &password).await;
    assert_eq!(status, 429, "the address is blocked");
    assert!(wait > 60, "{wait}: for the rest of the window");
    // Another address is not.
    assert_eq!(
        sign_in_from(&app, "192.0.2.8", "admin@localhost", &password)
            .await
            .0,
        303
    );
}

/// A connection from `from` that has sent a request head with `headers` announcing a body of
/// 1000 bytes, and only `start` of it.
fn slow_body(
    app: &TestApp,
    from: &str,
    path: &str,
    headers: &str,
    start: &str,
) -> std::net::TcpStream {
    use std::io::Write;
    let server: std::net::SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local: std::net::SocketAddr = format!("{from}:0").parse().unwrap();
    socket.bind(&local.into()).unwrap();
    socket.connect(&server.into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: tidegate\r\n{headers}Content-Length: 1000\r\n\r\n{start}"
    );
    // A refused connection may already be closed: the write may fail.
    let _ = stream.write_all(head.as_bytes());
    stream
}

/// A sign-in form that never finishes arriving.
fn slow_sign_in(app: &TestApp, from: &str) -> std::net::TcpStream {
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    slow_body(app, from, "/login", form, "email=a%40")
}

/// Reads until the server closes the connection; what it answered.
fn read_to_close(stream: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("still open: {e}"),
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// A client speaking from another loopback address.
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn refused_connections(app: &TestApp, client: &reqwest::Client) -> u64 {
    app.metric(client, "tidegate_connections_refused_total")
        .await
}

backend_tests!(a_thousand_slow_clients_from_one_address_keep_nobody_else_out);
async fn a_thousand_slow_clients_from_one_address_keep_nobody_else_out() {
    let app = spawn_app_with(&[
        ("server.metrics", json!(true)),
        ("server.body_timeout_seconds", json!(60)),
    ])
    .await;
    let held: Vec<_> = (0..1000).map(|_| slow_sign_in(&app, "127.0.0.1")).collect();
    let other = client_from("127.0.0.2");
    // Beyond the default of 256 connections an address holds, each is closed when accepted.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while refused_connections(&app, &other).await < 744 {
        assert!(std::time::Instant::now() < deadline, "not refused");
        tokio::task::yield_now().await;
    }
    assert_eq!(refused_connections(&app, &other).await, 744);
    let res = other
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "another address is served");
    let mut refused = slow_sign_in(&app, "127.0.0.1");
    assert_eq!(read_to_close(&mut refused), "", "closed without an answer");

    // Once its connections close, the address is served again.
    drop(held);
    let same = client_from("127.0.0.1");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Ok(res) = same.get(format!("{}/healthz", app.address)).send().await {
            assert_eq!(res.status(), 200);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still refused");
        tokio::task::yield_now().await;
    }
}

backend_tests!(a_body_that_arrives_too_slowly_is_refused_and_its_connection_closed);
async fn a_body_that_arrives_too_slowly_is_refused_and_its_connection_closed() {
    let app = spawn_app_with(&[("server.body_timeout_seconds", json!(1))]).await;
    let (key_id, key) = app.create_key(&[]);
    // /v1 reads a body only once the key is known.
    let v1 = format!("Authorization: Bearer {key}\r\nContent-Type: application/json\r\n");
    let generate = "/v1/generate/image/tidegate/pattern-1";
    for (path, mut conn) in [
        ("/login", slow_sign_in(&app, "127.0.0.1")),
        (
            generate,
            slow_body(&app, "127.0.0.1", generate, &v1, "{\"generation_"),
        ),
    ] {
        let began = std::time::Instant::now();
        let answer = read_to_close(&mut conn);
        assert!(
            began.elapsed() < std::time::Duration::from_secs(5),
            "{path}"
        );
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("connection: close"), "{path}: {answer}");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        if path == generate {
            let headers: reqwest::header::HeaderMap = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(": "))
                .map(|(n, v)| (n.parse().unwrap(), v.parse().unwrap()))
                .collect();
            crate::contract::assert_documented("POST", path, 408, &headers, body.as_bytes());
        }
        if path == "/login" {
            // A person's browser gets a page saying so.
            assert!(body.contains("The form took too long to arrive."), "{body}");
            continue;
        }
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        let error = crate::helpers::assert_error(&body, "BSE2001");
        assert_eq!(error["details"]["field"], "body");
    }
    assert_eq!(app.generations(), 0);
    let logged = app.count(
        "SELECT count(*) FROM request_logs WHERE key_id = ?1 AND status_code = 408",
        &[&&key_id],
    );
    assert_eq!(logged, 1, "the refused request is in the audit log");
}
