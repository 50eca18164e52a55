//! The web config as the server reads it: reloaded when any watched file changes (a broken
//! file keeps the last good one), and basic auth checked with a constant-time cache.

use super::{RawWebConfig, WebConfig, WebConfigError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

/// The files whose change triggers a reload.
fn watched_files(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_path_buf()];
    if let Ok(text) = std::fs::read(path) {
        if let Ok(raw) = serde_norway::from_slice::<RawWebConfig>(&text) {
            if let Some(t) = raw.tls_server_config {
                files.extend(t.cert_file);
                files.extend(t.key_file);
                files.extend(t.client_ca_file);
            }
        }
    }
    files
}

fn stamp(files: &[PathBuf]) -> Vec<Option<SystemTime>> {
    files
        .iter()
        .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .collect()
}

/// The parsed config, the files it came from, and their modification times then.
type Loaded = (Arc<WebConfig>, Vec<PathBuf>, Vec<Option<SystemTime>>);

/// A web config that follows its file.
pub struct WebConfigSource {
    path: PathBuf,
    current: RwLock<Loaded>,
    /// user → SHA-256 of a password that verified, so bcrypt runs once per password.
    verified: Mutex<HashMap<String, [u8; 32]>>,
}

impl WebConfigSource {
    pub fn open(path: &Path) -> Result<WebConfigSource, WebConfigError> {
        let config = WebConfig::load(path)?;
        let files = watched_files(path);
        let stamps = stamp(&files);
        Ok(WebConfigSource {
            path: path.to_path_buf(),
            current: RwLock::new((Arc::new(config), files, stamps)),
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// The current config, reloaded first if a watched file changed.
    pub fn get(&self) -> Arc<WebConfig> {
        let (config, files, stamps) = {
            let cur = self.current.read().unwrap_or_else(|e| e.into_inner());
            (cur.0.clone(), cur.1.clone(), cur.2.clone())
        };
        if stamp(&files) == stamps {
            return config;
        }
        let files = watched_files(&self.path);
        let stamps = stamp(&files);
        match WebConfig::load(&self.path) {
            Ok(fresh) => {
                tracing::info!(path = %self.path.display(), "web config reloaded");
                let fresh = Arc::new(fresh);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) =
                    (fresh.clone(), files, stamps);
                self.verified
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
                fresh
            }
            Err(e) => {
                tracing::error!(error = %e, "web config reload failed; keeping the previous one");
                // Remember the stamps so a broken file is not re-parsed on every connection.
                let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
                cur.1 = files;
                cur.2 = stamps;
                config
            }
        }
    }

    /// Checks `Authorization: Basic …` against the users. Runs bcrypt off the async runtime.
    pub async fn authorize(&self, config: &WebConfig, header: Option<&str>) -> bool {
        if !config.requires_auth() {
            return true;
        }
        use base64::Engine;
        let Some(encoded) = header.and_then(|h| h.strip_prefix("Basic ")) else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(decoded) else {
            return false;
        };
        let Some((user, password)) = text.split_once(':') else {
            return false;
        };
        let digest: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, password.as_bytes())
            .as_ref()
            .try_into()
            .unwrap_or([0; 32]);
        if let Some(known) = self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(user)
        {
            if constant_time_eq(known, &digest) {
                return true;
            }
        }
        // Unknown users still pay one bcrypt, so timing does not reveal which users exist.
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let hash = config.users.get(user).cloned();
        let ok_user = hash.is_some();
        let hash = match hash {
            Some(h) => h,
            None => DUMMY
                .get_or_init(|| bcrypt::hash("not-a-user", 10).unwrap_or_default())
                .clone(),
        };
        let password = password.to_string();
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false)
                && ok_user;
        if ok {
            self.verified
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(user.to_string(), digest);
        }
        ok
    }
}

/// Compares two digests without an early exit.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
