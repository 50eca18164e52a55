//! Cardinality controls: which control, category and tenant series are exported.
//!
//! `metrics.controls` chooses all controls, only those below their maximum (`incomplete`), or
//! none; include/exclude lists (shell-style `*` globs) narrow tenants, categories and services.
//! Category filters apply to every category-labelled series (category, control and peer
//! category series); service filters apply to control series (the profile's `service`).

/// Which controls get per-control series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ControlsMode {
    /// Every control in `controlScores`.
    #[default]
    All,
    /// Only controls with points still available (score below the maximum, or maximum unknown).
    Incomplete,
    /// No per-control series.
    None,
}

impl ControlsMode {
    pub fn parse(v: &str) -> Option<ControlsMode> {
        match v.trim().to_ascii_lowercase().as_str() {
            "all" => Some(ControlsMode::All),
            "incomplete" => Some(ControlsMode::Incomplete),
            "none" => Some(ControlsMode::None),
            _ => None,
        }
    }
}

/// An include list (empty: everything) and an exclude list, of `*` globs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Patterns {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

/// Shell-style match where `*` matches any run of characters.
pub fn glob(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !value.starts_with(first) || value.len() < first.len() + last.len() || !value.ends_with(last)
    {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

impl Patterns {
    pub fn allows(&self, value: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| glob(p, value)))
            && !self.exclude.iter().any(|p| glob(p, value))
    }
}

/// Everything that decides which series a snapshot produces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesFilter {
    pub controls: ControlsMode,
    pub categories: Patterns,
    pub services: Patterns,
}

impl SeriesFilter {
    /// Whether a control gets its series.
    pub fn control(
        &self,
        category: &str,
        service: &str,
        points: Option<f64>,
        max: Option<f64>,
    ) -> bool {
        let wanted = match self.controls {
            ControlsMode::All => true,
            ControlsMode::None => false,
            ControlsMode::Incomplete => match (points, max) {
                (Some(p), Some(m)) => p < m,
                _ => true,
            },
        };
        wanted && self.categories.allows(category) && self.services.allows(service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_a_shell() {
        assert!(glob("contoso", "contoso"));
        assert!(!glob("contoso", "contoso2"));
        assert!(glob("cust-*", "cust-042"));
        assert!(glob("*-eu", "cust-eu"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxcyyb"));
        assert!(glob("*", ""));
    }

    #[test]
    fn incomplete_keeps_controls_with_points_left() {
        let f = SeriesFilter {
            controls: ControlsMode::Incomplete,
            ..SeriesFilter::default()
        };
        assert!(f.control("identity", "AzureAD", Some(1.0), Some(10.0)));
        assert!(!f.control("identity", "AzureAD", Some(10.0), Some(10.0)));
        assert!(f.control("identity", "AzureAD", Some(0.0), None));
        let f = SeriesFilter {
            categories: Patterns {
                include: vec![],
                exclude: vec!["device".into()],
            },
            services: Patterns {
                include: vec!["Azure*".into()],
                exclude: vec![],
            },
            ..SeriesFilter::default()
        };
        assert!(!f.control("device", "AzureAD", None, None));
        assert!(!f.control("identity", "MDO", None, None));
        assert!(f.control("identity", "AzureAD", None, None));
    }
}
