//! `[state] path`: each tenant's last good data, saved so a restart serves it at once.
//!
//! One file per tenant (`NAME-HASH.state`, see [`format`]), so a tenant's refresh rewrites a
//! few kilobytes and not the whole fleet's data. Every write goes to `FILE.tmp`, is fsynced,
//! then renamed over `FILE`, and the directory is fsynced after each batch: a crash at any
//! moment leaves each tenant's file either old or new, never half of one. A lock file keeps a
//! second process from sharing the directory. Files and directory are the owner's only (0600,
//! 0700) and hold no secret or token.
//!
//! [`writer`] decides when to write: in batches, off the refresh path.

pub mod format;
pub mod writer;

pub use format::SavedTenant;
pub use writer::{run_writer, Pending, StateEvents};

use crate::core::cpu_work::{cores, parallel_map};
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The state directory cannot be used at all (a bad `[state] path`; the daemon does not start).
#[derive(Debug, thiserror::Error)]
pub enum StateDirError {
    #[error("cannot use the state directory {path} ([state] path)")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the state directory {path} ([state] path) is in use by another securescore_exporter process; give each process its own")]
    InUse { path: PathBuf },
}

const SUFFIX: &str = "state";
const LOCK_FILE: &str = "lock";

/// An open, locked state directory.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    /// Held for the process's life: the lock ends with it, even on SIGKILL.
    _lock: File,
}

/// What [`StateDir::restore`] found.
#[derive(Debug, Default)]
pub struct Restored {
    /// By tenant name.
    pub tenants: HashMap<String, SavedTenant>,
    /// Files that exist but were not used, with why.
    pub ignored: Vec<(PathBuf, String)>,
    /// Configured tenants without a file.
    pub missing: usize,
    pub took: Duration,
}

impl Restored {
    /// Puts the saved data into the matching states: snapshot, success time and history as
    /// saved (history cut to `history_days`), `up` still 0 until this process refreshes.
    pub fn apply(mut self, states: &mut [crate::state::TenantState], history_days: u32) -> usize {
        let mut applied = 0;
        for t in states.iter_mut() {
            let Some(saved) = self.tenants.remove(&t.name) else {
                continue;
            };
            t.snapshot = Some(saved.snapshot);
            t.last_success = Some(saved.last_success);
            t.history = saved.history.trimmed(history_days);
            t.restored = true;
            applied += 1;
        }
        applied
    }
}

/// What one [`StateDir::save`] did.
#[derive(Debug, Default)]
pub struct Saved {
    pub written: usize,
    pub bytes: u64,
    pub removed: usize,
    /// Tenants not written, with the error.
    pub failed: Vec<(String, std::io::Error)>,
}

