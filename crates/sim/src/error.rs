//! Why the simulator could not start.

use std::net::SocketAddr;
use tokio_rustls::rustls;

/// Starting the simulator failed.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make the simulator's TLS certificate")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot configure TLS")]
    Tls(#[from] rustls::Error),
}
