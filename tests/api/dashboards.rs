//! Dashboards: generated from the mixin (rules.rs checks the committed files are a fresh build),
//! valid against Grafana's schema, and following the conventions an ops wall of 500 tenants
//! needs. Their queries run against a real Prometheus in real_tools.rs.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn dashboards() -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(repo().join("dashboards")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            out.push((
                name,
                serde_json::from_str(&text).expect("dashboard is JSON"),
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(out.len(), 3, "fleet, tenant and exporter dashboards");
    out
}

/// Every (panel title, refId, expr) of a dashboard.
pub fn queries(d: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            out.push((
                p["title"].as_str().unwrap().to_string(),
                t["refId"].as_str().unwrap().to_string(),
                t["expr"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

fn npm_tools() -> PathBuf {
    let dir = crate::helpers::installed_tool(
        "grafana-schema",
        "node_modules/@grafana/schema/package.json",
        "@grafana/schema",
    );
    crate::helpers::installed_tool("grafana-schema", "node_modules/.bin/tsc", "typescript");
    dir
}

/// Type-checks `files` (strict, no emit) with the TypeScript installed in `dir`.
fn tsc(dir: &Path, files: &[PathBuf]) -> std::process::Output {
    Command::new(dir.join("node_modules/.bin/tsc"))
        .args([
            "--noEmit",
            "--strict",
            "--moduleResolution",
            "bundler",
            "--module",
            "esnext",
        ])
        .args(["--target", "es2022", "--skipLibCheck"])
        .args(files)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn dashboards_type_check_against_grafana_schema() {
    let dir = npm_tools();
    let header =
        std::fs::read_to_string(repo().join("tests/dashboards/typecheck-header.ts")).unwrap();
    let mut files = Vec::new();
    for (name, _) in dashboards() {
        let json = std::fs::read_to_string(repo().join("dashboards").join(&name)).unwrap();
        let ts = dir.join(name.replace(".json", ".ts").replace('-', "_"));
        std::fs::write(
            &ts,
            format!("{header}export const d = (\n{json}) satisfies Lit<Dashboard>;\n"),
        )
        .unwrap();
        files.push(ts);
    }
    let out = tsc(&dir, &files);
    assert!(
        out.status.success(),
        "tsc: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The check itself catches what it should: a misspelt key and a wrong enum value.
    let json = std::fs::read_to_string(repo().join("dashboards/securescore-fleet.json")).unwrap();
    for broken in [
        json.replacen("\"title\":", "\"titel\":", 2),
        json.replace("\"absolute\"", "\"absolut\""),
    ] {
        let ts = dir.join("broken.ts");
        std::fs::write(
            &ts,
            format!("{header}export const d = (\n{broken}) satisfies Lit<Dashboard>;\n"),
        )
        .unwrap();
        let out = tsc(&dir, std::slice::from_ref(&ts));
        assert!(
            !out.status.success(),
            "a broken dashboard must fail the type check"
        );
        std::fs::remove_file(&ts).unwrap();
    }
}

#[test]
fn dashboards_follow_the_conventions() {
    let mut uids = std::collections::HashSet::new();
    for (name, d) in dashboards() {
        let uid = d["uid"].as_str().unwrap();
        assert!(uid.starts_with("securescore-"), "{name}: stable uid");
        assert!(uids.insert(uid.to_string()));
        assert!(
            d["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == "securescore"),
            "{name}: tags"
        );
        let refresh = d["refresh"].as_str().unwrap();
        assert!(
            ["15m", "30m", "1h"].contains(&refresh),
            "{name}: modest refresh, got {refresh}"
        );
        let vars = d["templating"]["list"].as_array().unwrap();
        assert_eq!(
            vars[0]["type"], "datasource",
            "{name}: ${{datasource}} variable first"
        );
        assert_eq!(vars[0]["query"], "prometheus");
        assert_eq!(vars[1]["name"], "job", "{name}: job variable");
        if vars.len() > 2 {
            assert_eq!(vars[2]["name"], "tenant");
            let q = vars[2]["query"]["query"].as_str().unwrap();
            assert!(
                q.contains("job=~\"$job\""),
                "{name}: tenant is chained to job: {q}"
            );
        }
        let text = d.to_string();
        // No hard-coded datasource uids anywhere: every datasource is the variable.
        let ds_refs = text.matches("\"uid\":\"").count();
        let var_refs = text.matches("\"uid\":\"${datasource}\"").count();
        assert_eq!(
            ds_refs,
            var_refs + 1,
            "{name}: only the dashboard's own uid is literal"
        );
        let mut titles = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        for p in d["panels"].as_array().unwrap() {
            // Stable, explicit ids: links to a panel and Grafana's saved state survive edits.
            let id = p["id"].as_u64().expect("every panel has an id");
            assert!(ids.insert(id), "{name}: duplicate panel id {id}");
            // No query depends on the zoom level ($__rate_interval, $__interval, $__range).
            assert!(
                !p.to_string().contains("$__"),
                "{name}: zoom-dependent query"
            );
            let title = p["title"].as_str().unwrap();
            assert!(
                titles.insert(title),
                "{name}: duplicate panel title {title}"
            );
            assert_eq!(p["datasource"]["uid"], "${datasource}");
            let g = &p["gridPos"];
            assert!(
                g["x"].as_u64().unwrap() + g["w"].as_u64().unwrap() <= 24,
                "{name}/{title}: fits the grid"
            );
            assert!(
                !p["description"].as_str().unwrap().is_empty(),
                "{name}/{title}: has a description"
            );
            for t in p["targets"].as_array().unwrap() {
                assert_eq!(t["datasource"]["uid"], "${datasource}");
                let expr = t["expr"].as_str().unwrap();
                assert!(
                    expr.contains("$job"),
                    "{name}/{title}: filters by job: {expr}"
                );
            }
        }
    }
}

/// The colour Grafana gives `v`: the highest step at or below it (the first step has no value).
fn threshold_colour(steps: &[serde_json::Value], v: f64) -> String {
    let mut colour = String::new();
    for s in steps {
        let reached = match s["value"].as_f64() {
            None => true,
            Some(at) => v >= at,
        };
        if reached {
            colour = s["color"].as_str().unwrap_or_default().to_string();
        }
    }
    colour
}

/// Every band-coloured panel says what the contract says: 65 % or less is concern (inclusive),
/// above it up to 80 % good, 80 % or more excellent.
#[test]
fn band_thresholds_keep_the_65_percent_edge_inclusive() {
    let mut checked = 0;
    for (name, d) in dashboards() {
        for p in d["panels"].as_array().unwrap() {
            let steps = &p["fieldConfig"]["defaults"]["thresholds"]["steps"];
            let Some(steps) = steps.as_array() else {
                continue;
            };
            let colours: Vec<&str> = steps.iter().filter_map(|s| s["color"].as_str()).collect();
            // The score bands (ratios); other red/orange/green scales (days, seconds) differ.
            if colours != ["red", "orange", "green"] || steps[2]["value"].as_f64() != Some(0.8) {
                continue;
            }
            let title = p["title"].as_str().unwrap_or_default();
            for (v, want) in [
                (0.5, "red"),
                (0.65, "red"),
                (0.6500001, "orange"),
                (0.7999, "orange"),
                (0.8, "green"),
                (1.0, "green"),
            ] {
                assert_eq!(threshold_colour(steps, v), want, "{name} / {title} at {v}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 3, "band-coloured panels were found ({checked})");
}

/// The wall at 500 tenants: no panel draws a line or a bar per tenant, top/bottom tables are as
/// tall as their rows, and tenant cells link to the tenant board.
#[test]
fn boards_hold_at_500_tenants() {
    for (name, d) in dashboards() {
        for p in d["panels"].as_array().unwrap() {
            let title = p["title"].as_str().unwrap();
            let kind = p["type"].as_str().unwrap();
            for t in p["targets"].as_array().unwrap() {
                let legend = t["legendFormat"].as_str().unwrap_or_default();
                let per_tenant_viz = ["timeseries", "bargauge", "state-timeline"].contains(&kind);
                let one_tenant = t["expr"].as_str().unwrap().contains("tenant=\"$tenant\"");
                assert!(
                    !(per_tenant_viz && legend.contains("{{tenant}}") && !one_tenant),
                    "{name} / {title}: one {kind} series per tenant"
                );
            }
            if kind == "table" && name != "securescore-tenant.json" {
                // Tables on the fleet and exporter boards either are bounded (topk/bottomk, or
                // only failing tenants) and tall enough, or are the full sortable list.
                let text = p["targets"].to_string();
                let bounded =
                    text.contains("topk(") || text.contains("bottomk(") || text.contains("== 0");
                if bounded {
                    let h = p["gridPos"]["h"].as_u64().unwrap();
                    assert!(
                        h >= 17,
                        "{name} / {title}: {h} grid units cannot show 15 rows"
                    );
                }
                let links = p["fieldConfig"]["overrides"].to_string();
                assert!(
                    links.contains("/d/securescore-tenant/")
                        && links.contains("var-tenant=${__value.raw}"),
                    "{name} / {title}: tenant cells link to the tenant board"
                );
            }
        }
    }
    // The tenant board's actions leave out what the status pages leave out.
    let (_, tenant) = dashboards()
        .into_iter()
        .find(|(n, _)| n == "securescore-tenant.json")
        .unwrap();
    let actions = queries(&tenant)
        .into_iter()
        .find(|(t, r, _)| t == "Recommended actions" && r == "A")
        .unwrap()
        .2;
    assert!(
        actions.contains("deprecated=\"false\"")
            && actions.contains("state!~\"ignored|third_party\"")
    );
}
