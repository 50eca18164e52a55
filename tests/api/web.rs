//! `--web.config.file`: TLS, mutual TLS, allowed SANs, basic auth, headers, rotation, and the
//! HTTP server's limits.

use crate::helpers::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer = CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
    let pem = issuer.pem();
    Ca { issuer, pem }
}

/// (certificate PEM, key PEM) for `sans`, signed by `ca`.
fn leaf(ca: &Ca, sans: &[&str]) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().to_string()
}

fn client(ca_pem: &str, identity: Option<(&str, &str)>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10));
    if let Some((cert, key)) = identity {
        b = b.identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
    }
    b.build().unwrap()
}

fn https(app: &TestApp, path: &str) -> String {
    format!("https://localhost:{}{}", app.addr.port(), path)
}

#[tokio::test]
async fn tls_with_required_client_certificates_and_allowed_sans() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = ca("server CA");
    let client_ca = ca("client CA");
    let stranger_ca = ca("stranger CA");
    let (cert, key) = leaf(&server_ca, &["localhost", "127.0.0.1"]);
    let (good_cert, good_key) = leaf(&client_ca, &["prometheus.monitoring.svc"]);
    let (other_cert, other_key) = leaf(&client_ca, &["intruder.example"]);
    let (strange_cert, strange_key) = leaf(&stranger_ca, &["prometheus.monitoring.svc"]);
    let yaml = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n  client_allowed_sans: [prometheus.monitoring.svc]\n  min_version: TLS12\n",
        write(dir.path(), "server.pem", &cert),
        write(dir.path(), "server.key", &key),
        write(dir.path(), "clients.pem", &client_ca.pem),
    );
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        web_config: Some(yaml),
        ..Setup::default()
    })
    .await;
    let good = client(&server_ca.pem, Some((&good_cert, &good_key)));
    let r = good.get(https(&app, "/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("securescore_up"));
    // No client certificate, a certificate from another CA, a SAN not allowed: no connection.
    for (what, c) in [
        ("no client certificate", client(&server_ca.pem, None)),
        (
            "unknown CA",
            client(&server_ca.pem, Some((&strange_cert, &strange_key))),
        ),
        (
            "SAN not allowed",
            client(&server_ca.pem, Some((&other_cert, &other_key))),
        ),
    ] {
        let r = c.get(https(&app, "/metrics")).send().await;
        assert!(r.is_err(), "{what}: {r:?}");
    }
    // Plain HTTP to a TLS listener gets nothing useful.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    assert!(plain
        .get(app.url("/metrics"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true));
    app.stop().await;
}

#[tokio::test]
async fn certificates_rotate_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = ca("first CA");
    let second = ca("second CA");
    let (cert, key) = leaf(&first, &["localhost"]);
    let cert_file = write(dir.path(), "server.pem", &cert);
    let key_file = write(dir.path(), "server.key", &key);
    let yaml = format!("tls_server_config:\n  cert_file: {cert_file}\n  key_file: {key_file}\n");
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        web_config: Some(yaml),
        ..Setup::default()
    })
    .await;
    assert_eq!(
        client(&first.pem, None)
            .get(https(&app, "/-/healthy"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Renewal: a certificate from another CA, written over the same files.
    tokio::time::sleep(Duration::from_millis(1100)).await; // a new modification time
    let (cert, key) = leaf(&second, &["localhost"]);
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    assert_eq!(
        client(&second.pem, None)
            .get(https(&app, "/-/healthy"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(client(&first.pem, None)
        .get(https(&app, "/-/healthy"))
        .send()
        .await
        .is_err());
    // A broken file keeps the last good configuration.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    std::fs::write(&cert_file, "not a certificate").unwrap();
    assert_eq!(
        client(&second.pem, None)
            .get(https(&app, "/-/healthy"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn basic_auth_protects_every_endpoint_and_headers_are_added() {
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    let yaml = format!(
        "basic_auth_users:\n  prometheus: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n"
    );
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        web_config: Some(yaml),
        ..Setup::default()
    })
    .await;
    let http = reqwest::Client::new();
    for path in [
        "/metrics",
        "/",
        "/-/ready",
        "/-/healthy",
        "/static/status.css",
    ] {
        let r = http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert_eq!(
            r.headers()["www-authenticate"],
            "Basic realm=\"securescore_exporter\""
        );
        let r = http
            .get(app.url(path))
            .basic_auth("prometheus", Some("wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}: wrong password");
        let r = http
            .get(app.url(path))
            .basic_auth("nobody", Some("correct horse"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}: unknown user");
    }
    for _ in 0..3 {
        // Repeated scrapes hit the verification cache.
        let r = http
            .get(app.url("/metrics"))
            .basic_auth("prometheus", Some("correct horse"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-frame-options"], "deny");
        assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    }
    app.stop().await;
}

#[tokio::test]
async fn healthy_is_open_only_when_the_config_says_so() {
    let http = reqwest::Client::new();
    // Only when the config says so does /-/healthy answer without credentials.
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        web_config: Some(format!("basic_auth_users:\n  prometheus: {hash}\n")),
        extra_toml: String::new(),
        extra_graph: "",
        ..Setup::default()
    })
    .await;
    let text = std::fs::read_to_string(&app.config_path)
        .unwrap()
        .replace("[web]\n", "[web]\nhealthy_without_auth = true\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).unwrap();
    let config =
        securescore_exporter::config::Config::load(Some(&path), &Default::default()).unwrap();
    assert!(config.healthy_without_auth);
    let open = securescore_exporter::app::App::build(&config)
        .await
        .unwrap();
    let addr = open.local_addrs()[0];
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(open.run_until(stop.clone()));
    assert_eq!(
        http.get(format!("http://{addr}/-/healthy"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(format!("http://{addr}/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    stop.cancel();
    task.await.unwrap();
    app.stop().await;
}

#[test]
fn a_bad_web_config_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    let cases = [
        (
            "tls_server_config:\n  cert_file: /nonexistent.pem\n  key_file: /nonexistent.key\n",
            "/nonexistent.pem",
        ),
        (
            "tls_server_config:\n  cert_file: x\n  key_file: y\n  client_auth_type: Sometimes\n",
            "client_auth_type",
        ),
        (
            "basic_auth_users:\n  admin: plaintext\n",
            "basic_auth_users.admin",
        ),
        ("tls_server_confg: {}\n", "tls_server_confg"),
        (
            "tls_server_config:\n  min_version: TLS10\n  cert_file: x\n  key_file: y\n",
            "tls_server_config.cert_file",
        ),
    ];
    for (yaml, needle) in cases {
        let path = dir.path().join("web.yml");
        std::fs::write(&path, yaml).unwrap();
        let out = crate::cli::exporter()
            .args(["check-config", "--config"])
            .arg(&config)
            .arg("--web.config.file")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{yaml}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(needle) && err.contains("web.config.file"),
            "{needle}: {err}"
        );
    }
}

#[tokio::test]
async fn oversized_and_slow_requests_are_cut_off() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        ..Setup::default()
    })
    .await;
    let addr = app.addr;
    let result = tokio::task::spawn_blocking(move || {
        // 20 KiB of headers: 431.
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let big = format!(
            "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(20 * 1024)
        );
        let _ = s.write_all(big.as_bytes());
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        let big_status = String::from_utf8_lossy(&buf[..n]).to_string();
        // A slowloris client that never finishes its headers is disconnected.
        let mut slow = std::net::TcpStream::connect(addr).unwrap();
        slow.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        let started = std::time::Instant::now();
        let n = slow.read(&mut buf).unwrap_or(0);
        (
            big_status,
            started.elapsed(),
            String::from_utf8_lossy(&buf[..n]).to_string(),
        )
    })
    .await
    .unwrap();
    assert!(result.0.starts_with("HTTP/1.1 431"), "{}", result.0);
    assert!(
        result.1 < Duration::from_secs(15),
        "slow client cut after {:?}",
        result.1
    );
    assert!(
        result.2.is_empty() || result.2.starts_with("HTTP/1.1 408"),
        "{}",
        result.2
    );
    app.stop().await;
}

/// `demo --web.config.file`: the demo serves TLS with basic auth, like the daemon.
#[tokio::test]
async fn the_demo_honours_tls_and_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = ca("demo CA");
    let (cert, key) = leaf(&server_ca, &["localhost", "127.0.0.1"]);
    let cert_file = write(dir.path(), "server.pem", &cert);
    let key_file = write(dir.path(), "server-key.pem", &key);
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    let web = write(
        dir.path(),
        "web.yml",
        &format!(
            "tls_server_config:\n  cert_file: {cert_file}\n  key_file: {key_file}\nbasic_auth_users:\n  prometheus: {hash}\n"
        ),
    );
    let port = crate::cli::free_port();
    let mut child = crate::cli::exporter()
        .args(["demo", "--web.config.file", &web, "--web.listen-address"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let http = client(&server_ca.pem, None);
    let url = format!("https://localhost:{port}/metrics");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        match http.get(&url).send().await {
            Ok(r) => break r.status(),
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("the demo never answered over TLS: {e}"),
        }
    };
    assert_eq!(status, 401, "no credentials");
    let r = http
        .get(&url)
        .basic_auth("prometheus", Some("correct horse"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Plain HTTP is not served.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await;
    assert!(plain.map_or(true, |r| r.status() != 200), "no plain HTTP");
    crate::cli::terminate(&child);
    let _ = child.wait();
}
