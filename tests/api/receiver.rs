//! A webhook receiver on loopback that verifies both signatures with its own implementation of
//! the two schemes, records what arrives, and answers as a test tells it to.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// HTTP 500.
    Fail,
    /// Takes 30 s.
    Hang,
    /// 302 to `/elsewhere`, which records what reaches it.
    Redirect,
    Gone,
}

/// One delivery as it arrived.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub event: String,
    pub delivery_id: String,
    pub body: Value,
    /// The BabySea signature verified with the endpoint's secret, within 300 s.
    pub babysea_ok: bool,
    /// The Standard Webhooks signature verified.
    pub standard_ok: bool,
}

#[derive(Clone)]
struct Shared {
    answer: Arc<Mutex<Answer>>,
    secret: Arc<Mutex<String>>,
    received: Arc<Mutex<Vec<Received>>>,
}

pub struct Receiver {
    pub url: String,
    shared: Shared,
}

impl Receiver {
    pub fn answer(&self, answer: Answer) {
        *self.shared.answer.lock().unwrap() = answer;
    }

    /// The secret deliveries must be signed with.
    pub fn expect_secret(&self, secret: &str) {
        *self.shared.secret.lock().unwrap() = secret.to_owned();
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.shared.received.lock().unwrap().len()
    }

    /// What arrived for `event`.
    pub fn of(&self, event: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.event == event)
            .collect()
    }
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// `t=<unix>,v1=<hex>` over `"<t>.<body>"`, keyed by the whole secret, within 300 s of now.
fn babysea_ok(req: &HttpRequest, body: &[u8], secret: &str) -> bool {
    let signature = header(req, "x-babysea-signature");
    let part = |prefix: &str| {
        signature
            .split(',')
            .find_map(|p| p.strip_prefix(prefix))
            .unwrap_or("")
    };
    let (t, v1) = (part("t="), part("v1="));
    let Ok(ts) = t.parse::<i64>() else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    let expected: String = hmac(secret.as_bytes(), &message)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (now - ts).abs() <= 300 && bool::from(expected.as_bytes().ct_eq(v1.as_bytes()))
}

/// `v1,<base64>` over `"<id>.<timestamp>.<body>"`, keyed by the decoded part after `whsec_`.
fn standard_ok(req: &HttpRequest, body: &[u8], secret: &str) -> bool {
    let Ok(key) = STANDARD.decode(secret.trim_start_matches("whsec_")) else {
        return false;
    };
    let id = header(req, "webhook-id");
    let timestamp = header(req, "webhook-timestamp");
    let mut message = format!("{id}.{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    let expected = STANDARD.encode(hmac(&key, &message));
    header(req, "webhook-signature")
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| bool::from(s.as_bytes().ct_eq(expected.as_bytes())))
}

async fn receive(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let secret = shared.secret.lock().unwrap().clone();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let received = Received {
        path: req.path().to_owned(),
        event: header(&req, "x-babysea-event").to_owned(),
        delivery_id: header(&req, "x-babysea-delivery-id").to_owned(),
        babysea_ok: babysea_ok(&req, &body, &secret),
        standard_ok: standard_ok(&req, &body, &secret),
        body: parsed,
    };
    shared.received.lock().unwrap().push(received);
    if req.path() == "/elsewhere" {
        return HttpResponse::Ok().finish();
    }
    let answer = *shared.answer.lock().unwrap();
    match answer {
        Answer::Ok => HttpResponse::Ok().body("thanks"),
        Answer::Fail => HttpResponse::InternalServerError().body("the receiver fell over"),
        Answer::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            HttpResponse::Ok().finish()
        }
        Answer::Redirect => HttpResponse::Found()
            .insert_header(("location", "/elsewhere"))
            .finish(),
        Answer::Gone => HttpResponse::Gone().finish(),
    }
}

pub fn start() -> Receiver {
    let shared = Shared {
        answer: Arc::new(Mutex::new(Answer::Ok)),
        secret: Arc::new(Mutex::new(String::new())),
        received: Arc::new(Mutex::new(Vec::new())),
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let data = web::Data::new(shared.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(receive))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    Receiver { url, shared }
}
