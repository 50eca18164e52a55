//! The simulated tenants: licence, size, quirks, credentials and consent, for the demo's four
//! and for fleets of thousands sharing one multi-tenant app.

use crate::catalogue::{self, Product};

/// Days of history each tenant keeps (Graph keeps 90).
pub const HISTORY_DAYS: usize = 90;
/// Index (oldest = 0) of the day Microsoft adds recommendations.
pub const NEW_RECOMMENDATIONS_DAY: usize = 60;
/// Index (oldest = 0) from which the regressed control has lost its points.
pub const REGRESSION_DAY: usize = 80;

/// The licence of a simulated tenant, which decides the products it owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Licence {
    BusinessPremium,
    E3,
    E5,
}

impl Licence {
    pub(crate) fn owns(self, p: Product) -> bool {
        match (self, p) {
            (_, Product::Core) => true,
            (_, Product::Unowned) => false,
            (Licence::BusinessPremium, Product::Mdo) => true,
            (Licence::E3, Product::Enterprise) => true,
            (Licence::E5, _) => true,
            _ => false,
        }
    }

    /// Defender for Endpoint recommendations that apply.
    pub(crate) fn device_controls(self) -> usize {
        match self {
            Licence::BusinessPremium => 10,
            Licence::E3 => 60,
            Licence::E5 => 120,
        }
    }

    pub(crate) fn enabled_services(self) -> &'static [&'static str] {
        match self {
            Licence::BusinessPremium => &[
                "HasExchange",
                "HasSharePoint",
                "HasOD4B",
                "HasTeams",
                "HasAADP1",
                "HasMDOP1",
                "HasInTune",
                "HasMDEB",
            ],
            Licence::E3 => &[
                "HasExchange",
                "HasSharePoint",
                "HasOD4B",
                "HasTeams",
                "HasAADP1",
                "HasEXOP1",
                "HasInTune",
                "HasMIPP1",
                "HasMDEP1",
            ],
            Licence::E5 => &[
                "HasAADP2",
                "HasMCAS",
                "HasAATP",
                "HasMDOP2",
                "HasEXOP2",
                "HasSPOP2",
                "HasM365E5",
                "HasMDEP2",
                "HasInTune",
            ],
        }
    }
}

/// Payload quirks a tenant's answers show (every one is seen in real captures).
#[derive(Debug, Clone, Copy, Default)]
pub struct Quirks {
    /// `currentScore`, `maxScore`, `score`, `scoreInPercentage` as strings (PowerShell-fed payloads).
    pub numbers_as_strings: bool,
    /// `TotalSeats` category fields are `-1`, plus a legacy `IndustryTypes` entry of `-1`s.
    pub unknown_peer_values: bool,
    /// HTML in `implementationStatus`.
    pub html_status: bool,
    /// Risk-accepted, third-party, reviewed and deprecated controls.
    pub control_states: bool,
}

/// One simulated tenant.
#[derive(Debug, Clone)]
pub struct TenantSpec {
    /// Short name, used as the `tenant` label in the demo.
    pub name: String,
    /// Verified domain (also accepted in the token URL).
    pub domain: String,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub licence: Licence,
    pub seats: u32,
    /// Score ratio the newest record lands near.
    pub target_ratio: f64,
    /// A tenant created days ago: `secureScores` answers `value: []`.
    pub brand_new: bool,
    pub quirks: Quirks,
    pub seed: u64,
    /// DER certificates registered on the app (certificate credentials).
    pub certificates: Vec<Vec<u8>>,
    /// A PEM (certificate and key) the client should use instead of the secret (demo).
    pub certificate_pem: Option<String>,
    /// Subjects of federated identity credentials (issuer: the simulator's OIDC issuer).
    pub federated_subjects: Vec<String>,
    /// Whether the tenant's administrator consented to the app.
    pub consent: Consent,
    /// The app's enterprise application is disabled in the tenant.
    pub app_disabled: bool,
    /// Daily records kept, newest first (Graph keeps [`HISTORY_DAYS`]; fleets of thousands
    /// keep fewer so the simulator's memory stays small).
    pub history_days: usize,
}

/// Admin consent of the app in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// Consented, with the SecurityEvents.Read.All role.
    Granted,
    /// Never consented: no service principal (AADSTS700016).
    NoServicePrincipal,
    /// Consented without the application permission: tokens work, Graph answers 403.
    NoAppRole,
}

/// The service account the simulator's federated credentials name by default.
pub const DEFAULT_FEDERATED_SUBJECT: &str = "system:serviceaccount:monitoring:securescore-exporter";

