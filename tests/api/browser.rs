//! The admin pages in a real browser (headless Chromium through chromedriver): the whole key
//! workflow a person goes through, with a screenshot of every page under
//! target/browser-screenshots/.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app};
use crate::webdriver::{self, Browser};

/// In CI a missing browser is a failure; on a developer's machine the test says how to get one.
pub fn browser_missing() -> bool {
    if webdriver::available() {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install chromium and chromium-driver (see .ci/run)"
    );
    eprintln!(
        "skipped: install chromium and chromium-driver (apt-get install -y chromium chromium-driver)"
    );
    true
}

pub async fn sign_in_as_admin(app: &TestApp, browser: &mut Browser) {
    let reset = app.cli_json(&["users", "set-password", "--email", "admin@localhost"]);
    browser.goto(&format!("{}/login", app.address)).await;
    browser.screenshot("sign-in").await;
    browser.type_into("#email", "admin@localhost").await;
    browser
        .type_into("#password", reset["password"].as_str().unwrap())
        .await;
    browser.click("form button[type=submit]").await;
    choose_own_password(browser, reset["password"].as_str().unwrap()).await;
}

/// A password someone else chose is replaced before anything else: the page it leads to, then
/// the dashboard once `CHOSEN_PASSWORD` replaced `one_time`.
pub async fn choose_own_password(browser: &mut Browser, one_time: &str) {
    browser
        .wait_for("Choose your own password to continue.")
        .await;
    assert!(browser.current_url().await.ends_with("/password"));
    browser.screenshot("choose-a-password").await;
    browser.type_into("#current_password", one_time).await;
    browser
        .type_into("#new_password", crate::people::CHOSEN_PASSWORD)
        .await;
    browser
        .type_into("#confirm_password", crate::people::CHOSEN_PASSWORD)
        .await;
    browser.click("form.form button[type=submit]").await;
    browser.wait_for("<h1>Dashboard</h1>").await;
    assert!(browser.current_url().await.ends_with("/"));
}

/// Creates a key through the form and returns the secret from the show-once view.
async fn create_key(
    app: &TestApp,
    browser: &mut Browser,
    name: &str,
    preset: &str,
    ips: &str,
    shot: &str,
) -> String {
    browser.goto(&format!("{}/keys", app.address)).await;
    browser.click("a[href='/keys/new']").await;
    browser.wait_for("<h1>Create API key</h1>").await;
    browser.type_into("#name", name).await;
    browser
        .click(&format!("input[name=mode][value={preset}]"))
        .await;
    if !ips.is_empty() {
        browser.type_into("#ips", ips).await;
    }
    browser.screenshot(&format!("{shot}-form")).await;
    browser.click("form.form button[type=submit]").await;
    read_shown_key(browser, shot).await
}

