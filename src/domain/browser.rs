//! A browser's self-description (`User-Agent`) as a person recognises it on their sessions page
//! (docs/admin.md, "Your sessions"): "Chrome on Linux", "Firefox on Windows". A short label is
//! all the page needs; the header in full is kept beside it.

/// The browser and system named by a `User-Agent` header, or "Unknown browser".
pub fn describe(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|ua| !ua.trim().is_empty()) else {
        return "Unknown browser".to_owned();
    };
    // Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari", and a headless
    // browser says both "HeadlessChrome" and "Chrome".
    const BROWSERS: [(&str, &str); 9] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("HeadlessChrome", "Headless Chrome"),
        ("Chromium", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Firefox/", "Firefox"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("python-requests", "Python requests"),
    ];
    const SYSTEMS: [(&str, &str); 7] = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    let browser = BROWSERS.iter().find(|(needle, _)| ua.contains(needle));
    let system = SYSTEMS.iter().find(|(needle, _)| ua.contains(needle));
    match (browser, system) {
        (Some((_, b)), Some((_, s))) => format!("{b} on {s}"),
        (Some((_, b)), None) => (*b).to_owned(),
        (None, Some((_, s))) => format!("A browser on {s}"),
        (None, None) => ua
            .split('/')
            .next()
            .unwrap_or(ua)
            .chars()
            .take(40)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_browsers_are_named_with_their_system() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(describe(Some(chrome)), "Chrome on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
        assert_eq!(describe(Some(edge)), "Edge on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(describe(Some(safari)), "Safari on iPhone");
        let firefox =
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.0; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(describe(Some(firefox)), "Firefox on macOS");
        assert_eq!(describe(Some("curl/8.5.0")), "curl");
        assert_eq!(describe(None), "Unknown browser");
        assert_eq!(describe(Some("reqwest/0.12")), "reqwest");
    }
}
