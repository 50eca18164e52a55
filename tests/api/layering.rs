//! The code's shape, kept from rotting: module dependencies run one way (no cycle among the
//! top-level modules of any crate, nor among the submodules of one module), and no source file
//! outside tests grows past 500 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// A file's code without its test module (`#[cfg(test)]` at the start of a line, by this
/// project's convention last in the file) and without comments.
fn code_of(text: &str) -> String {
    let text = match text.find("\n#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module path of a file below a crate's `src/` (`state/store.rs` → `[state, store]`).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// `crate::a::b` paths in `code`, as `(a, b)`; grouped imports (`use crate::{a, b::c}`) too.
fn crate_paths(code: &str) -> BTreeSet<(String, Option<String>)> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> Option<String> {
        let s: String = s
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        (!s.is_empty()).then_some(s)
    };
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `securescore_crate::`, not `crate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let mut segs = item.trim().split("::");
                if let Some(a) = segs.next().and_then(ident) {
                    out.insert((a, segs.next().and_then(ident)));
                }
            }
            continue;
        }
        let mut segs = rest.split("::");
        if let Some(a) = segs.next().and_then(ident) {
            out.insert((a, segs.next().and_then(ident)));
        }
    }
    out
}

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Dependency edges of one crate: between top-level modules, and between the submodules of
/// each top-level module (keyed by it).
fn edges(src: &Path) -> (Graph, BTreeMap<String, Graph>) {
    let mut top: Graph = BTreeMap::new();
    let mut inner: BTreeMap<String, Graph> = BTreeMap::new();
    for file in rust_files(src) {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let path = module_path(src, &file);
        if path.len() == 1 && (path[0] == "lib" || path[0] == "main") {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        top.entry(path[0].clone()).or_default();
        for (a, b) in crate_paths(&code) {
            if a != path[0] {
                top.entry(path[0].clone()).or_default().insert(a);
            } else if let (Some(own), Some(b)) = (path.get(1), b) {
                if *own != b {
                    inner
                        .entry(a)
                        .or_default()
                        .entry(own.clone())
                        .or_default()
                        .insert(b);
                }
            }
        }
    }
    // Only edges to modules that exist (a `crate::Type` re-exported at the root is no module).
    let modules: BTreeSet<String> = top.keys().cloned().collect();
    for deps in top.values_mut() {
        deps.retain(|d| modules.contains(d));
    }
    (top, inner)
}

/// Every cycle's members (strongly connected components with more than one module), each as
/// a readable path `a → b → … → a`.
fn cycles(graph: &Graph) -> Vec<String> {
    let nodes: Vec<&String> = graph.keys().collect();
    let reaches = |from: &str, to: &str| -> Option<Vec<String>> {
        // Breadth-first, to name the shortest way round.
        let mut prev: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([from.to_string()]);
        while let Some(n) = queue.pop_front() {
            for d in graph.get(&n).into_iter().flatten() {
                if d == to {
                    let mut path = vec![to.to_string(), n.clone()];
                    let mut cur = n.clone();
                    while let Some(p) = prev.get(&cur) {
                        path.push(p.clone());
                        cur = p.clone();
                    }
                    path.reverse();
                    return Some(path);
                }
                if !prev.contains_key(d) && d != from {
                    prev.insert(d.clone(), n.clone());
                    queue.push_back(d.clone());
                }
            }
        }
        None
    };
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    for n in nodes {
        if seen.contains(n) {
            continue;
        }
        if let Some(path) = reaches(n, n) {
            seen.extend(path.iter().cloned());
            found.push(path.join(" → "));
        }
    }
    found
}

/// The crates of this workspace: their `src/` directories.
fn crate_sources() -> Vec<PathBuf> {
    let mut out = vec![repo().join("src")];
    for e in std::fs::read_dir(repo().join("crates")).unwrap().flatten() {
        out.push(e.path().join("src"));
    }
    out
}

#[test]
fn module_dependencies_run_one_way() {
    let mut problems = Vec::new();
    for src in crate_sources() {
        let (top, inner) = edges(&src);
        assert!(top.len() > 3, "{}: modules were read", src.display());
        for c in cycles(&top) {
            problems.push(format!("{}: top-level cycle {c}", src.display()));
        }
        for (parent, graph) in &inner {
            for c in cycles(graph) {
                problems.push(format!("{}: cycle inside {parent}: {c}", src.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_cycle_finder_names_a_cycle() {
    // The checker itself: a cycle made of two files' imports is found and named.
    let a = code_of("use crate::b::X;\n// crate::c in a comment\n#[cfg(test)]\nuse crate::d;");
    let b = code_of("use crate::{a::Y, c};");
    let mut g: Graph = BTreeMap::new();
    for (name, code) in [("a", &a), ("b", &b), ("c", &String::new())] {
        let deps = crate_paths(code).into_iter().map(|(m, _)| m).collect();
        g.insert(name.into(), deps);
    }
    assert_eq!(g["a"], BTreeSet::from(["b".to_string()]));
    assert_eq!(cycles(&g), vec!["a → b → a".to_string()]);
}

#[test]
fn no_source_file_outside_tests_exceeds_500_lines() {
    let mut files = Vec::new();
    for src in crate_sources() {
        files.extend(rust_files(&src));
    }
    files.extend(rust_files(&repo().join("examples")));
    files.extend(rust_files(&repo().join("fuzz/fuzz_targets")));
    let mut long = Vec::new();
    for f in &files {
        if f.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        let code = match text.find("\n#[cfg(test)]") {
            Some(i) => &text[..i],
            None => &text,
        };
        let lines = code.lines().count();
        if lines > 500 {
            long.push(format!("{}: {lines} lines", f.display()));
        }
    }
    assert!(files.len() > 40, "files were read");
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn the_layout_in_lib_rs_names_every_module() {
    let src = repo().join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let layout = &lib[lib.find("# Layout").expect("lib.rs has a Layout section")..];
    let mut missing = Vec::new();
    for file in rust_files(&src) {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let path = module_path(&src, &file).join("::");
        if path == "lib" || path == "main" {
            continue;
        }
        let named =
            layout.contains(&format!("`{path}`")) || layout.contains(&format!("[`{path}`]"));
        if !named {
            missing.push(path);
        }
    }
    assert!(
        missing.is_empty(),
        "lib.rs Layout does not name: {}",
        missing.join(", ")
    );
}