async fn read_shown_key(browser: &mut Browser, shot: &str) -> String {
    browser
        .wait_for("You can only see this key once. Store it safely.")
        .await;
    assert_eq!(
        browser.property("#secret", "type").await,
        "password",
        "hidden until Show"
    );
    browser.click("[data-toggle-secret]").await;
    assert_eq!(browser.property("#secret", "type").await, "text");
    browser.screenshot(&format!("{shot}-shown-once")).await;
    browser
        .property("#secret", "value")
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

fn key_id(app: &TestApp, name: &str) -> String {
    app.db()
        .query_row(
            "SELECT id FROM api_keys WHERE name = ?1 AND replaces IS NULL",
            &[&name],
            |r| r.get(0),
        )
        .unwrap()
}

backend_tests!(a_person_manages_keys_end_to_end_in_a_real_browser);
async fn a_person_manages_keys_end_to_end_in_a_real_browser() {
    if browser_missing() {
        return;
    }
    let app = spawn_app().await;
    let mut browser = Browser::start("key-workflow").await;
    sign_in_as_admin(&app, &mut browser).await;
    // An empty workspace's dashboard says what to do first.
    assert!(
        browser
            .source()
            .await
            .contains("Start here: make the first API key")
    );
    browser.screenshot_views("dashboard-empty").await;

    // A Generate Only key limited to this machine.
    let generate = create_key(
        &app,
        &mut browser,
        "generator",
        "generate_only",
        "127.0.0.1, 10.0.0.0/8",
        "generate-only",
    )
    .await;
    assert!(generate.starts_with("bye_"));
    let allowed = app
        .get("/v1/library/models", Some(&generate))
        .await
        .status();
    assert_eq!(allowed, 200, "a Generate Only key may read the library");
    let (status, body) = app.get_json("/v1/status", &generate).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("BSE1003"))
    );

    // Renamed from its page's edit form.
    let generator = key_id(&app, "generator");
    browser
        .goto(&format!("{}/keys/{generator}", app.address))
        .await;
    browser
        .click(&format!("a[href='/keys/{generator}/edit']"))
        .await;
    browser.wait_for("<h1>Edit API key</h1>").await;
    browser.type_into("#name", "image generator").await;
    browser.screenshot_views("key-edit").await;
    // A request quota of 1,000 a month, refilled on the 15th: first with a day that is none,
    // which comes back beside the field with what was typed.
    browser.type_into("#quota_requests", "1000").await;
    browser
        .script("document.getElementById('quota_refill').value = 'monthly'; return null;")
        .await;
    browser.type_into("#quota_refill_day", "40").await;
    browser.click("form.form button[type=submit]").await;
    browser.wait_for("id=\"quota-error\"").await;
    browser
        .script("document.getElementById('quota_requests').scrollIntoView(); return null;")
        .await;
    browser.screenshot_views("key-edit-quota-error").await;
    browser
        .screenshot_narrow_at("key-edit-quota-error-field", "#quota_requests")
        .await;
    browser.type_into("#quota_refill_day", "15").await;
    browser
        .script("document.getElementById('budget_credits').scrollIntoView(); return null;")
        .await;
    browser.screenshot("key-edit-budget").await;
    browser.click("form.form button[type=submit]").await;
    browser.wait_for("<h1>image generator ").await;
    browser.wait_for("requests left, refilled on day 15").await;
    browser.screenshot_views("key-detail-quota").await;
    assert!(
        browser
            .current_url()
            .await
            .ends_with(&format!("/keys/{generator}"))
    );

    // A Full Access key, rotated with a one-hour grace: both keys work, then the old one is revoked.
    let old = create_key(&app, &mut browser, "ci", "full_access", "", "full-access").await;
    assert_eq!(app.get("/v1/status", Some(&old)).await.status(), 200);
    let id = key_id(&app, "ci");
    browser
        .goto(&format!("{}/keys/{id}/rotate", app.address))
        .await;
    browser.click("#grace_hours option[value='1']").await;
    browser.screenshot("rotate").await;
    browser.click("form.form button[type=submit]").await;
    let new = read_shown_key(&mut browser, "rotated").await;
    assert_eq!(
        app.get("/v1/status", Some(&old)).await.status(),
        200,
        "the old key works during the grace"
    );
    assert_eq!(app.get("/v1/status", Some(&new)).await.status(), 200);

    browser.goto(&format!("{}/keys/{id}", app.address)).await;
    assert!(browser.source().await.contains("Requests since rotation"));
    browser.screenshot_views("key-detail").await;
    browser
        .goto(&format!("{}/keys/{id}/revoke", app.address))
        .await;
    browser.screenshot("revoke").await;
    browser.click("form.form button[type=submit]").await;
    browser.wait_for("<h1>API keys</h1>").await;
    assert_eq!(app.get("/v1/status", Some(&old)).await.status(), 401);
    browser.screenshot_views("keys").await;
    // A row's actions are in its menu: open it, disable the key from there, enable it again.
    browser
        .click("tbody tr:first-child details.menu summary")
        .await;
    browser.screenshot("keys-menu").await;
    browser
        .click("tbody tr:first-child details.menu button[type=submit]")
        .await;
    browser.wait_for(">Disabled</span>").await;
    browser
        .click("tbody tr:first-child details.menu summary")
        .await;
    browser
        .click("tbody tr:first-child details.menu button[type=submit]")
        .await;
    // The list comes back to itself: the old page shows until the new one has loaded.
    browser.wait_until_gone(">Disabled</span>").await;
    assert!(browser.source().await.contains("<h1>API keys</h1>"));

    // The dashboard: the day's requests, and a chart whose bars read out their numbers on focus.
    browser.goto(&format!("{}/", app.address)).await;
    browser.screenshot_views("dashboard").await;
    let logged = app.count("SELECT count(*) FROM request_logs", &[]);
    let readout = "const bars = document.querySelectorAll('svg.requests g.bar'); const last = bars[bars.length - 1]; last.focus(); const text = last.querySelector('text.readout'); return [bars.length, getComputedStyle(text).visibility, text.textContent, document.querySelector('svg.requests text.hint').getBoundingClientRect().width];";
    let shown = browser.script(readout).await;
    assert_eq!(shown[0], json!(24), "an hour a bar");
    assert_eq!(shown[1], json!("visible"), "the focused bar reads out");
    assert!(
        shown[2]
            .as_str()
            .unwrap()
            .contains(&format!(": {logged} requests; p50 ")),
        "{shown}"
    );
    browser.screenshot("dashboard-bar-focused").await;
    browser
        .script("document.getElementById('traffic').scrollIntoView();")
        .await;
    browser.screenshot_views("dashboard-chart").await;
    browser.click("nav.ranges a[href='?range=7d']").await;
    browser
        .wait_for("<h2 id=\"traffic\">Requests, last 7 days</h2>")
        .await;
    assert!(browser.current_url().await.ends_with("/?range=7d"));
    let week = browser
        .script("return [...document.querySelectorAll('svg.requests text.axis')].map(t => t.textContent);")
        .await;
    let today = time::OffsetDateTime::now_utc().date();
    let today = format!("{:02}-{:02}", u8::from(today.month()), today.day());
    assert!(week.to_string().contains(&today), "dated x axis: {week}");

    // The requests are on the logs page and in its CSV export.
    browser.goto(&format!("{}/logs", app.address)).await;
    let logs = browser.source().await;
    assert!(logs.contains("<code>/v1/status</code>") && logs.contains(">BSE1003</code>"));
    browser.screenshot_views("logs").await;
    let csv = browser
        .script("return fetch('/logs/export/csv').then(r => r.text());")
        .await;
    let csv = csv.as_str().unwrap();
    assert!(csv.starts_with("created_at,request_id"));
    assert!(
        csv.lines().filter(|l| l.contains("/v1/status")).count() >= 5,
        "{csv}"
    );
    // A row opens to every field it keeps.
    browser
        .click("table.logs tbody tr:first-child a[href^='/logs/']")
        .await;
    browser.wait_for("<dt>User agent</dt>").await;
    browser.screenshot_views("log-row").await;

    // Generations: thumbnails load, the image and the H.264 video are shown on their pages.
    let workspace: String = app
        .db()
        .query_row(
            "SELECT m.account_id FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE u.email = 'admin@localhost'",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    app.cli_json(&["credits", "add", "--account", &workspace, "--amount", "1"]);
    let full = app.cli_json(&[
        "keys",
        "create",
        "--account",
        &workspace,
        "--name",
        "pictures",
        "--preset",
        "full_access",
    ]);
    let full = full["key"].as_str().unwrap().to_owned();
    let image = app
        .generate(
            "image",
            "tidegate/pattern-1",
            &full,
            json!({"generation_prompt": "harbour lights"}),
        )
        .await;
    app.wait_for(&full, &image, &["succeeded"]).await;
    let video = app
        .generate(
            "video",
            "tidegate/motion-1",
            &full,
            json!({"generation_prompt": "swell", "generation_duration": 1}),
        )
        .await;
    app.wait_for(&full, &video, &["succeeded"]).await;
    browser.goto(&format!("{}/generations", app.address)).await;
    let loaded = browser.script(LOADED_IMAGES).await;
    assert_eq!(loaded, json!(1), "the thumbnail decodes");
    browser.screenshot_views("generations").await;
    browser
        .goto(&format!("{}/generations/{image}", app.address))
        .await;
    assert_eq!(
        browser.script(LOADED_IMAGES).await,
        json!(1),
        "the output decodes"
    );
    browser.screenshot("generation-image").await;
    browser
        .goto(&format!("{}/generations/{video}", app.address))
        .await;
    let width = browser.script(VIDEO_WIDTH).await;
    assert_eq!(width, json!(426), "the browser decodes the MP4");
    browser.screenshot("generation-video").await;

    for page in ["usage", "activity", "members", "settings", "instance"] {
        browser.goto(&format!("{}/{page}", app.address)).await;
        browser.screenshot_views(page).await;
        // The navigation marks where the person is.
        assert_eq!(
            browser
                .script("return document.querySelector('nav a[aria-current=page]').getAttribute('href');")
                .await,
            json!(format!("/{page}"))
        );
    }
    // Notifications sit under Settings, which the navigation marks.
    browser
        .goto(&format!("{}/notifications", app.address))
        .await;
    browser.screenshot_views("notifications").await;
    browser
        .script("document.getElementById('recipients').scrollIntoView(); return null;")
        .await;
    browser.screenshot("notifications-members").await;
    browser
        .goto(&format!("{}/settings#email", app.address))
        .await;
    browser.screenshot("settings-email").await;

    // Someone who signs in only through single sign-on reads that they have no password here.
    let hash: String = app
        .db()
        .query_row(
            "SELECT password_hash FROM users WHERE email = 'admin@localhost'",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    let set_hash = "UPDATE users SET password_hash = ?1 WHERE email = 'admin@localhost'";
    app.db().execute(set_hash, &[&"!single-sign-on"]).unwrap();
    browser.goto(&format!("{}/password", app.address)).await;
    browser.wait_for("have no password here to change").await;
    browser.screenshot_views("password-single-sign-on").await;
    app.db().execute(set_hash, &[&hash]).unwrap();

    // The theme: the system's by default; a choice is kept from page to page.
    let theme = "return document.documentElement.dataset.theme || 'auto';";
    assert_eq!(browser.script(theme).await, json!("auto"));
    browser.click("button[data-theme-toggle]").await;
    assert_eq!(browser.script(theme).await, json!("dark"));
    browser.goto(&format!("{}/keys", app.address)).await;
    assert_eq!(browser.script(theme).await, json!("dark"), "remembered");
    browser.screenshot("keys-dark-by-choice").await;
    browser.click("button[data-theme-toggle]").await;
    assert_eq!(browser.script(theme).await, json!("light"));
    browser.click("button[data-theme-toggle]").await;
    browser.goto(&format!("{}/keys", app.address)).await;
    assert_eq!(browser.script(theme).await, json!("auto"));
}

/// How many images on the page have decoded (waits for them to finish loading).
const LOADED_IMAGES: &str = "return Promise.all([...document.querySelectorAll('main img')].map(i => i.decode().then(() => i.naturalWidth > 0, () => false))).then(r => r.filter(Boolean).length);";

/// The decoded width of the page's video, or why there is none.
const VIDEO_WIDTH: &str = "const v = document.querySelector('video'); return new Promise(done => { if (v.readyState >= 1) return done(v.videoWidth); v.addEventListener('loadedmetadata', () => done(v.videoWidth)); v.addEventListener('error', () => done('error ' + (v.error && v.error.code))); setTimeout(() => done('no metadata after 10 s'), 10000); });";

backend_tests!(user_supplied_names_are_shown_as_text);
async fn user_supplied_names_are_shown_as_text() {
    if browser_missing() {
        return;
    }
    let app = spawn_app().await;
    let admin_account = app.administrator_workspace();
    let name =
        "<script>document.title='owned'</script><img src=x onerror=\"document.title='owned'\">";
    app.cli_json(&[
        "keys",
        "create",
        "--account",
        &admin_account,
        "--name",
        name,
        "--preset",
        "read_only",
    ]);
    let mut browser = Browser::start("escaping").await;
    sign_in_as_admin(&app, &mut browser).await;
    browser.goto(&format!("{}/keys", app.address)).await;
    browser.screenshot("keys-with-markup-in-a-name").await;
    let shown = browser
        .script("return document.querySelector('td.name a').textContent;")
        .await;
    assert_eq!(shown, name, "the name is text, not markup");
    let title = browser.script("return document.title;").await;
    assert_eq!(title, "API keys · Tidegate", "no script ran");
    let images = browser
        .script("return document.querySelectorAll('td.name img').length;")
        .await;
    assert_eq!(images, 0);
}