impl StateDir {
    /// Creates the directory if needed (0700), takes its lock and removes what an interrupted
    /// write left behind.
    pub fn open(path: &Path) -> Result<StateDir, StateDirError> {
        let err = |source| StateDirError::Open {
            path: path.to_path_buf(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(err)?;
        // A directory made by hand (or by systemd's StateDirectory= default 0755) is narrowed
        // to its owner; when that is not ours to change, the files are still 0600.
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
            }
        }
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(path.join(LOCK_FILE))
            .map_err(err)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StateDirError::InUse {
                    path: path.to_path_buf(),
                })
            }
            // Some network file systems have no locks: run without one rather than not at all.
            Err(std::fs::TryLockError::Error(e))
                if e.kind() == std::io::ErrorKind::Unsupported
                    || matches!(e.raw_os_error(), Some(37 | 95)) =>
            {
                tracing::warn!(path = %path.display(), error = %e, "the state directory cannot be locked; make sure no other process uses it");
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(e)),
        }
        let dir = StateDir {
            path: path.to_path_buf(),
            _lock: lock,
        };
        for f in dir.files().map_err(err)? {
            if f.extension().is_some_and(|x| x == "tmp") {
                let _ = std::fs::remove_file(&f);
            }
        }
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn files(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.path)? {
            out.push(e?.path());
        }
        Ok(out)
    }

    /// The file of tenant `name`: readable start (for people), hash (for uniqueness: any
    /// label value becomes a safe, short file name).
    pub fn file_of(&self, name: &str) -> PathBuf {
        let readable: String = name
            .chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => c,
                _ => '_',
            })
            .take(48)
            .collect();
        let digest = ring::digest::digest(&ring::digest::SHA256, name.as_bytes());
        let hash: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.path.join(format!("{readable}-{hash}.{SUFFIX}"))
    }

    /// Reads the saved state of each `(name, tenant_id)`, on every core. Never fails: a file
    /// that cannot be used is listed in [`Restored::ignored`] and its tenant starts cold.
    pub fn restore(&self, tenants: &[(String, String)]) -> Restored {
        let started = Instant::now();
        let outcomes = parallel_map(tenants.iter().collect(), cores(), |(name, id)| {
            let path = self.file_of(name);
            match std::fs::read(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => (path, None),
                Err(e) => (path, Some(Err(format!("cannot be read: {e}")))),
                Ok(bytes) => {
                    let decoded = format::decode(&bytes, name, id).map_err(|e| e.to_string());
                    (path, Some(decoded))
                }
            }
        });
        let mut restored = Restored::default();
        for (path, outcome) in outcomes {
            match outcome {
                None => restored.missing += 1,
                Some(Ok(saved)) => {
                    restored.tenants.insert(saved.name.clone(), saved);
                }
                Some(Err(why)) => restored.ignored.push((path, why)),
            }
        }
        restored.took = started.elapsed();
        restored
    }

    /// Deletes the files of tenants not in `keep` (removed from the configuration, or moved to
    /// another shard): they are never served again, and the directory stays bounded.
    pub fn prune<'a>(&self, keep: impl IntoIterator<Item = &'a str>) -> usize {
        let wanted: HashSet<PathBuf> = keep.into_iter().map(|n| self.file_of(n)).collect();
        let mut removed = 0;
        for f in self.files().unwrap_or_default() {
            if f.extension().is_some_and(|x| x == SUFFIX)
                && !wanted.contains(&f)
                && std::fs::remove_file(&f).is_ok()
            {
                removed += 1;
            }
        }
        removed
    }

    /// Writes `saved` to its `.tmp` file, not yet durable: (the open file, its path, bytes).
    fn write_tmp(&self, saved: &SavedTenant) -> std::io::Result<(File, PathBuf, u64)> {
        let tmp = self
            .file_of(&saved.name)
            .with_extension(format!("{SUFFIX}.tmp"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)?;
        let written = (|| {
            let mut out = BufWriter::with_capacity(64 * 1024, &file);
            format::encode(saved, &mut out)?;
            out.flush()?;
            drop(out);
            file.metadata().map(|m| m.len())
        })();
        match written {
            Ok(len) => Ok((file, tmp, len)),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Makes a written `.tmp` file durable and puts it in place of the tenant's file.
    fn commit(&self, name: &str, (file, tmp, len): (File, PathBuf, u64)) -> std::io::Result<u64> {
        let done = file
            .sync_data()
            .and_then(|()| std::fs::rename(&tmp, self.file_of(name)));
        if done.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        done.map(|()| len)
    }

    /// Writes `write` and deletes the files of `remove`, then makes both durable.
    pub fn save(&self, write: &[SavedTenant], remove: &[String]) -> Saved {
        // In chunks (bounded open files): every file of a chunk written first, then each one
        // synced and renamed. The syncs find the data already on its way, so the file system
        // commits a chunk in a few journal transactions instead of one per tenant: a full
        // write of 10,000 tenants is seconds, not minutes.
        let threads = cores().clamp(2, 8);
        let mut outcomes = Vec::with_capacity(write.len());
        for chunk in write.chunks(256) {
            let written = parallel_map(chunk.iter().collect(), threads, |s| self.write_tmp(s));
            let pairs: Vec<_> = chunk.iter().zip(written).collect();
            outcomes.extend(parallel_map(pairs, threads, |(s, w)| {
                w.and_then(|w| self.commit(&s.name, w))
            }));
        }
        let mut saved = Saved::default();
        for (s, outcome) in write.iter().zip(outcomes) {
            match outcome {
                Ok(bytes) => {
                    saved.written += 1;
                    saved.bytes += bytes;
                }
                Err(e) => saved.failed.push((s.name.clone(), e)),
            }
        }
        for name in remove {
            match std::fs::remove_file(self.file_of(name)) {
                Ok(()) => saved.removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => saved.failed.push((name.clone(), e)),
            }
        }
        // The renames and removals themselves survive a power cut only once the directory is
        // synced.
        if saved.written + saved.removed > 0 {
            if let Err(e) = File::open(&self.path).and_then(|d| d.sync_all()) {
                saved.failed.push((String::new(), e));
            }
        }
        saved
    }
}

#[cfg(test)]
mod tests;
