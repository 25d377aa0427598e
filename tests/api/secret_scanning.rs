//! GitHub's secret scanning partner endpoint (docs/keys.md, "Leaked keys"): with a P-256 key
//! pair this test makes and publishes in a keys file, signed reports revoke, disable or only
//! announce keys as each account chose; a wrong signature, an unknown identifier, a tampered or
//! malformed body change nothing; every token is answered by its SHA-256; 1,000 are timed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tidegate::testing::{Environment, KeyFormat};

use crate::helpers::{TestApp, spawn_app_with};
use crate::notifications::assert_documented;
use crate::people::{page, person};
use crate::receiver;
use crate::webhooks::{add_endpoint, wait_for_event};

const SPKI_P256: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A signing key and its public half as GitHub publishes it (PEM).
struct Signer {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl Signer {
    fn new() -> Signer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Signer { pair, rng }
    }

    fn pem(&self) -> String {
        let mut der = SPKI_P256.to_vec();
        der.extend_from_slice(self.pair.public_key().as_ref());
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(der)
        )
    }

    fn sign(&self, body: &[u8]) -> String {
        STANDARD.encode(self.pair.sign(&self.rng, body).unwrap().as_ref())
    }
}

/// A server that knows `signer`'s key as `github-1`.
async fn app_trusting(signer: &Signer) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.json");
    let keys = json!({ "public_keys": [
        { "key_identifier": "github-1", "key": signer.pem(), "is_current": true }
    ]});
    std::fs::write(&file, keys.to_string()).unwrap();
    let app = spawn_app_with(&[(
        "secret_scanning.public_keys_file",
        json!(file.display().to_string()),
    )])
    .await;
    (app, dir)
}

