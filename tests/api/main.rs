//! Integration tests: the real daemon (started as `main` starts it, on port 0) against the
//! built-in Graph simulator, plus the real tools users run (promtool, Prometheus).
//! One binary, shared helpers.

mod alertmanager;
mod auth;
mod cli;
mod dashboards;
mod deploy;
mod docs_examples;
mod faults;
mod golden;
mod graph_behaviour;
mod helpers;
mod history;
mod layering;
mod lifecycle;
mod metrics_values;
mod properties;
mod real_tools;
mod reload;
mod rules;
mod scale;
mod server;
mod state;
mod status_page;
mod toolchain;
mod web;
