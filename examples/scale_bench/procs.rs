//! The processes and sockets the bench drives: killed on drop, a minimal HTTP/1.1 client,
//! and /proc readings.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // SIGTERM, so nginx takes its workers down with it; SIGKILL only as a fallback.
        let term = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        if !term.is_ok_and(|s| s.success()) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

pub(crate) struct Options {
    pub(crate) tenants: Vec<usize>,
    pub(crate) latency: (Duration, Duration),
    pub(crate) concurrency: usize,
    pub(crate) idle: Duration,
    pub(crate) wrk: Duration,
    pub(crate) controls: Vec<&'static str>,
    /// Runs of each case (figures are reported as medians over them).
    pub(crate) runs: usize,
}

pub(crate) fn parse_args() -> Options {
    let mut o = Options {
        tenants: vec![1_000, 10_000],
        latency: (Duration::from_millis(100), Duration::from_millis(400)),
        concurrency: 64,
        idle: Duration::from_secs(20),
        wrk: Duration::from_secs(10),
        controls: vec!["all", "incomplete"],
        runs: 1,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dur = |v: &str| humantime::parse_duration(v).unwrap_or_else(|e| panic!("`{v}`: {e}"));
    for pair in args.chunks(2) {
        let (k, v) = (
            pair[0].as_str(),
            pair.get(1).map(String::as_str).unwrap_or(""),
        );
        match k {
            "--tenants" => o.tenants = v.split(',').map(|n| n.trim().parse().expect("N")).collect(),
            "--latency" => {
                let (a, b) = v.split_once("..").expect("MIN..MAX");
                o.latency = (dur(a), dur(b));
            }
            "--concurrency" => o.concurrency = v.parse().expect("N"),
            "--idle" => o.idle = dur(v),
            "--wrk" => o.wrk = dur(v),
            "--runs" => o.runs = v.parse::<usize>().expect("N").max(1),
            "--controls" => {
                o.controls = v
                    .split(',')
                    .map(|c| match c.trim() {
                        "all" => "all",
                        "incomplete" => "incomplete",
                        other => panic!("--controls: `{other}` (all, incomplete)"),
                    })
                    .collect()
            }
            _ => panic!("unknown argument {k}"),
        }
    }
    o
}

pub(crate) fn exporter_binary() -> PathBuf {
    let me = std::env::current_exe().expect("own path");
    let bin = me
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("securescore_exporter"))
        .expect("target dir");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release` first",
        bin.display()
    );
    bin
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A keep-alive HTTP/1.1 client that reads whole bodies (Content-Length framing).
pub(crate) struct Conn {
    pub(crate) addr: String,
    pub(crate) stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    pub(crate) fn new(port: u16) -> Conn {
        Conn {
            addr: format!("127.0.0.1:{port}"),
            stream: None,
        }
    }

    /// Status and body; `keep` false discards the body and returns only its length.
    pub(crate) fn get(
        &mut self,
        path: &str,
        gzip: bool,
        keep: bool,
    ) -> std::io::Result<(u16, Vec<u8>, usize)> {
        // The server closes idle keep-alive connections (10 s): reconnect once then.
        for attempt in 0..2 {
            if self.stream.is_none() {
                let s = TcpStream::connect(&self.addr)?;
                s.set_nodelay(true)?;
                self.stream = Some(BufReader::with_capacity(256 * 1024, s));
            }
            match self.request(path, gzip, keep) {
                Ok(r) => return Ok(r),
                Err(e) => {
                    self.stream = None;
                    if attempt == 1 {
                        return Err(e);
                    }
                }
            }
        }
        unreachable!("the loop returns")
    }

    fn request(
        &mut self,
        path: &str,
        gzip: bool,
        keep: bool,
    ) -> std::io::Result<(u16, Vec<u8>, usize)> {
        let s = self.stream.as_mut().expect("connected");
        let enc = if gzip {
            "Accept-Encoding: gzip\r\n"
        } else {
            ""
        };
        write!(
            s.get_mut(),
            "GET {path} HTTP/1.1\r\nHost: bench\r\n{enc}\r\n"
        )?;
        let mut line = String::new();
        s.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let mut len = 0usize;
        loop {
            line.clear();
            s.read_line(&mut line)?;
            if line.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = Vec::new();
        if keep {
            body.resize(len, 0);
            s.read_exact(&mut body)?;
        } else {
            std::io::copy(&mut s.by_ref().take(len as u64), &mut std::io::sink())?;
        }
        Ok((status, body, len))
    }
}

pub(crate) struct ProcStats {
    pub(crate) hwm_kib: u64,
    pub(crate) cpu_secs: f64,
}

pub(crate) fn proc_stats(pid: u32) -> ProcStats {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm_kib = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ProcStats {
        hwm_kib,
        cpu_secs: (ticks(11) + ticks(12)) / 100.0,
    }
}
