//! Two-step sign-in in a real browser: the set-up from the security page with a code computed
//! from the secret the page shows, the recovery codes, then a sign-in that asks for the code.
//! Screenshots of each page, light and dark, at 1400 and 600 pixels.

use crate::browser::{browser_missing, sign_in_as_admin};
use crate::helpers::spawn_app;
use crate::second_factor::code_now;
use crate::webdriver::Browser;

#[tokio::test]
async fn a_person_sets_up_two_step_sign_in_and_signs_in_with_a_code() {
    if browser_missing() {
        return;
    }
    let app = spawn_app().await;
    let mut browser = Browser::start("second-factor").await;
    sign_in_as_admin(&app, &mut browser).await;
    browser.click("header a[href='/security']").await;
    browser.wait_for("<h1>Sign-in and security</h1>").await;
    assert!(browser.source().await.contains("This session"));
    browser.screenshot_views("security-off").await;

    browser.click("a[href='/security/two-factor']").await;
    browser.wait_for("<h1>Set up two-step sign-in</h1>").await;
    let secret = browser.property("#totp-secret", "textContent").await;
    let secret = secret.as_str().unwrap().to_owned();
    browser.type_into("#code", "12345").await;
    browser.click("form.form button[type=submit]").await;
    browser.wait_for("is not a code").await;
    assert_eq!(
        browser.property("#code", "value").await,
        serde_json::json!("12345"),
        "the input is kept"
    );
    browser.screenshot_views("two-factor-set-up-error").await;
    browser.type_into("#code", &code_now(&app, &secret)).await;
    browser.click("form.form button[type=submit]").await;
    browser.wait_for("Two-step sign-in is on").await;
    browser.screenshot_views("recovery-codes").await;
    browser.click("a.button").await;
    browser.wait_for("<h1>Dashboard</h1>").await;
    browser.goto(&format!("{}/security", app.address)).await;
    browser.wait_for("10 recovery codes are left").await;
    browser.screenshot_views("security-on").await;
    // The administrator's view: who has a factor, the reset, who must have one.
    browser.goto(&format!("{}/instance", app.address)).await;
    browser
        .wait_for("Reset two-step sign-in of admin@localhost")
        .await;
    browser
        .script("document.getElementById('requirement').scrollIntoView({block: 'end'})")
        .await;
    browser.screenshot_views("instance-two-step").await;

    browser.click("form[action='/logout'] button").await;
    browser.wait_for("<h1>Sign in to Tidegate</h1>").await;
    browser.type_into("#email", "admin@localhost").await;
    browser
        .type_into("#password", crate::people::CHOSEN_PASSWORD)
        .await;
    browser.click("form button[type=submit]").await;
    browser.wait_for("<h1>Two-step sign-in</h1>").await;
    browser.screenshot_views("sign-in-code").await;
    // The set-up spent this step's code; the app shows the next one 30 seconds later.
    app.clock.advance(30_000);
    browser.type_into("#code", &code_now(&app, &secret)).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for("<h1>Dashboard</h1>").await;
}
