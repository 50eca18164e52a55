//! `rust-version` in Cargo.toml is the real minimum: the highest `rust-version` any locked
//! dependency that this build compiled declares.

use std::path::PathBuf;

fn version(s: &str) -> Vec<u32> {
    s.split('.').filter_map(|p| p.parse().ok()).collect()
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo"))
}

#[test]
fn rust_version_is_what_the_locked_dependencies_need() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let declared = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("the workspace declares rust-version");
    let registries: Vec<PathBuf> = std::fs::read_dir(cargo_home().join("registry/src"))
        .expect("the registry sources of this build")
        .flatten()
        .map(|e| e.path())
        .collect();
    let mut needed: Vec<(Vec<u32>, String)> = Vec::new();
    let mut read = 0;
    for block in lock.split("[[package]]").skip(1) {
        let field = |k: &str| {
            block.lines().find_map(|l| {
                l.strip_prefix(&format!("{k} = \""))
                    .and_then(|v| v.strip_suffix('"'))
            })
        };
        let (Some(name), Some(v)) = (field("name"), field("version")) else {
            continue;
        };
        if field("source").is_none() {
            continue; // this workspace's own crates
        }
        // Platform-specific crates for other targets are locked but never downloaded here.
        let Some(toml) = registries
            .iter()
            .map(|r| r.join(format!("{name}-{v}/Cargo.toml")))
            .find(|p| p.exists())
        else {
            continue;
        };
        read += 1;
        let text = std::fs::read_to_string(toml).unwrap();
        if let Some(rv) = text.lines().find_map(|l| {
            l.strip_prefix("rust-version = \"")
                .and_then(|v| v.strip_suffix('"'))
        }) {
            needed.push((version(rv), format!("{name} {v} (rust-version {rv})")));
        }
    }
    assert!(read > 100, "the locked dependencies were read ({read})");
    needed.sort();
    let (highest, who) = needed.last().cloned().unwrap();
    assert_eq!(
        version(declared),
        highest,
        "Cargo.toml says rust-version {declared}; the highest any dependency needs is {who}"
    );
}
