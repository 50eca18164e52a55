//! Reloading: a new configuration is applied to the running daemon without a restart.

use super::{record_certificate_expiry, App, AppError, Running};
use crate::config::Config;
use crate::source::connect;
use tokio_util::sync::CancellationToken;

impl App {
    /// Applies a new configuration: removed tenants stop and their series vanish, added tenants
    /// start, unchanged tenants keep their data and schedule.
    pub(super) fn apply(
        &mut self,
        new: Config,
        running: &mut std::collections::HashMap<String, Running>,
        http: &mut reqwest::Client,
        shutdown: &CancellationToken,
    ) -> Result<String, AppError> {
        let graph_changed = new.graph != self.config.graph || new.refresh != self.config.refresh;
        if new.listen != self.config.listen
            || new.web_config_file != self.config.web_config_file
            || new.series != self.config.series
        {
            tracing::warn!("listen addresses, the web config path and [metrics] settings change only on restart");
        }
        let new_http = if graph_changed {
            connect::client(&new)?
        } else {
            http.clone()
        };
        let wanted: std::collections::HashSet<&str> =
            new.tenants.iter().map(|t| t.name.as_str()).collect();
        let mut removed = 0;
        running.retain(|name, r| {
            if wanted.contains(name.as_str()) {
                return true;
            }
            r.stop.cancel();
            self.publisher.remove(name);
            self.own.remove_tenant(name);
            removed += 1;
            false
        });
        let (mut added, mut restarted) = (0, 0);
        for t in &new.tenants {
            // The same name for another tenant: what is known of the old one must go.
            if let Some(r) = running.get(&t.name) {
                if !r.config.tenant_id.eq_ignore_ascii_case(&t.tenant_id) {
                    r.stop.cancel();
                    running.remove(&t.name);
                    self.publisher.remove(&t.name);
                    self.own.remove_tenant(&t.name);
                    removed += 1;
                }
            }
            match running.get(&t.name) {
                Some(r) if r.config == *t && !graph_changed => continue,
                Some(r) => {
                    r.stop.cancel();
                    if r.config.credential_name != t.credential_name {
                        self.publisher.set_credential(&t.name, &t.credential_name);
                    }
                    restarted += 1;
                }
                None => {
                    self.publisher
                        .add_with_credential(&t.name, &t.tenant_id, &t.credential_name);
                    added += 1;
                }
            }
            let restored_at = self
                .state
                .store
                .get(&t.name)
                .filter(|s| s.restored)
                .and_then(|s| s.last_success);
            let started = self.start_tenant(&new_http, &new, t, restored_at, false, shutdown)?;
            running.insert(t.name.clone(), started);
        }
        self.state
            .store
            .retain_order(new.tenants.iter().map(|t| t.name.as_str()));
        record_certificate_expiry(&new, &self.own);
        *http = new_http;
        self.config = new;
        Ok(format!(
            "{added} added, {removed} removed, {restarted} restarted, {} unchanged",
            running.len() - added - restarted
        ))
    }
}
