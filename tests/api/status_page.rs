//! The status page in a real browser: headless Chromium at phone, desktop and wall sizes.

use crate::dashboards::repo;
use crate::helpers::*;
use std::path::PathBuf;
use std::process::Command;

fn playwright() -> PathBuf {
    let dir = installed_tool(
        "playwright",
        "node_modules/playwright-core/package.json",
        "playwright-core",
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is installed (apt-get install chromium; scripts/test does it)"
    );
    std::fs::copy(
        repo().join("tests/status_page/check.mjs"),
        dir.join("check.mjs"),
    )
    .unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn status_page_renders_in_chromium_with_the_right_values_and_no_errors() {
    let dir = playwright();
    let app = spawn_app(Setup {
        interval: "1s",
        wrong_secret: vec!["northwind"],
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    // A control title from Graph that carries markup must render as text.
    let html = app.get("/").await.text().await.unwrap();
    let first = html.split("data-tenant=\"contoso\"").nth(1).unwrap();
    let control = first
        .split("data-control=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let hostile = "<script>alert(1)</script> Require MFA";
    let c = control.clone();
    app.sim.update_tenant("contoso", move |d| {
        for p in &mut d.profiles {
            if p["id"] == c.as_str() {
                p["title"] = serde_json::json!(hostile);
            }
        }
    });
    app.wait_for("the hostile title is served", 15, |s| {
        s.all(
            "securescore_control_info",
            &[("tenant", "contoso"), ("title", hostile)],
        )
        .len()
            == 1
    })
    .await;

    let shots = repo().join("target/test-output");
    std::fs::create_dir_all(&shots).unwrap();
    let url = app.url("/");
    let (d, s) = (dir.clone(), shots.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(d.join("check.mjs"))
            .arg(url)
            .arg(&s)
            .current_dir(&d)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON from check.mjs");
    assert_eq!(
        v["console"],
        serde_json::json!([]),
        "console errors/warnings (CSP violations land here)"
    );
    assert_eq!(v["pageErrors"], serde_json::json!([]));
    assert_eq!(v["failedRequests"], serde_json::json!([]));

    let raw = app.sim.tenant_data("contoso").unwrap();
    let rec = &raw.records[0];
    let expected_ratio = num(&rec["currentScore"]) / num(&rec["maxScore"]);
    for (name, view) in v["views"].as_object().unwrap() {
        assert_eq!(view["scripts"], 0, "{name}: no scripts");
        assert!(
            view["csp"].as_str().unwrap().contains("default-src 'none'"),
            "{name}"
        );
        assert_eq!(
            view["stylesheetLoaded"], true,
            "{name}: the same-origin stylesheet applies under the CSP"
        );
        assert_eq!(view["overflowX"], false, "{name}: no horizontal scrolling");
        let tenants = view["tenants"].as_array().unwrap();
        assert_eq!(tenants.len(), 4, "{name}");
        let contoso = tenants.iter().find(|t| t["tenant"] == "contoso").unwrap();
        assert_eq!(contoso["state"], "up");
        let ratio: f64 = contoso["ratio"].as_str().unwrap().parse().unwrap();
        assert_eq!(ratio, expected_ratio, "{name}");
        assert_eq!(contoso["pct"], format!("{:.1} %", expected_ratio * 100.0));
        assert_eq!(
            contoso["points"].as_str().unwrap().parse::<f64>().unwrap(),
            num(&rec["currentScore"])
        );
        // Concern band (contoso is near 45 %): the score is red.
        assert_eq!(contoso["scoreColor"], "rgb(198, 40, 40)", "{name}");
        // Category bars are as long as the category's share.
        for c in contoso["categories"].as_array().unwrap() {
            let text = c["text"].as_str().unwrap();
            let (p, m) = text.split_once(" / ").unwrap();
            let share = p.parse::<f64>().unwrap() / m.parse::<f64>().unwrap();
            let drawn = c["fill"].as_f64().unwrap() / c["bar"].as_f64().unwrap();
            assert!((drawn - share).abs() < 0.02, "{name}: {c}");
        }
        let actions = contoso["actions"].as_array().unwrap();
        assert_eq!(actions.len(), 5);
        assert!(
            actions.iter().any(|a| a["title"] == hostile),
            "{name}: markup from Graph shows as text"
        );
        assert!(contoso["peers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "total_seats"));
        let northwind = tenants.iter().find(|t| t["tenant"] == "northwind").unwrap();
        assert_eq!(northwind["state"], "failing");
        assert!(northwind["error"]
            .as_str()
            .unwrap()
            .contains("AADSTS7000215"));
        let tailspin = tenants.iter().find(|t| t["tenant"] == "tailspin").unwrap();
        assert!(tailspin["nodata"]
            .as_str()
            .unwrap()
            .contains("No Secure Score yet"));
    }
    for view in ["phone", "desktop", "wall"] {
        let size = std::fs::metadata(shots.join(format!("status-{view}.png")))
            .unwrap()
            .len();
        assert!(size > 20_000, "{view} screenshot is {size} bytes");
    }
    app.stop().await;
}
