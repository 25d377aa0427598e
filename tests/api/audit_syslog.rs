//! Streaming the activity log to syslog: a receiver this test runs (RFC 5424 over TCP with
//! octet counting) gets every entry once and in order, also across its own restart, and an
//! address that does not resolve stops start-up naming its key.

use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, eventually, run_binary, spawn_app_with};

/// A syslog receiver on 127.0.0.1: the messages it read, in order.
struct Receiver {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    fn start(port: u16, messages: Arc<Mutex<Vec<String>>>) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, sink) = (Arc::clone(&stop), messages);
        let thread = std::thread::spawn(move || {
            let mut connections: Vec<(TcpStream, Vec<u8>)> = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                if let Ok((socket, _)) = listener.accept() {
                    socket.set_nonblocking(true).unwrap();
                    connections.push((socket, Vec::new()));
                }
                for (socket, buffer) in &mut connections {
                    let mut chunk = [0u8; 4096];
                    match socket.read(&mut chunk) {
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(e) => panic!("receiver: {e}"),
                    }
                    while let Some(message) = take_frame(buffer) {
                        sink.lock().unwrap().push(message);
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Receiver {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// Closes the listener and every connection.
    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
    }
}

/// One octet-counted frame (RFC 6587, 3.4.1) off the front of `buffer`, when it is all there.
fn take_frame(buffer: &mut Vec<u8>) -> Option<String> {
    let space = buffer.iter().position(|b| *b == b' ')?;
    let length: usize = std::str::from_utf8(&buffer[..space])
        .unwrap()
        .parse()
        .unwrap();
    if buffer.len() < space + 1 + length {
        return None;
    }
    let message = String::from_utf8(buffer[space + 1..space + 1 + length].to_vec()).unwrap();
    buffer.drain(..space + 1 + length);
    Some(message)
}

/// An RFC 5424 message read back: its header fields, its structured data and its JSON.
struct Message {
    priority: u32,
    app_name: String,
    sd_id: i64,
    sd_hash: String,
    entry: Value,
}

fn parse(message: &str) -> Message {
    let (priority, rest) = message[1..].split_once('>').unwrap();
    let mut fields = rest.splitn(7, ' ');
    assert_eq!(fields.next(), Some("1"), "version: {message}");
    let _time = fields.next().unwrap();
    let _host = fields.next().unwrap();
    let app_name = fields.next().unwrap().to_owned();
    let _proc = fields.next().unwrap();
    assert_eq!(fields.next(), Some("activity"), "msgid: {message}");
    let rest = fields.next().unwrap();
    let (sd, json) = rest.split_once("] ").unwrap();
    let param = |name: &str| -> String {
        let at = sd.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        sd[at..].split('"').next().unwrap().to_owned()
    };
    assert!(sd.starts_with("[activity@32473 "), "{sd}");
    Message {
        priority: priority.parse().unwrap(),
        app_name,
        sd_id: param("id").parse().unwrap(),
        sd_hash: param("hash"),
        entry: serde_json::from_str(json).unwrap(),
    }
}

fn received(messages: &Arc<Mutex<Vec<String>>>) -> Vec<Message> {
    messages.lock().unwrap().iter().map(|m| parse(m)).collect()
}

/// The ids of the activity entries the store holds after `after`.
fn stored_after(app: &TestApp, after: i64) -> Vec<i64> {
    app.db()
        .query_map(
            "SELECT id FROM activity WHERE id > ?1 ORDER BY id",
            &[&after],
            |r| r.get(0),
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

backend_tests!(every_entry_reaches_the_receiver_once_in_order_across_its_restart);
async fn every_entry_reaches_the_receiver_once_in_order_across_its_restart() {
    let messages = Arc::new(Mutex::new(Vec::new()));
    let receiver = Receiver::start(0, Arc::clone(&messages));
    let port = receiver.port;
    let app = spawn_app_with(&[
        ("audit.syslog.address", json!(format!("127.0.0.1:{port}"))),
        ("audit.syslog.app_name", json!("tidegate-test")),
        ("audit.syslog.max_retry_seconds", json!(1)),
    ])
    .await;
    // What the stream starts from is the newest entry at its first round; every entry after
    // it must arrive, so each wait is for the newest entry stored.
    let newest = |app: &TestApp| app.count("SELECT MAX(id) FROM activity", &[]);
    let last_received = |messages: &Arc<Mutex<Vec<String>>>| {
        messages.lock().unwrap().last().map(|m| parse(m).sd_id)
    };
    app.create_key(&[]);
    app.add_credits("3");
    let wanted = newest(&app);
    eventually("the first entries", || {
        last_received(&messages) == Some(wanted)
    })
    .await;

    receiver.stop();
    let before = messages.lock().unwrap().len();
    app.create_key(&[]);
    app.create_key(&[]);
    app.add_credits("4");
    assert_eq!(
        messages.lock().unwrap().len(),
        before,
        "the receiver is down"
    );
    let receiver = Receiver::start(port, Arc::clone(&messages));
    let wanted = newest(&app);
    eventually("the entries written while the receiver was down", || {
        last_received(&messages) == Some(wanted)
    })
    .await;
    app.create_key(&[]);
    let wanted = newest(&app);
    eventually("the entry written after", || {
        last_received(&messages) == Some(wanted)
    })
    .await;
    receiver.stop();
    let all = stored_after(&app, 0);

    let got = received(&messages);
    // Entries from before the stream's first round are not streamed.
    let ids: Vec<i64> = got.iter().map(|m| m.sd_id).collect();
    let tail: Vec<i64> = all.iter().copied().filter(|id| *id >= ids[0]).collect();
    assert_eq!(ids, tail, "once each, in order");
    for m in &got {
        assert_eq!(m.priority, 13 * 8 + 5);
        assert_eq!(m.app_name, "tidegate-test");
        assert_eq!(m.entry["id"], m.sd_id);
        assert_eq!(m.entry["hash"], m.sd_hash.as_str());
        assert!(m.entry["prev_hash"].is_string() && m.entry["description"].is_string());
    }
    for pair in got.windows(2) {
        assert_eq!(
            pair[1].entry["prev_hash"], pair[0].entry["hash"],
            "the chain links"
        );
    }
}

#[test]
fn a_syslog_address_that_does_not_resolve_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_binary(
        dir.path(),
        &["serve"],
        &[
            ("TIDEGATE_SERVER__LISTEN", "127.0.0.1:0"),
            ("TIDEGATE_AUDIT__SYSLOG__ADDRESS", "nowhere.invalid:6514"),
        ],
    );
    assert_eq!(out.status, 2, "{}", out.stderr);
    let stderr = out.stderr.trim();
    assert!(stderr.contains("audit.syslog.address"), "{stderr}");
    assert!(stderr.contains("nowhere.invalid"), "{stderr}");
}

#[tokio::test]
async fn with_two_nodes_on_one_postgres_store_each_entry_is_streamed_once() {
    let messages = Arc::new(Mutex::new(Vec::new()));
    let receiver = Receiver::start(0, Arc::clone(&messages));
    let address = format!("127.0.0.1:{}", receiver.port);
    let Some(cluster) = crate::cluster::cluster(
        2,
        &[
            ("TIDEGATE_AUDIT__SYSLOG__ADDRESS", address.as_str()),
            ("TIDEGATE_AUDIT__SYSLOG__MAX_RETRY_SECONDS", "1"),
        ],
    )
    .await
    else {
        receiver.stop();
        return;
    };
    for _ in 0..4 {
        cluster.create_key("read_only");
    }
    let export = cluster.cli(&["audit", "export"]);
    let last: Value = serde_json::from_str(export.stdout.lines().last().unwrap()).unwrap();
    let wanted = last["id"].as_i64().unwrap();
    eventually("the newest entry", || {
        messages
            .lock()
            .unwrap()
            .last()
            .is_some_and(|m| parse(m).sd_id == wanted)
    })
    .await;
    receiver.stop();
    let ids: Vec<i64> = received(&messages).iter().map(|m| m.sd_id).collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "each entry once, in order, from one node: {ids:?}"
    );
}