fn guid(seed: u64, kind: u16) -> String {
    let mut rng = fastrand::Rng::with_seed(seed.wrapping_mul(31).wrapping_add(kind as u64));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        rng.u32(..),
        rng.u16(..),
        rng.u16(..0x1000),
        0x8000 | rng.u16(..0x4000),
        rng.u64(..1 << 48)
    )
}

impl TenantSpec {
    pub(crate) fn new(
        name: &str,
        licence: Licence,
        seats: u32,
        target_ratio: f64,
        seed: u64,
    ) -> TenantSpec {
        TenantSpec {
            name: name.into(),
            domain: format!("{name}.onmicrosoft.com"),
            tenant_id: guid(seed, 1),
            client_id: guid(seed, 2),
            client_secret: format!("sim~{}", &guid(seed, 3)[..23]),
            licence,
            seats,
            target_ratio,
            brand_new: false,
            quirks: Quirks::default(),
            seed,
            certificates: Vec::new(),
            certificate_pem: None,
            federated_subjects: vec![DEFAULT_FEDERATED_SUBJECT.to_string()],
            consent: Consent::Granted,
            app_disabled: false,
            history_days: HISTORY_DAYS,
        }
    }
}

impl TenantSpec {
    /// Entries of the tenant's control catalogue (`secureScoreControlProfiles`).
    pub fn profile_count(&self) -> usize {
        catalogue::NAMED.len() + self.licence.device_controls()
    }
}

/// The client id of the multi-tenant app every fleet tenant consented to.
pub fn fleet_client_id() -> String {
    guid(7, 2)
}

/// The client secret of that app.
pub fn fleet_client_secret() -> String {
    format!("sim~{}", &guid(7, 3)[..23])
}

/// An MSP's customers: `n` tenants named `customer-00001`…, all consented to one multi-tenant
/// app. Mostly small Business Premium tenants, some E3, a few large E5 ones, with the payload
/// quirks spread across them; `history_days` records each.
pub fn fleet_tenants(n: usize, history_days: usize) -> Vec<TenantSpec> {
    let (client_id, secret) = (fleet_client_id(), fleet_client_secret());
    (1..=n)
        .map(|i| {
            let mut rng = fastrand::Rng::with_seed(0xf1ee7 ^ i as u64);
            let (licence, seats) = match i % 10 {
                0..=5 => (Licence::BusinessPremium, rng.u32(5..300)),
                6..=8 => (Licence::E3, rng.u32(100..2_000)),
                _ => (Licence::E5, rng.u32(500..5_000)),
            };
            let target = 0.30 + 0.55 * rng.f64();
            let mut t = TenantSpec::new(
                &format!("customer-{i:05}"),
                licence,
                seats,
                target,
                1_000_000 + i as u64,
            );
            t.client_id = client_id.clone();
            t.client_secret = secret.clone();
            t.history_days = history_days.clamp(1, HISTORY_DAYS);
            t.quirks = Quirks {
                numbers_as_strings: i % 4 == 1,
                unknown_peer_values: i % 7 == 3,
                html_status: i % 5 == 2,
                control_states: i % 3 == 0,
            };
            t
        })
        .collect()
}

/// The demo's tenants: three that differ in size and licence, and one too new to have a score.
pub fn demo_tenants() -> Vec<TenantSpec> {
    let contoso = TenantSpec::new("contoso", Licence::BusinessPremium, 25, 0.45, 101);
    let mut fabrikam = TenantSpec::new("fabrikam", Licence::E5, 2000, 0.80, 202);
    fabrikam.quirks = Quirks {
        html_status: true,
        control_states: true,
        ..Quirks::default()
    };
    let mut northwind = TenantSpec::new("northwind", Licence::E3, 300, 0.62, 303);
    northwind.quirks = Quirks {
        numbers_as_strings: true,
        unknown_peer_values: true,
        control_states: true,
        ..Quirks::default()
    };
    // northwind's app signs in with a certificate (a built-in test key), valid for a year.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if let Ok((der, pem)) = super::identity::make_certificate(
        super::identity::TEST_APP_KEY_PEM,
        now - 86_400,
        now + 365 * 86_400,
    ) {
        northwind.certificates.push(der);
        northwind.certificate_pem = Some(pem);
    }
    let mut tailspin = TenantSpec::new("tailspin", Licence::BusinessPremium, 12, 0.0, 404);
    tailspin.brand_new = true;
    vec![contoso, fabrikam, northwind, tailspin]
}
