//! Parse errors as people read them: the key as they wrote it (in the file, as the environment
//! variable, or as the command-line flag), where it came from, what was wrong, and what would
//! be right (a duration's format, the keys that exist).

use super::overrides::{flag_of, SOURCE};
use super::ENV_PREFIX;
use figment::error::{Actual, Kind};
use figment::Metadata;

/// Keys whose values are durations (humantime: `30s`, `5m`, `1h30m`).
const DURATION_KEYS: [&str; 5] = [
    "graph.timeout",
    "graph.retry_backoff",
    "graph.app_request_window",
    "refresh.interval",
    "refresh.failure_backoff",
];

/// The key as the user gave it, and where.
fn locate(path: &[String], metadata: Option<&Metadata>) -> (String, String) {
    let key = path.join(".");
    let Some(md) = metadata else {
        return (format!("`{key}`"), String::new());
    };
    if md.name == SOURCE {
        let flag = flag_of(&key).unwrap_or("a flag");
        return (format!("`{flag}`"), format!(" (from the {SOURCE})"));
    }
    if md.name.contains("environment") {
        let var = format!("{ENV_PREFIX}{}", path.join("__").to_ascii_uppercase());
        return (
            format!("`{key}`"),
            format!(" (from the environment variable {var})"),
        );
    }
    match &md.source {
        Some(src) => (format!("`{key}`"), format!(" (from {} {src})", md.name)),
        None => (format!("`{key}`"), format!(" (from {})", md.name)),
    }
}

fn actual(a: &Actual) -> String {
    match a {
        Actual::Str(s) => format!("`{s}`"),
        Actual::Char(c) => format!("`{c}`"),
        Actual::Bool(b) => format!("`{b}`"),
        Actual::Signed(n) => format!("`{n}`"),
        Actual::Unsigned(n) => format!("`{n}`"),
        Actual::Float(n) => format!("`{n}`"),
        other => other.to_string(),
    }
}

/// What a value should have been, in words.
fn wanted(key: &str, expected: &str) -> String {
    if DURATION_KEYS.contains(&key) {
        return "a duration such as `30s`, `5m` or `1h`".into();
    }
    match expected {
        "u32" | "u64" | "usize" => "a whole number".into(),
        "a boolean" | "bool" => "`true` or `false`".into(),
        other => other.trim_matches('`').to_string(),
    }
}

/// A parser's multi-line message on one line, without its source excerpt (the `|` lines):
/// `TOML parse error at line 1, column 7: invalid table header; expected `.`, `]``.
fn one_line(message: &str) -> String {
    let mut lines = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains('|'));
    let first = lines.next().unwrap_or_default().to_string();
    let rest: Vec<&str> = lines.collect();
    if rest.is_empty() {
        first
    } else {
        format!("{first}: {}", rest.join("; "))
    }
}

/// One sentence for one error of figment's.
fn describe_one(e: &figment::Error) -> String {
    let key = e.path.join(".");
    let (shown, origin) = locate(&e.path, e.metadata.as_ref());
    match &e.kind {
        Kind::UnknownField(field, expected) => {
            let mut path = e.path.clone();
            if path.last() != Some(field) {
                path.push(field.clone());
            }
            let (shown, origin) = locate(&path, e.metadata.as_ref());
            format!(
                "invalid configuration: unknown key {shown}{origin}; expected one of: {}",
                expected.join(", ")
            )
        }
        Kind::InvalidType(found, expected) | Kind::InvalidValue(found, expected) => format!(
            "invalid configuration: key {shown}{origin}: {} is not {}",
            actual(found),
            wanted(&key, expected)
        ),
        Kind::UnknownVariant(found, expected) => format!(
            "invalid configuration: key {shown}{origin}: `{found}` is not one of: {}",
            expected.join(", ")
        ),
        Kind::Message(message) if e.path.is_empty() => {
            // A file-level problem: missing, unreadable, or not TOML.
            let what = match e.metadata.as_ref().and_then(|m| m.source.as_ref()) {
                Some(src) => format!("config file {src}"),
                None => "configuration".into(),
            };
            format!("cannot read {what}: {}", one_line(message))
        }
        Kind::Message(message) => {
            let message = one_line(message);
            if DURATION_KEYS.contains(&key.as_str()) {
                format!(
                    "invalid configuration: key {shown}{origin}: {message}; {} is expected",
                    wanted(&key, "")
                )
            } else {
                format!("invalid configuration: key {shown}{origin}: {message}")
            }
        }
        other => format!("invalid configuration: key {shown}{origin}: {other}"),
    }
}

/// Every error figment found, one line each.
pub fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| describe_one(&e))
        .collect::<Vec<_>>()
        .join("\n")
}