/// Posts `body` with the signature and identifier given; the status and the answer.
async fn report(app: &TestApp, body: &[u8], id: &str, signature: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/secret-scanning/github", app.address))
        .header("content-type", "application/json")
        .header("Github-Public-Key-Identifier", id)
        .header("Github-Public-Key-Signature", signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn tokens(list: &[&str]) -> Vec<u8> {
    let items: Vec<Value> = list
        .iter()
        .map(|t| json!({ "token": t, "type": "tidegate_api_key",
                         "url": "https://github.com/octo/repo/blob/main/.env", "source": "content" }))
        .collect();
    serde_json::to_vec(&items).unwrap()
}

fn sha256(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn status(app: &TestApp, id: &str) -> Value {
    app.cli_json(&["keys", "show", id])["status"].clone()
}

backend_tests!(multi_thread: signed_reports_revoke_disable_or_notify_as_the_account_chose);
async fn signed_reports_revoke_disable_or_notify_as_the_account_chose() {
    let signer = Signer::new();
    let (app, _keys) = app_trusting(&signer).await;
    let receiver = receiver::start();
    add_endpoint(&app, &receiver, "apikey.leaked");
    let owner = person(&app, "owner@example.com", "owner").await;
    let set_action = |action: &'static str| {
        let (app, owner) = (&app, &owner);
        async move {
            let res = owner
                .client
                .post(format!("{}/settings/leak-action", app.address))
                .form(&[("csrf", owner.csrf.as_str()), ("leak_action", action)])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 303, "{action}");
        }
    };
    let (first_id, first) = app.create_key(&[]);
    let (second_id, second) = app.create_key(&[]);
    let (third_id, third) = app.create_key(&[]);

    // The default: revoked.
    let body = tokens(&[&first]);
    let (code, answer) = report(&app, &body, "github-1", &signer.sign(&body)).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(
        answer,
        json!([{ "token_hash": sha256(&first), "token_type": "tidegate_api_key",
                 "label": "true_positive" }])
    );
    assert!(!answer.to_string().contains(&first), "never the key");
    assert_eq!(status(&app, &first_id), "revoked");
    let leaked = wait_for_event(&receiver, "apikey.leaked", 1).await;
    assert_documented(&leaked[0]);
    assert_eq!(leaked[0]["webhook_data"]["leak_action"], "revoked");
    assert_eq!(
        leaked[0]["webhook_data"]["leak_source"],
        "https://github.com/octo/repo/blob/main/.env"
    );

    set_action("disable").await;
    let body = tokens(&[&second]);
    let (code, _) = report(&app, &body, "github-1", &signer.sign(&body)).await;
    assert_eq!(code, 200);
    assert_eq!(status(&app, &second_id), "disabled");

    set_action("notify").await;
    let body = tokens(&[&third]);
    let (code, _) = report(&app, &body, "github-1", &signer.sign(&body)).await;
    assert_eq!(code, 200);
    assert_eq!(status(&app, &third_id), "active", "only announced");
    wait_for_event(&receiver, "apikey.leaked", 3).await;
    assert_eq!(
        app.count(
            "SELECT count(*) FROM activity WHERE action = 'leaked'
             AND description LIKE '%https://github.com/octo/repo/blob/main/.env%'",
            &[]
        ),
        3
    );
    let shown = page(&owner.client, &app, "/settings").await;
    assert!(shown.contains("<option value=\"notify\" selected"));

    // A bad choice is refused beside its field, the choice kept as it was.
    let res = owner
        .client
        .post(format!("{}/settings/leak-action", app.address))
        .form(&[("csrf", owner.csrf.as_str()), ("leak_action", "explode")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("id=\"leak-error\""));
    assert_eq!(
        app.count(
            "SELECT count(*) FROM leak_policies WHERE action = 'notify'",
            &[]
        ),
        1
    );
}

backend_tests!(multi_thread: a_report_that_does_not_verify_changes_nothing);
async fn a_report_that_does_not_verify_changes_nothing() {
    let signer = Signer::new();
    let (app, _keys) = app_trusting(&signer).await;
    let (id, key) = app.create_key(&[]);
    let body = tokens(&[&key]);
    let stranger = Signer::new();
    let mut tampered = body.clone();
    let last = tampered.len() - 3;
    tampered[last] = b'x';
    let not_an_array = br#"{"token": "x"}"#.to_vec();
    let cases: Vec<(Vec<u8>, &str, String, u16)> = vec![
        (body.clone(), "github-1", stranger.sign(&body), 401),
        (body.clone(), "github-9", signer.sign(&body), 401),
        (tampered, "github-1", signer.sign(&body), 401),
        (body.clone(), "github-1", "not base64!".into(), 401),
        (
            not_an_array.clone(),
            "github-1",
            signer.sign(&not_an_array),
            400,
        ),
    ];
    for (body, key_id, signature, expected) in cases {
        let (code, answer) = report(&app, &body, key_id, &signature).await;
        assert_eq!(code, expected, "{answer}");
        assert_eq!(answer["status"], "error", "{answer}");
    }
    let (code, _) = report(&app, &body, "", "").await;
    assert_eq!(code, 401, "no headers");
    assert_eq!(status(&app, &id), "active");
    assert_eq!(
        app.count("SELECT count(*) FROM activity WHERE action = 'leaked'", &[]),
        0
    );
}

backend_tests!(multi_thread: look_alikes_unknown_and_revoked_keys_are_answered_and_a_batch_of_1000_is_quick);
async fn look_alikes_unknown_and_revoked_keys_are_answered_and_a_batch_of_1000_is_quick() {
    let signer = Signer::new();
    let (app, _keys) = app_trusting(&signer).await;
    let (revoked_id, revoked) = app.create_key(&[]);
    app.cli_json(&["keys", "revoke", &revoked_id]);
    let (live_id, live) = app.create_key(&[]);
    let mut look_alike = live.clone();
    look_alike.pop();
    look_alike.push('#');
    let format = KeyFormat::new("bye_").unwrap();
    let unknown = format
        .generate(Environment::Live)
        .unwrap()
        .expose()
        .to_owned();
    let body = tokens(&[&look_alike, &unknown, &revoked]);
    let (code, answer) = report(&app, &body, "github-1", &signer.sign(&body)).await;
    assert_eq!(code, 200, "{answer}");
    let labels: Vec<&str> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        ["false_positive", "false_positive", "true_positive"]
    );
    assert_eq!(answer[1]["token_hash"], sha256(&unknown));
    assert_eq!(
        app.count("SELECT count(*) FROM activity WHERE action = 'leaked'", &[]),
        0,
        "a revoked key needs nothing"
    );

    // 1,000 tokens: 999 well-formed keys this store does not have and one it has.
    let mut batch: Vec<String> = (0..999)
        .map(|_| {
            format
                .generate(Environment::Live)
                .unwrap()
                .expose()
                .to_owned()
        })
        .collect();
    batch.push(live.clone());
    let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
    let body = tokens(&refs);
    let started = std::time::Instant::now();
    let (code, answer) = report(&app, &body, "github-1", &signer.sign(&body)).await;
    let took = started.elapsed();
    assert_eq!(code, 200);
    assert_eq!(answer.as_array().unwrap().len(), 1000);
    assert_eq!(answer[999]["label"], "true_positive");
    assert_eq!(status(&app, &live_id), "revoked");
    eprintln!("secret scanning: 1,000 tokens answered in {took:?}");
    assert!(took.as_secs() < 30, "GitHub waits 30 s: {took:?}");
}
