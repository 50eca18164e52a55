//! The fleet overview and the tenant pages in a real browser: headless Chromium at phone,
//! desktop and wall sizes (the wall in the dark scheme), values against the simulator's data,
//! the printed report through `pdftotext`, and hostile Graph text rendered as text.

use crate::dashboards::repo;
use crate::helpers::*;
use securescore_sim::SimulatorOptions;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn playwright() -> PathBuf {
    let dir = installed_tool(
        "playwright",
        "node_modules/playwright-core/package.json",
        "playwright-core",
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is installed (apt-get install chromium; scripts/test does it)"
    );
    std::fs::copy(
        repo().join("tests/status_page/check.mjs"),
        dir.join("check.mjs"),
    )
    .unwrap();
    dir
}

/// Runs check.mjs on `pages` (name, URL); screenshots and PDFs go to `shots`.
async fn browse(shots: &Path, pages: &[(&str, String)]) -> Value {
    let dir = playwright();
    std::fs::create_dir_all(shots).unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("check.mjs")).arg(shots).current_dir(&dir);
    for (name, url) in pages {
        cmd.arg(format!("{name}={url}"));
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON from check.mjs");
    assert_eq!(
        v["console"],
        serde_json::json!([]),
        "console errors (CSP violations land here)"
    );
    assert_eq!(v["pageErrors"], serde_json::json!([]));
    assert_eq!(v["failedRequests"], serde_json::json!([]));
    for (name, views) in v["pages"].as_object().unwrap() {
        for (view, p) in views.as_object().unwrap() {
            assert_eq!(p["status"], 200, "{name}/{view}");
            assert_eq!(p["scripts"], 0, "{name}/{view}: no scripts");
            assert_eq!(p["inlineStyles"], 0, "{name}/{view}: no inline styles");
            let csp = p["csp"].as_str().unwrap();
            assert!(
                csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
                "{csp}"
            );
            assert_eq!(p["stylesheetLoaded"], true, "{name}/{view}");
            assert_eq!(
                p["overflowX"], false,
                "{name}/{view}: no horizontal scrolling"
            );
            let png = shots.join(format!("{name}-{view}.png"));
            assert!(std::fs::metadata(&png).unwrap().len() > 10_000, "{png:?}");
        }
        // The wall screen is in the dark scheme: its background is dark.
        let bg = views["wall"]["background"].as_str().unwrap();
        assert_ne!(
            bg,
            views["desktop"]["background"].as_str().unwrap(),
            "{name}: dark scheme"
        );
    }
    v
}

fn ratio_of(record: &Value) -> f64 {
    num(&record["currentScore"]) / num(&record["maxScore"])
}

fn band(r: f64) -> &'static str {
    if r <= 0.65 {
        "concern"
    } else if r < 0.8 {
        "good"
    } else {
        "excellent"
    }
}

fn text_of_pdf(pdf: &Path) -> (String, u32) {
    let text = Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext is installed (poppler-utils; scripts/test does it)");
    let info = Command::new("pdfinfo").arg(pdf).output().unwrap();
    let info = String::from_utf8_lossy(&info.stdout).to_string();
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|p| p.trim().parse().ok())
        .unwrap();
    (String::from_utf8_lossy(&text.stdout).to_string(), pages)
}

