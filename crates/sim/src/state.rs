//! The simulator's shared state: tenants and their stored payloads, issued tokens, limits,
//! pending faults and the request log.

use crate::generate::TenantData;
use crate::identity;
use crate::options::{Endpoint, Fault, ManagedIdentitySpec, RequestRecord};
use crate::spec::TenantSpec;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A fault that applies to matching requests a number of times.
#[derive(Debug, Clone)]
pub(crate) struct FaultRule {
    pub(crate) tenant: Option<String>,
    pub(crate) endpoint: Option<Endpoint>,
    pub(crate) fault: Fault,
    pub(crate) remaining: usize,
}

pub(crate) struct IssuedToken {
    pub(crate) tenant: usize,
    pub(crate) expires: Instant,
    /// False when the app was consented without SecurityEvents.Read.All: Graph answers 403.
    pub(crate) roles: bool,
}

#[derive(Default)]
pub(crate) struct Limits {
    pub(crate) in_flight: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) window: VecDeque<Instant>,
}

/// A tenant's payload items, each kept as serialised JSON: the parsed form of 90 days of
/// controls is several times larger, and pages are cheap to assemble from text.
#[derive(Default)]
pub(crate) struct StoredData {
    pub(crate) records: Vec<Box<str>>,
    pub(crate) profiles: Vec<Box<str>>,
}

pub(crate) fn serialize(v: &Value) -> Box<str> {
    serde_json::to_string(v)
        .unwrap_or_default()
        .into_boxed_str()
}

impl StoredData {
    pub(crate) fn generate(spec: &TenantSpec, today: time::Date) -> StoredData {
        let mut records = Vec::with_capacity(crate::spec::HISTORY_DAYS);
        let profiles =
            crate::generate::generate_with(spec, today, &mut |r| records.push(serialize(&r)));
        StoredData {
            records,
            profiles: profiles.iter().map(serialize).collect(),
        }
    }

    pub(crate) fn from_data(data: &TenantData) -> StoredData {
        StoredData {
            records: data.records.iter().map(serialize).collect(),
            profiles: data.profiles.iter().map(serialize).collect(),
        }
    }

    pub(crate) fn to_data(&self) -> TenantData {
        let de = |s: &str| serde_json::from_str(s).unwrap_or(Value::Null);
        TenantData {
            records: self.records.iter().map(|s| de(s)).collect(),
            profiles: self.profiles.iter().map(|s| de(s)).collect(),
        }
    }
}

pub(crate) struct SimTenant {
    pub(crate) spec: TenantSpec,
    // Tests change a tenant's data mid-run (a control disappears, a score moves).
    pub(crate) data: Mutex<StoredData>,
}

pub(crate) struct State {
    pub(crate) base_url: String,
    pub(crate) tenants: Vec<SimTenant>,
    /// Tenant index by lower-case tenant id or domain, and by exact name (fleets are large).
    pub(crate) by_key: HashMap<String, usize>,
    pub(crate) by_name: HashMap<String, usize>,
    pub(crate) token_lifetime: Duration,
    pub(crate) max_concurrent: usize,
    pub(crate) requests_per_minute: usize,
    pub(crate) tokens: Mutex<HashMap<String, IssuedToken>>,
    pub(crate) limits: Mutex<HashMap<usize, Limits>>,
    pub(crate) faults: Mutex<Vec<FaultRule>>,
    pub(crate) log: Mutex<Vec<RequestRecord>>,
    pub(crate) federation: identity::FederatedIssuer,
    pub(crate) clock_offset_secs: i64,
    pub(crate) record_requests: bool,
    pub(crate) latency: (Duration, Duration),
    pub(crate) used_jti: Mutex<std::collections::HashSet<String>>,
    pub(crate) managed_identity: Option<ManagedIdentitySpec>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    pub(crate) fn find_tenant(&self, key: &str) -> Option<usize> {
        self.by_key
            .get(&key.to_ascii_lowercase())
            .or_else(|| self.by_name.get(key))
            .copied()
    }

    /// Takes one use of the first fault matching this request.
    pub(crate) fn take_fault(&self, tenant: Option<usize>, endpoint: Endpoint) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let rule = faults.iter_mut().find(|r| {
            r.remaining > 0
                && r.endpoint.is_none_or(|e| e == endpoint)
                && match (&r.tenant, tenant) {
                    (None, _) => true,
                    (Some(key), Some(t)) => self.find_tenant(key) == Some(t),
                    (Some(_), None) => false,
                }
        })?;
        rule.remaining -= 1;
        let fault = rule.fault.clone();
        // Spent rules go, so a long run of injections does not accumulate.
        faults.retain(|r| r.remaining > 0);
        Some(fault)
    }
}
