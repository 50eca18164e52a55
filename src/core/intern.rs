//! Interning of the strings and control descriptions that every tenant repeats.
//!
//! An MSP's 10,000 tenants see the same ~250 controls; without sharing, each tenant would hold
//! its own copy of every title and label. Entries no snapshot uses any more are dropped when the
//! table has doubled since the last sweep, so renamed controls do not accumulate for ever.

use super::snapshot::{ControlInfo, Text};
use std::collections::HashSet;
use std::hash::Hash;
use std::sync::{Arc, LazyLock, Mutex};

struct Table<T: ?Sized> {
    set: HashSet<Arc<T>>,
    /// Size after the last sweep; the next sweep runs at twice this.
    swept_at: usize,
}

impl<T: ?Sized + Eq + Hash> Table<T> {
    fn get_or_insert(&mut self, value: &T, make: impl FnOnce() -> Arc<T>) -> Arc<T> {
        if let Some(v) = self.set.get(value) {
            return v.clone();
        }
        if self.set.len() >= (2 * self.swept_at).max(1024) {
            self.set.retain(|v| Arc::strong_count(v) > 1);
            self.swept_at = self.set.len();
        }
        let v = make();
        self.set.insert(v.clone());
        v
    }
}

fn lock<T: ?Sized>(m: &'static Mutex<Table<T>>) -> std::sync::MutexGuard<'static, Table<T>> {
    // A panic while holding the lock leaves a valid set; keep using it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

static TEXTS: LazyLock<Mutex<Table<str>>> = LazyLock::new(|| {
    Mutex::new(Table {
        set: HashSet::new(),
        swept_at: 0,
    })
});

/// The shared copy of `value`.
pub fn intern_text(value: &str) -> Text {
    lock(&TEXTS).get_or_insert(value, || Arc::from(value))
}

static INFOS: LazyLock<Mutex<Table<ControlInfo>>> = LazyLock::new(|| {
    Mutex::new(Table {
        set: HashSet::new(),
        swept_at: 0,
    })
});

/// The shared copy of `info`.
pub fn intern_info(info: ControlInfo) -> Arc<ControlInfo> {
    let mut table = lock(&INFOS);
    if let Some(v) = table.set.get(&info) {
        return v.clone();
    }
    table.get_or_insert(&info.clone(), || Arc::new(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_allocation() {
        let a = intern_text("Identity");
        let b = intern_text(&String::from("Identity"));
        assert!(Arc::ptr_eq(&a, &b));
        let info = |title: &str| ControlInfo {
            title: title.into(),
            service: "AzureAD".into(),
            tier: "core".into(),
            action_type: "config".into(),
            implementation_cost: "low".into(),
            user_impact: "low".into(),
            state: "default".into(),
            deprecated: false,
            action_url: String::new(),
        };
        let x = intern_info(info("Require MFA"));
        let y = intern_info(info("Require MFA"));
        let z = intern_info(info("Require MFA for admins"));
        assert!(Arc::ptr_eq(&x, &y));
        assert!(!Arc::ptr_eq(&x, &z));
    }

    #[test]
    fn unused_entries_are_swept_when_the_table_doubles() {
        for i in 0..5_000 {
            drop(intern_text(&format!("sweep-test-{i}")));
        }
        let kept = intern_text("sweep-test-kept");
        for i in 5_000..10_000 {
            drop(intern_text(&format!("sweep-test-{i}")));
        }
        let len = lock(&TEXTS).set.len();
        assert!(len < 5_000, "table holds {len} entries after sweeps");
        assert!(Arc::ptr_eq(&kept, &intern_text("sweep-test-kept")));
    }
}
