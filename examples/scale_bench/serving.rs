//! Serving: `/metrics` throughput against nginx with the same bytes, and the in-process
//! encode cost.

use crate::*;
use securescore_exporter::config::series_filter::{ControlsMode, SeriesFilter};
use securescore_exporter::core::snapshot::TenantSnapshot;
use securescore_exporter::exposition::{MetricsBody, SelfMetrics, SeriesRenderer};
use securescore_exporter::state::{Publisher, Store};
use securescore_sim::{generate, spec};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) fn wrk(url: &str, gzip: bool, o: &Options) -> f64 {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t2",
        "-c16",
        &format!("-d{}s", o.wrk.as_secs()),
        "--latency",
    ]);
    if gzip {
        cmd.args(["-H", "Accept-Encoding: gzip"]);
    }
    let out = cmd
        .arg(url)
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

pub(crate) fn nginx_comparison(exporter_port: u16, work: &Path, o: &Options) -> Throughput {
    let port = free_port();
    let dir = work.canonicalize().expect("work dir");
    let conf = format!(
        "worker_processes 2; daemon off; pid {d}/nginx.pid; error_log {d}/nginx-error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;\n\
           client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;\n\
           uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp; default_type text/plain;\n\
           server {{ listen 127.0.0.1:{port}; root {d}/www;\n\
             location = /metrics.gz {{ add_header Content-Encoding gzip; }} }} }}\n",
        d = dir.display()
    );
    std::fs::create_dir_all(dir.join("tmp")).expect("tmp");
    std::fs::write(dir.join("nginx.conf"), conf).expect("nginx.conf");
    let nginx = Killed(
        Command::new("nginx")
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx runs (apt-get install nginx)"),
    );
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let e = format!("http://127.0.0.1:{exporter_port}/metrics");
    let gzip = (
        wrk(&e, true, o),
        wrk(&format!("http://127.0.0.1:{port}/metrics.gz"), false, o),
    );
    let plain = (
        wrk(&e, false, o),
        wrk(&format!("http://127.0.0.1:{port}/metrics.txt"), false, o),
    );
    drop(nginx);
    Throughput { gzip, plain }
}

/// Rendering and joining cost, measured in this process on a store of `n` fleet tenants.
pub(crate) struct EncodeCost {
    pub(crate) render_total: Duration,
    pub(crate) gzip_join: Duration,
    pub(crate) plain_join: Duration,
}

pub(crate) fn encode_cost(n: usize, controls: ControlsMode) -> EncodeCost {
    let today = time::OffsetDateTime::now_utc().date();
    // 60 distinct tenants' snapshots, reused under n names (rendering is per tenant anyway).
    let snapshots: Vec<TenantSnapshot> = spec::fleet_tenants(60, 1)
        .iter()
        .map(|spec| {
            let d = generate::generate(spec, today);
            TenantSnapshot::from_json(&d.records, &d.profiles)
        })
        .collect();
    let names: Vec<String> = (1..=n).map(|i| format!("customer-{i:05}")).collect();
    let store = Arc::new(Store::new(names.iter().map(|n| (n.as_str(), "id"))));
    let renderer = Arc::new(SeriesRenderer::new(Duration::from_secs(3600)).with_filter(
        SeriesFilter {
            controls,
            ..SeriesFilter::default()
        },
    ));
    let publisher = Publisher::new(store.clone(), renderer.clone());
    let metrics = MetricsBody::new(store.clone(), renderer, SelfMetrics::new());
    let t = Instant::now();
    for (i, name) in names.iter().enumerate() {
        publisher.record_success(name, snapshots[i % snapshots.len()].clone());
    }
    let render_total = t.elapsed();
    let time = |f: &dyn Fn()| {
        let t = Instant::now();
        for _ in 0..5 {
            f();
        }
        t.elapsed() / 5
    };
    let gzip_join = time(&|| {
        std::hint::black_box(metrics.encode_gzip_chunks());
    });
    let plain_join = time(&|| {
        std::hint::black_box(metrics.encode_pieces());
    });
    EncodeCost {
        render_total,
        gzip_join,
        plain_join,
    }
}