/// The per-control changes the page must list: consecutive records of the first page of
/// `secureScores` (what the fill reads), newest first, as (control, date, delta).
fn expected_changes(records: &[Value], kept: usize) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for i in 0..kept.saturating_sub(1) {
        let (newer, older) = (&records[i], &records[i + 1]);
        let date = newer["createdDateTime"].as_str().unwrap()[..10].to_string();
        for c in newer["controlScores"].as_array().unwrap() {
            let name = c["controlName"].as_str().unwrap();
            let Some(o) = older["controlScores"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["controlName"] == name)
            else {
                continue;
            };
            let delta = num(&c["score"]) - num(&o["score"]);
            if delta != 0.0 {
                out.insert((name.to_string(), date.clone(), delta.to_string()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_pages_and_overview_show_the_simulators_data_in_chromium() {
    let app = spawn_app(Setup {
        interval: "1h",
        wrong_secret: vec!["northwind"],
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    // The fill reads the first page of secureScores (30 records in Graph and the simulator).
    let kept = 30;
    for name in ["contoso", "fabrikam"] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let html = app
                .get(&format!("/tenants/{name}"))
                .await
                .text()
                .await
                .unwrap();
            if html.contains(&format!("data-days=\"{kept}\"")) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name}'s history is filled"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    let shots = repo().join("target/test-output/pages");
    let v = browse(
        &shots,
        &[
            ("fleet", app.url("/")),
            ("tenant-contoso", app.url("/tenants/contoso")),
            ("tenant-fabrikam", app.url("/tenants/fabrikam")),
            ("tenant-northwind", app.url("/tenants/northwind")),
            ("tenant-tailspin", app.url("/tenants/tailspin")),
        ],
    )
    .await;
    let data = |n: &str| app.sim.tenant_data(n).unwrap();
    let (contoso, fabrikam) = (data("contoso"), data("fabrikam"));

    // The overview: northwind fails (never had data), then lowest score first, tailspin last.
    for (view, p) in v["pages"]["fleet"].as_object().unwrap() {
        let s = &p["summary"];
        let (rc, rf) = (
            ratio_of(&contoso.records[0]),
            ratio_of(&fabrikam.records[0]),
        );
        let count = |b: &str| {
            [rc, rf]
                .iter()
                .filter(|r| band(**r) == b)
                .count()
                .to_string()
        };
        assert_eq!(s["tenants"], "4", "{view}");
        assert_eq!(s["failing"], "1");
        assert_eq!(s["bandConcern"], count("concern"));
        assert_eq!(s["bandGood"], count("good"));
        assert_eq!(s["bandExcellent"], count("excellent"));
        assert_eq!(
            s["bandNoData"], "2",
            "northwind (failing from the start) and tailspin"
        );
        let rows = p["rows"].as_array().unwrap();
        let order: Vec<&str> = rows.iter().map(|r| r["tenant"].as_str().unwrap()).collect();
        let (low, high) = if rc <= rf {
            ("contoso", "fabrikam")
        } else {
            ("fabrikam", "contoso")
        };
        assert_eq!(order, ["northwind", low, high, "tailspin"], "{view}");
        assert_eq!(rows[0]["status"], "failing");
        assert!(rows[0]["error"].as_str().unwrap().contains("AADSTS7000215"));
        let c = rows.iter().find(|r| r["tenant"] == "contoso").unwrap();
        assert_eq!(c["ratio"].as_str().unwrap().parse::<f64>().unwrap(), rc);
        assert_eq!(c["band"], band(rc));
        assert_eq!(c["href"], "tenants/contoso");
        assert_eq!(
            c["change7d"].as_str().unwrap().parse::<f64>().unwrap(),
            num(&contoso.records[0]["currentScore"]) - num(&contoso.records[7]["currentScore"])
        );
        assert_eq!(rows[3]["status"], "no_data");
        assert_eq!(rows[3]["ratio"], "");
        assert_eq!(
            (p["page"].as_str(), p["pages"].as_str()),
            (Some("1"), Some("1"))
        );
    }

    // contoso's page against Graph's records.
    let now = &contoso.records[0];
    for (view, p) in v["pages"]["tenant-contoso"].as_object().unwrap() {
        let root = &p["root"];
        assert_eq!(
            root["ratio"].as_str().unwrap().parse::<f64>().unwrap(),
            ratio_of(now)
        );
        assert_eq!(root["band"], band(ratio_of(now)));
        assert_eq!(
            root["currentPoints"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap(),
            num(&now["currentScore"])
        );
        assert_eq!(
            root["maxPoints"].as_str().unwrap().parse::<f64>().unwrap(),
            num(&now["maxScore"])
        );
        assert_eq!(
            root["change-7d"].as_str().unwrap().parse::<f64>().unwrap(),
            num(&now["currentScore"]) - num(&contoso.records[7]["currentScore"]),
            "{view}"
        );
        assert_eq!(
            root["change-30d"], "",
            "the record 30 days back is not on Graph's first page"
        );
        assert_eq!(p["trendDays"], kept.to_string());
        assert!(
            p["trendWidth"].as_f64().unwrap() > 300.0,
            "{view}: the chart is drawn wide"
        );
        // Every recommended action, most points available first; the best one matches Graph.
        let actions = p["actions"].as_array().unwrap();
        let avail: Vec<f64> = actions
            .iter()
            .map(|a| a["available"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(avail.windows(2).all(|w| w[0] >= w[1]), "{avail:?}");
        assert!(avail.iter().all(|a| *a > 0.0));
        let incomplete = now["controlScores"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| num(&c["scoreInPercentage"]) < 100.0)
            .count();
        assert_eq!(
            actions.len(),
            incomplete,
            "{view}: every incomplete control of contoso"
        );
        for a in actions {
            for link in a["links"].as_array().unwrap() {
                assert!(link
                    .as_str()
                    .unwrap()
                    .starts_with("https://security.microsoft.com/"));
            }
        }
        // What changed: exactly the consecutive kept records' differences.
        let shown: BTreeSet<(String, String, String)> = p["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["control"].as_str().unwrap().to_string(),
                    c["date"].as_str().unwrap().to_string(),
                    c["delta"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(shown, expected_changes(&contoso.records, kept), "{view}");
        assert!(!shown.is_empty());
        assert_eq!(
            p["externalLinks"].as_array().unwrap().len(),
            actions
                .iter()
                .map(|a| a["links"].as_array().unwrap().len())
                .sum::<usize>()
        );
    }
    // fabrikam marks controls risk-accepted, third-party and deprecated: listed apart.
    let f = &v["pages"]["tenant-fabrikam"]["desktop"];
    let set_aside: BTreeSet<&str> = f["setAside"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(!set_aside.is_empty());
    assert!(f["actions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| !set_aside.contains(a["control"].as_str().unwrap())));
    let n = &v["pages"]["tenant-northwind"]["desktop"];
    assert_eq!(n["root"]["status"], "failing");
    assert!(
        n["error"].as_str().unwrap().contains("AADSTS7000215"),
        "{}",
        n["error"]
    );
    assert_eq!(
        v["pages"]["tenant-tailspin"]["phone"]["root"]["status"],
        "no_data"
    );

    // The printed report: one or two pages with what an insurer asks for.
    for t in ["contoso", "fabrikam", "northwind", "tailspin"] {
        let (_, pages) = text_of_pdf(&shots.join(format!("tenant-{t}.pdf")));
        assert!((1..=2).contains(&pages), "{t}: {pages} pages");
    }
    let (text, _) = text_of_pdf(&shots.join("tenant-contoso.pdf"));
    let first_title = v["pages"]["tenant-contoso"]["desktop"]["actions"][0]["title"]
        .as_str()
        .unwrap()
        .to_string();
    for want in [
        "Microsoft Secure Score report",
        "contoso",
        &format!("{:.1} %", ratio_of(now) * 100.0),
        "Similar-size organisations",
        "RECOMMENDED ACTIONS",
        "Source: Microsoft Graph",
        &now["createdDateTime"].as_str().unwrap()[..10],
    ] {
        assert!(
            text.contains(want),
            "{want:?} in the printed report:\n{text}"
        );
    }
    let words: Vec<&str> = first_title.split_whitespace().take(3).collect();
    assert!(text.contains(&words.join(" ")), "{first_title:?} printed");
    assert!(!text.contains("WHAT CHANGED"), "the changes stay on screen");

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_titles_and_links_from_graph_render_as_text() {
    let hostile = "<script>alert(1)</script> Require MFA";
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        prepare: Some(Box::new(move |sim| {
            sim.update_tenant("contoso", |d| {
                for (i, p) in d.profiles.iter_mut().enumerate() {
                    match i % 3 {
                        0 => {
                            p["title"] = serde_json::json!(hostile);
                            p["actionUrl"] = serde_json::json!("javascript:alert(1)");
                        }
                        1 => {
                            p["actionUrl"] =
                                serde_json::json!("https://security.microsoft.com.evil.example/x")
                        }
                        _ => {}
                    }
                }
                for c in d.records[0]["controlScores"].as_array_mut().unwrap() {
                    c["implementationStatus"] =
                        serde_json::json!("<img src=x onerror=alert(1)><b>3</b> of 5 &amp; more");
                }
            });
        })),
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let shots = repo().join("target/test-output/hostile");
    let v = browse(
        &shots,
        &[
            ("tenant-contoso", app.url("/tenants/contoso")),
            ("fleet", app.url("/?q=%3Cscript%3E")),
        ],
    )
    .await;
    let p = &v["pages"]["tenant-contoso"]["desktop"];
    let actions = p["actions"].as_array().unwrap();
    assert!(
        actions.iter().any(|a| a["title"] == hostile),
        "markup from Graph shows as text"
    );
    for a in actions {
        for link in a["links"].as_array().unwrap() {
            assert!(
                link.as_str()
                    .unwrap()
                    .starts_with("https://security.microsoft.com/securescore"),
                "{link}"
            );
        }
    }
    let html = app.get("/tenants/contoso").await.text().await.unwrap();
    assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("javascript:"));
    assert!(!html.contains("evil.example"));
    assert!(
        html.contains("3 of 5 &amp; more"),
        "the status is plain text"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_overview_filters_sorts_and_pages_a_fleet_of_250() {
    let app = spawn_app(Setup {
        sim: SimulatorOptions {
            tenants: securescore_sim::spec::fleet_tenants(250, 8),
            ..SimulatorOptions::default()
        },
        interval: "1h",
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let specs = app.sim.tenants();
    let ratios: Vec<(String, Option<f64>)> = specs
        .iter()
        .map(|t| {
            let d = app.sim.tenant_data(&t.name).unwrap();
            (t.name.clone(), d.records.first().map(ratio_of))
        })
        .collect();
    let count = |b: &str| {
        ratios
            .iter()
            .filter(|(_, r)| r.map(band) == Some(b))
            .count()
    };
    let shots = repo().join("target/test-output/fleet");
    let v = browse(
        &shots,
        &[
            ("fleet", app.url("/")),
            ("fleet-page3", app.url("/?page=3")),
            ("fleet-concern", app.url("/?band=concern&sort=name")),
            ("fleet-search", app.url("/?q=customer-0001")),
        ],
    )
    .await;
    let pages = v["pages"].as_object().unwrap();
    for (name, views) in pages {
        let p = &views["desktop"];
        let s = &p["summary"];
        assert_eq!(
            s["tenants"], "250",
            "{name}: counts over all tenants, whatever the filter"
        );
        assert_eq!(s["bandConcern"], count("concern").to_string());
        assert_eq!(s["bandGood"], count("good").to_string());
        assert_eq!(s["bandExcellent"], count("excellent").to_string());
        assert!(p["rows"].as_array().unwrap().len() <= 100);
        assert!(
            p["bytes"].as_u64().unwrap() < 200_000,
            "{name}: {} bytes",
            p["bytes"]
        );
    }
    // Lowest score first, across pages.
    let mut sorted: Vec<f64> = ratios.iter().filter_map(|(_, r)| *r).collect();
    sorted.sort_by(f64::total_cmp);
    let rows = |name: &str| pages[name]["desktop"]["rows"].as_array().unwrap().clone();
    let first: Vec<f64> = rows("fleet")
        .iter()
        .map(|r| r["ratio"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(first, sorted[..100]);
    assert_eq!(pages["fleet"]["desktop"]["pages"], "3");
    assert!(pages["fleet"]["desktop"]["next"]
        .as_str()
        .unwrap()
        .contains("page=2"));
    let third: Vec<f64> = rows("fleet-page3")
        .iter()
        .map(|r| r["ratio"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(third, sorted[200..]);
    assert_eq!(pages["fleet-page3"]["desktop"]["page"], "3");
    // The concern band by name.
    let concern = rows("fleet-concern");
    assert_eq!(concern.len(), count("concern").min(100));
    assert!(concern.iter().all(|r| r["band"] == "concern"));
    let names: Vec<&str> = concern
        .iter()
        .map(|r| r["tenant"].as_str().unwrap())
        .collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "by name");
    // Search by name.
    let found: Vec<String> = rows("fleet-search")
        .iter()
        .map(|r| r["tenant"].as_str().unwrap().to_string())
        .collect();
    let want: BTreeSet<String> = ratios
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| n.contains("customer-0001"))
        .collect();
    assert_eq!(found.iter().cloned().collect::<BTreeSet<_>>(), want);
    app.stop().await;
}
