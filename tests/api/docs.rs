//! The documentation keeps up with the product: every configuration key is described in the
//! operator's guide, every relative link leads to a file (and heading) that exists, and the
//! README keeps its two commands. Each scan also checks that it found something, so that a scan
//! that finds nothing fails rather than passes.

mod first_key;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every key of `config/default.toml` as `section.key` (`plans.free.max_in_flight` for nested
/// tables), every table by its name (so that an empty one such as `plans.unthrottled` counts),
/// and the keys left commented out inside a section (`# postgres_ca_file = …`), which are
/// settings too.
fn default_config_keys() -> BTreeSet<String> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut BTreeSet<String>) {
        for (key, value) in table {
            let name = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                toml::Value::Table(inner) => {
                    // Sections are headings; a nested table (`plans.free`) is named too, so
                    // that an empty one still counts.
                    if !prefix.is_empty() {
                        out.insert(name.clone());
                    }
                    walk(&name, inner, out);
                }
                _ => {
                    out.insert(name);
                }
            }
        }
    }
    let text = read(&root().join("config/default.toml"));
    let table: toml::Table = text.parse().expect("config/default.toml parses");
    let mut keys = BTreeSet::new();
    walk("", &table, &mut keys);

    let mut section: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.to_owned());
        } else if let (Some(section), Some(comment)) = (&section, line.strip_prefix('#'))
            && let Some((key, _)) = comment.trim().split_once(" = ")
            && !key.is_empty()
            && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        {
            keys.insert(format!("{section}.{key}"));
        }
    }
    keys
}

#[test]
fn every_key_of_the_default_configuration_is_described_in_the_operators_guide() {
    let keys = default_config_keys();
    // The scan sees plain, nested, empty and commented-out keys.
    for expected in [
        "server.listen",
        "webhooks.allow_private_networks",
        "plans.free.requests_per_minute",
        "plans.unthrottled",
        "storage.postgres_ca_file",
    ] {
        assert!(keys.contains(expected), "{expected} not found in {keys:?}");
    }
    let guide = read(&root().join("docs/operator.md"));
    let missing: Vec<&String> = keys
        .iter()
        .filter(|key| !guide.contains(&format!("`{key}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/operator.md does not describe these keys of config/default.toml (as `section.key`): {missing:?}"
    );
}

/// The documentation files whose links are checked: the README, CONTRIBUTING.md and docs/*.md.
fn documents() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md"), root().join("CONTRIBUTING.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The lines of a Markdown text outside fenced code blocks, with inline code spans removed.
fn prose_lines(text: &str) -> Vec<(usize, String)> {
    let mut in_fence = false;
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let mut prose = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                prose.push_str(part);
            }
        }
        lines.push((n + 1, prose));
    }
    lines
}

/// The targets of the `[text](target)` links of a text, with their line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in prose_lines(text) {
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            found.push((n, after[..end].trim().to_owned()));
            rest = &after[end..];
        }
    }
    found
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
fn anchor_of(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    prose_lines(text)
        .into_iter()
        .filter_map(|(_, line)| {
            let heading = line.trim_start_matches('#');
            (heading.len() < line.len() && heading.starts_with(' ')).then(|| anchor_of(heading))
        })
        .collect()
}

#[test]
fn every_relative_link_in_the_documentation_leads_to_a_file_and_heading_that_exist() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in documents() {
        let text = read(&file);
        let name = file.strip_prefix(root()).unwrap().display().to_string();
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let linked = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            if !linked.exists() {
                broken.push(format!("{name}:{line}: {target} (no such file)"));
                continue;
            }
            if let Some(anchor) = anchor
                && linked.extension().is_some_and(|e| e == "md")
                && !anchors(&read(&linked)).contains(anchor)
            {
                broken.push(format!("{name}:{line}: {target} (no such heading)"));
            }
        }
    }
    assert!(checked > 20, "only {checked} relative links found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_check_reads_links_and_anchors_as_github_does() {
    let text = "# Backups and restore\n\
                See [the guide](docs/operator.md#served-without-authentication) and \
                [x](https://example.com).\n\
                `[not](a-link.md)`\n\
                ```\n[nor](this.md)\n```\n\
                ### [server]\n";
    let found: Vec<String> = links(text).into_iter().map(|(_, t)| t).collect();
    assert_eq!(
        found,
        [
            "docs/operator.md#served-without-authentication",
            "https://example.com"
        ]
    );
    let heads = anchors(text);
    assert!(heads.contains("backups-and-restore"), "{heads:?}");
    assert!(heads.contains("server"), "{heads:?}");
}

#[test]
fn the_readme_keeps_the_two_commands_to_run_and_to_test() {
    let readme = read(&root().join("README.md"));
    let mut in_fence = false;
    let mut commands = BTreeSet::new();
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if in_fence {
            commands.insert(line.trim().to_owned());
        }
    }
    for command in ["cargo run --release", "cargo test"] {
        assert!(
            commands.contains(command),
            "README.md has no code line `{command}`"
        );
    }
}
