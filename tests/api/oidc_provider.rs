//! A real OpenID provider for the single sign-on tests: `tests/support/oidc/provider.mjs` on
//! the `oidc-provider` package, run with node on a loopback port. `.ci/run` installs the
//! package under `${XDG_CACHE_HOME:-$HOME/.cache}/tidegate-ci/oidc-provider` and names it in
//! `TIDEGATE_TEST_OIDC_PROVIDER_DIR`; the tests look there by default too. Without node or the
//! package a test says so and passes without running, except under CI, where it fails.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::TestApp;

pub const CLIENT_ID: &str = "tidegate";
pub const CLIENT_SECRET: &str = "tidegate-test-secret";
pub const DIR_VARIABLE: &str = "TIDEGATE_TEST_OIDC_PROVIDER_DIR";

pub struct IdentityProvider {
    pub issuer: String,
    http: reqwest::Client,
    // Killed when the test ends; its standard input closing ends it too.
    _child: tokio::process::Child,
    // Kept open: a write to a closed pipe would end it.
    _stdout: BufReader<tokio::process::ChildStdout>,
}

fn package_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DIR_VARIABLE).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
        });
    cache.join("tidegate-ci/oidc-provider")
}

/// Why the provider cannot run here, if it cannot.
fn missing() -> Option<String> {
    let dir = package_dir();
    if !dir
        .join("node_modules/oidc-provider/package.json")
        .is_file()
    {
        return Some(format!(
            "oidc-provider is not installed in {}",
            dir.display()
        ));
    }
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("node is not installed".into());
    }
    None
}

impl IdentityProvider {
    /// Starts a provider; `None` (after saying why) where it cannot run outside CI.
    pub async fn start() -> Option<IdentityProvider> {
        Self::start_on("127.0.0.1").await
    }

    /// A provider whose issuer names `host` (it listens on 127.0.0.1 whatever the name).
    pub async fn start_on(host: &str) -> Option<IdentityProvider> {
        if let Some(why) = missing() {
            assert!(
                std::env::var_os("CI").is_none(),
                "the single sign-on tests need their OpenID provider: {why} (see .ci/run)"
            );
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "note: a single sign-on test passes without running: {why}; set {DIR_VARIABLE}"
            );
            return None;
        }
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/oidc/provider.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .arg(package_dir())
            .arg(host)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        tokio::time::timeout(
            std::time::Duration::from_secs(20),
            stdout.read_line(&mut line),
        )
        .await
        .expect("the provider printed its issuer in time")
        .expect("read the issuer");
        let issuer = line.trim().to_owned();
        assert!(issuer.starts_with(&format!("http://{host}:")), "{issuer:?}");
        Some(IdentityProvider {
            issuer,
            http: reqwest::Client::new(),
            _child: child,
            _stdout: stdout,
        })
    }

    async fn control(&self, path: &str, body: Value) {
        let res = self
            .http
            .post(format!("{}/__test/{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "{path}");
    }

    /// The person the provider signs in next.
    pub async fn person(&self, email: &str, verified: bool) {
        let sub = email.split('@').next().unwrap().to_lowercase();
        self.control(
            "person",
            json!({ "sub": sub, "email": email, "email_verified": verified }),
        )
        .await;
    }

    /// The next token response's ID token is tampered with (`signature`, `audience`,
    /// `expired`, `nonce`), loses its e-mail (`strip-email`) or the response is no JSON
    /// (`garbage`).
    pub async fn tamper(&self, mode: &str) {
        self.control("tamper", json!({ "mode": mode })).await;
    }

    /// How many requests the provider's userinfo endpoint has had.
    pub async fn userinfo_calls(&self) -> u64 {
        let url = format!("{}/__test/userinfo-calls", self.issuer);
        let text = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.parse().unwrap()
    }

    /// The settings that point a server at this provider.
    pub fn settings(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("auth.oidc.issuer", self.issuer.clone().into()),
            ("auth.oidc.client_id", CLIENT_ID.into()),
            ("auth.oidc.client_secret", CLIENT_SECRET.into()),
        ]
    }
}

/// `GET /login/oidc` in `browser`, then every redirect by hand through the provider, up to the
/// request that comes back to the dashboard: its answer, and the URL it was sent to.
pub async fn sign_in_through(
    app: &TestApp,
    browser: &reqwest::Client,
) -> (reqwest::Response, String) {
    let mut url = format!("{}/login/oidc", app.address);
    for _ in 0..10 {
        let res = browser.get(&url).send().await.unwrap();
        let back_home = url.starts_with(&app.address) && !url.ends_with("/login/oidc");
        if back_home || !res.status().is_redirection() {
            return (res, url);
        }
        url = res.headers()["location"].to_str().unwrap().to_owned();
        if url.starts_with('/') {
            let base = reqwest::Url::parse(res.url().as_str()).unwrap();
            url = base.join(&url).unwrap().to_string();
        }
    }
    panic!("too many redirects, last {url}");
}

/// The URL the provider sends the browser back to (the callback), not visited.
pub async fn callback_url(app: &TestApp, browser: &reqwest::Client) -> String {
    let mut url = format!("{}/login/oidc", app.address);
    for _ in 0..10 {
        let res = browser.get(&url).send().await.unwrap();
        assert!(res.status().is_redirection(), "{url}: {}", res.status());
        url = res.headers()["location"].to_str().unwrap().to_owned();
        if url.starts_with('/') {
            let base = reqwest::Url::parse(res.url().as_str()).unwrap();
            url = base.join(&url).unwrap().to_string();
        }
        if url.starts_with(&app.address) {
            return url;
        }
    }
    panic!("too many redirects, last {url}");
}
