//! The domain snapshot of one tenant: what one successful refresh learned, with normalised
//! label values. Built by the Graph side's conversion, read by the store, the renderer, the
//! reports and the pages.

use std::sync::Arc;

/// A label value shared by every tenant that has it (control names, categories): an MSP's
/// thousands of tenants hold one copy of the catalogue's strings, not one each.
pub type Text = Arc<str>;

/// What one successful refresh learned about a tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSnapshot {
    /// `None` when Graph answered `value: []` (a new tenant has no score for 2–4 days).
    pub score: Option<ScoreSnapshot>,
    /// Number of control profiles read (the whole catalogue, including unowned products).
    pub profiles: usize,
}

/// The newest daily `secureScore` record, joined with the control profiles.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScoreSnapshot {
    /// `createdDateTime` as Unix seconds.
    pub created_at: Option<f64>,
    pub current_points: Option<f64>,
    pub max_points: Option<f64>,
    pub active_users: Option<f64>,
    pub licensed_users: Option<f64>,
    /// `azureTenantId` from the record.
    pub azure_tenant_id: Option<String>,
    /// `enabledServices`, verbatim and de-duplicated.
    pub enabled_services: Vec<String>,
    pub categories: Vec<CategoryScore>,
    pub controls: Vec<Control>,
    pub peers: Vec<PeerScore>,
    /// Microsoft's `implementationStatus` as plain text (markup stripped, at most
    /// [`STATUS_MAX_CHARS`]), for the [`STATUSES_KEPT`] controls with the most points available, by
    /// index into `controls`: the tenant page shows it next to each recommended action. Free
    /// text that differs per tenant, so it is never a label and the other controls' is not kept.
    pub statuses: Vec<(u32, Text)>,
}

/// How many controls keep their `implementationStatus`: those with the most points available.
pub const STATUSES_KEPT: usize = 25;

/// How much of an `implementationStatus` is kept.
pub const STATUS_MAX_CHARS: usize = 300;

impl ScoreSnapshot {
    /// The implementation status kept for `controls[index]`.
    pub fn status_of(&self, index: usize) -> Option<&str> {
        self.statuses
            .binary_search_by_key(&(index as u32), |(i, _)| *i)
            .ok()
            .map(|i| &*self.statuses[i].1)
    }
}

/// Points by `controlCategory`.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryScore {
    pub category: String,
    /// Σ `score` of the category's controls.
    pub points: f64,
    /// Σ of the known per-control maxima.
    pub max_points: f64,
}

/// An optional finite number in 8 bytes (`Option<f64>` takes 16): NaN stands for "none", which
/// Graph never sends as a value (non-finite numbers are dropped when parsed).
#[derive(Clone, Copy)]
pub struct Num(f64);

impl PartialEq for Num {
    fn eq(&self, other: &Num) -> bool {
        self.get() == other.get()
    }
}

impl Num {
    pub const NONE: Num = Num(f64::NAN);

    pub fn get(self) -> Option<f64> {
        (!self.0.is_nan()).then_some(self.0)
    }
}

impl From<Option<f64>> for Num {
    fn from(v: Option<f64>) -> Num {
        Num(v.filter(|x| x.is_finite()).unwrap_or(f64::NAN))
    }
}

impl std::fmt::Debug for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// One entry of `controlScores`, with its profile's fields. Kept small (80 bytes): a fleet of
/// 10,000 tenants holds about two million of them. `implementationStatus` (free text, often
/// HTML, different in every tenant) is kept apart, for incomplete controls only
/// ([`ScoreSnapshot::statuses`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    pub name: Text,
    pub category: Text,
    pub points: Num,
    /// `score*100/scoreInPercentage` when that is defined and > 0, else the profile's `maxScore`.
    pub max_points: Num,
    pub rank: Num,
    /// `controlScores[].count`: usually the users, devices or policies that meet the control
    /// (Microsoft does not document it).
    pub items: Num,
    /// `controlScores[].total`: the items in scope.
    pub items_in_scope: Num,
    /// Shared with every tenant whose profile says the same.
    pub info: Arc<ControlInfo>,
}

/// The `securescore_control_info` labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ControlInfo {
    pub title: String,
    pub service: String,
    pub tier: String,
    pub action_type: String,
    pub implementation_cost: String,
    pub user_impact: String,
    pub state: String,
    pub deprecated: bool,
    /// The profile's `actionUrl` with the tenant's own id replaced by [`TENANT_ID_MARK`], so
    /// every tenant shares one description; empty without one. Not a label.
    pub action_url: String,
}

/// Stands for the tenant's id in [`ControlInfo::action_url`].
pub const TENANT_ID_MARK: &str = "{tenant_id}";

impl ControlInfo {
    /// The action's address for the tenant whose id is `tenant_id`.
    pub fn action_url_for(&self, tenant_id: &str) -> Option<String> {
        (!self.action_url.is_empty()).then(|| self.action_url.replace(TENANT_ID_MARK, tenant_id))
    }
}

/// One entry of `averageComparativeScores`.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerScore {
    /// `all_tenants`, `total_seats`, `industry_types`, or another basis in snake_case.
    pub basis: String,
    /// `averageScore / 100`; `None` when Graph sent a negative or no value.
    pub average_ratio: Option<f64>,
    /// `(category, points, max_points)`, each `None` when negative or missing.
    pub categories: Vec<(String, Option<f64>, Option<f64>)>,
}
