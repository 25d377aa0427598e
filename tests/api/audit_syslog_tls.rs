//! Streaming the activity log to syslog over TLS (`audit.syslog.tls`, `ca_file`): a receiver
//! this test runs with a certificate from its own CA (made with the openssl command) gets every
//! entry; a receiver whose certificate the configured CA did not sign gets none.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;

use crate::helpers::{TestApp, eventually, spawn_app_with};

/// A CA and a certificate it signed for 127.0.0.1, in `dir`: `ca.pem`, `leaf.pem`, `leaf.key`.
fn certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=tidegate test CA",
    ];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(&ca);
    let mut csr = vec!["req", "-subj", "/CN=127.0.0.1"];
    csr.extend(ec);
    csr.extend(["-keyout", "leaf.key", "-out", "leaf.csr"]);
    openssl(&csr);
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
        "-out",
        "leaf.pem",
    ]);
}

/// A TLS syslog receiver on 127.0.0.1 serving `dir`'s certificate: the frames it read, and how
/// many handshakes failed.
struct TlsReceiver {
    port: u16,
    messages: Arc<Mutex<Vec<String>>>,
    refused: Arc<Mutex<usize>>,
}

fn start(dir: &Path) -> TlsReceiver {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("leaf.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(Mutex::new(0));
    let (sink, failures) = (Arc::clone(&messages), Arc::clone(&refused));
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(socket) = socket else { return };
            let connection = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let (sink, failures) = (Arc::clone(&sink), Arc::clone(&failures));
            std::thread::spawn(move || {
                let mut stream = rustls::StreamOwned::new(connection, socket);
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    match stream.read(&mut chunk) {
                        Ok(0) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        Err(_) => {
                            if !stream.conn.is_handshaking() {
                                return;
                            }
                            *failures.lock().unwrap() += 1;
                            return;
                        }
                    }
                    while let Some(frame) = take_frame(&mut buffer) {
                        sink.lock().unwrap().push(frame);
                    }
                }
            });
        }
    });
    TlsReceiver {
        port,
        messages,
        refused,
    }
}

/// One octet-counted frame off the front of `buffer`, when it is all there.
fn take_frame(buffer: &mut Vec<u8>) -> Option<String> {
    let space = buffer.iter().position(|b| *b == b' ')?;
    let length: usize = std::str::from_utf8(&buffer[..space]).ok()?.parse().ok()?;
    if buffer.len() < space + 1 + length {
        return None;
    }
    let frame = String::from_utf8_lossy(&buffer[space + 1..space + 1 + length]).into_owned();
    buffer.drain(..space + 1 + length);
    Some(frame)
}

async fn streaming_app(port: u16, ca_file: &Path) -> TestApp {
    spawn_app_with(&[
        ("audit.syslog.address", json!(format!("127.0.0.1:{port}"))),
        ("audit.syslog.tls", json!(true)),
        ("audit.syslog.ca_file", json!(ca_file.display().to_string())),
        ("audit.syslog.max_retry_seconds", json!(1)),
    ])
    .await
}

backend_tests!(multi_thread: entries_reach_a_receiver_over_tls_verified_with_the_configured_ca);
async fn entries_reach_a_receiver_over_tls_verified_with_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let receiver = start(dir.path());
    let app = streaming_app(receiver.port, &dir.path().join("ca.pem")).await;
    app.create_key(&[]);
    let newest = app.count("SELECT MAX(id) FROM activity", &[]);
    eventually("the newest entry over TLS", || {
        receiver
            .messages
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.contains(&format!("[activity@32473 id=\"{newest}\"")))
    })
    .await;
    assert_eq!(*receiver.refused.lock().unwrap(), 0);
}

backend_tests!(multi_thread: a_receiver_the_configured_ca_did_not_sign_gets_nothing);
async fn a_receiver_the_configured_ca_did_not_sign_gets_nothing() {
    let (ours, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    certificates(ours.path());
    certificates(theirs.path());
    let receiver = start(theirs.path());
    let app = streaming_app(receiver.port, &ours.path().join("ca.pem")).await;
    app.create_key(&[]);
    eventually("a refused handshake", || {
        *receiver.refused.lock().unwrap() > 0
    })
    .await;
    assert!(receiver.messages.lock().unwrap().is_empty());
}
