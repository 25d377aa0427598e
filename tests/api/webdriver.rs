//! Headless Chromium through Debian's chromedriver, driven by fantoccini: open pages, fill and
//! click elements, read values, run a script, take screenshots.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether the browser is installed; `.ci/run` installs it, a developer may not have it.
pub fn available() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

pub struct Browser {
    driver: Child,
    client: Client,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
    shots: PathBuf,
    shot_count: u32,
}

impl Browser {
    pub async fn start(shots: &str) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--window-size=1280,1000".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        // chromedriver takes a moment to listen: connect until it answers, with a deadline.
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connected = ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&base)
                .await;
            match connected {
                Ok(client) => break client,
                Err(e) => {
                    assert!(Instant::now() < deadline, "chromedriver did not start: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let session = client
            .session_id()
            .await
            .unwrap()
            .expect("a WebDriver session");
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/browser-screenshots")
            .join(shots);
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            driver,
            client,
            base,
            session,
            _profile: profile,
            shots,
            shot_count: 0,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    pub async fn property(&self, css: &str, name: &str) -> Value {
        let value = self.find(css).await.prop(name).await.unwrap();
        value.map_or(Value::Null, Value::String)
    }

    /// Runs `script` (which may `return` a value, or a promise) in the page.
    pub async fn script(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Waits (polling, with a deadline) until the page's source contains `text`: after a click
    /// that submits a form, the next page may still be loading.
    pub async fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(source) = self.client.source().await
                && source.contains(text)
            {
                return;
            }
            assert!(Instant::now() < deadline, "the page never showed {text:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (polling, with a deadline) until the page's source no longer contains `text`: a
    /// form that leads back to the same page shows the old page until the new one is loaded.
    pub async fn wait_until_gone(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(source) = self.client.source().await
                && !source.contains(text)
            {
                return;
            }
            assert!(Instant::now() < deadline, "the page kept showing {text:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn current_url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// Whether pages render in the dark palette (`prefers-color-scheme: dark`), through the
    /// DevTools command chromedriver passes on.
    pub async fn set_dark(&self, dark: bool) {
        let scheme = if dark { "dark" } else { "light" };
        let res = reqwest::Client::new()
            .post(format!(
                "{}/session/{}/goog/cdp/execute",
                self.base, self.session
            ))
            .json(&json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": { "features": [{ "name": "prefers-color-scheme", "value": scheme }] }
            }))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }

    /// Screenshots of the page as its users see it: light and dark, 1400 and 600 pixels wide.
    pub async fn screenshot_views(&mut self, name: &str) {
        for dark in [false, true] {
            self.set_dark(dark).await;
            for width in [1400, 600] {
                self.client.set_window_size(width, 1000).await.unwrap();
                let scheme = if dark { "dark" } else { "light" };
                self.screenshot(&format!("{name}-{scheme}-{width}")).await;
                let wider = self.script(WIDER_THAN_THE_WINDOW).await;
                assert_eq!(
                    wider,
                    json!([]),
                    "{name} at {width} px scrolls sideways because of these elements"
                );
            }
        }
        self.set_dark(false).await;
        self.client.set_window_size(1280, 1000).await.unwrap();
    }

    /// Light and dark at 600 pixels wide, scrolled to `css`: a part of a long page as a phone
    /// shows it.
    pub async fn screenshot_narrow_at(&mut self, name: &str, css: &str) {
        self.client.set_window_size(600, 1000).await.unwrap();
        for dark in [false, true] {
            self.set_dark(dark).await;
            let scroll = format!("document.querySelector('{css}').scrollIntoView(); return null;");
            self.script(&scroll).await;
            let scheme = if dark { "dark" } else { "light" };
            self.screenshot(&format!("{name}-{scheme}-600")).await;
        }
        self.set_dark(false).await;
        self.client.set_window_size(1280, 1000).await.unwrap();
    }

    /// Saves a PNG of the page under target/browser-screenshots/.
    pub async fn screenshot(&mut self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        self.shot_count += 1;
        std::fs::write(
            self.shots
                .join(format!("{:02}-{name}.png", self.shot_count)),
            png,
        )
        .unwrap();
    }
}

/// The innermost elements that reach past the window's right edge (the page would scroll
/// sideways), as `tag.class` names; a stacked table's cells are laid out by then.
const WIDER_THAN_THE_WINDOW: &str = "const edge = document.documentElement.clientWidth; const out = []; if (document.documentElement.scrollWidth > edge + 1) out.push('the page is ' + document.documentElement.scrollWidth + ' px wide'); for (const el of document.body.querySelectorAll('*')) { const r = el.getBoundingClientRect(); if (r.width > 0 && r.right > edge + 1 && ![...el.children].some(c => c.getBoundingClientRect().right > edge + 1)) { let hidden = false; for (let p = el.parentElement; p; p = p.parentElement) { const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'hidden' || o === 'scroll') { hidden = p.getBoundingClientRect().right <= edge + 1; if (hidden) break; } } if (!hidden && !el.closest('.visually-hidden')) out.push(el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined ? '.' + el.className : '') + ' ' + (el.textContent || '').trim().slice(0, 40)); } } return out;";

impl Drop for Browser {
    /// Ends the session first, which closes Chromium: killing chromedriver alone would orphan the
    /// browser. A plain blocking request, so this also runs when a test panics.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let addr = self.base.trim_start_matches("http://").to_owned();
        if let Ok(mut stream) = std::net::TcpStream::connect(&addr) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
