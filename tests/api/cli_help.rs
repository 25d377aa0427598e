//! Every command's help: each flag and argument says what it is for.

use std::process::Command;

fn help(path: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tidegate"))
        .args(path)
        .arg("--help")
        .output()
        .expect("run tidegate");
    assert!(out.status.success(), "{path:?} --help");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The subcommands a help page lists (without `help`).
fn subcommands(page: &str) -> Vec<String> {
    page.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Each option or argument of a help page and whether it has help text beyond a default.
fn entries(page: &str) -> Vec<(String, bool)> {
    let mut found: Vec<(String, bool)> = Vec::new();
    let mut in_list = false;
    for line in page.lines() {
        if line == "Options:" || line == "Arguments:" {
            in_list = true;
            continue;
        }
        if !line.starts_with(' ') && !line.is_empty() {
            in_list = false;
        }
        if !in_list || line.trim().is_empty() {
            continue;
        }
        let described = |text: &str| {
            let text = text.trim();
            !text.is_empty() && !text.starts_with("[default:") && !text.starts_with("[alias")
        };
        let indent = line.len() - line.trim_start().len();
        if indent <= 6 {
            // `--name <NAME>  Its help`, or the name alone with its help on the lines below.
            let (name, text) = line.trim().split_once("  ").unwrap_or((line.trim(), ""));
            found.push((name.to_owned(), described(text)));
        } else if let Some(last) = found.last_mut() {
            last.1 |= described(line);
        }
    }
    found
}

#[test]
fn every_flag_and_argument_of_every_command_has_help_text() {
    let mut missing = Vec::new();
    let mut pages = 0;
    let mut queue: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(path) = queue.pop() {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        let page = help(&args);
        pages += 1;
        for (entry, described) in entries(&page) {
            if !described {
                missing.push(format!("tidegate {} {entry}", path.join(" ")));
            }
        }
        for sub in subcommands(&page) {
            let mut next = path.clone();
            next.push(sub);
            queue.push(next);
        }
    }
    assert!(pages > 30, "walked only {pages} help pages");
    assert!(
        missing.is_empty(),
        "without help text:\n{}",
        missing.join("\n")
    );
}
