//! Lenient wire models of the Microsoft Graph Secure Score payloads.
//!
//! Graph sends far more than it documents and is inconsistent about it: numbers arrive as
//! strings (`"count": "3"`), key casing varies (`SeatSizeRangeLowerValue`), any field may be
//! missing or null, and `-1` means "unknown" in comparative scores. So every model here is read
//! from a `serde_json::Value` through case-insensitive, type-tolerant accessors: a field of a
//! surprising type becomes `None` instead of failing the whole refresh. Only a body that is not
//! JSON, or has no `value` array, is a decode error.

use serde_json::{Map, Value};

/// Why a body could not be read as a Graph collection page.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("body is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("body has no `value` array")]
    NoValueArray,
    #[error("body could not be read: {0}")]
    Body(String),
    /// A field that Graph's schema requires is missing or of the wrong kind.
    #[error("record {record}: {problem}")]
    Schema { record: String, problem: String },
}

/// A JSON object read with case-insensitive keys.
#[derive(Debug, Clone, Copy)]
pub struct Obj<'a>(&'a Map<String, Value>);

impl<'a> Obj<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Obj(map)
    }

    /// The value under `key`, matched case-insensitively and ignoring surrounding spaces
    /// (Microsoft's own examples have `"rank "`); an exact match wins.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.get(key).or_else(|| {
            self.0
                .iter()
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
    }

    /// A number, also when sent as a string; non-finite values and other types are `None`.
    pub fn f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(lenient_f64)
    }

    /// A string; numbers and booleans are rendered, empty strings kept.
    pub fn string(&self, key: &str) -> Option<String> {
        self.get(key).and_then(lenient_string)
    }

    /// A boolean, also when sent as `"true"`/`"false"`.
    pub fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// The objects of an array; non-object items are skipped.
    pub fn objects(&self, key: &str) -> Vec<Obj<'a>> {
        match self.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_object().map(Obj))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The strings of an array; other items are skipped.
    pub fn strings(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Value::Array(items)) => items.iter().filter_map(lenient_string).collect(),
            _ => Vec::new(),
        }
    }

    pub fn entries(&self) -> impl Iterator<Item = (&'a String, &'a Value)> {
        self.0.iter()
    }
}

/// A number from a JSON number or a numeric string.
pub fn lenient_f64(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

fn lenient_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Graph's `DateTimeOffset` (RFC 3339; an offset-less form is taken as UTC) as Unix seconds.
pub fn parse_graph_time(value: &str) -> Option<f64> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let value = value.trim();
    if let Ok(t) = time::OffsetDateTime::parse(value, &Rfc3339) {
        return Some(t.unix_timestamp_nanos() as f64 / 1e9);
    }
    // Some serialisers drop the offset; Graph's times are UTC.
    let fmt = format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    time::PrimitiveDateTime::parse(value, fmt)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp_nanos() as f64 / 1e9)
}

/// One page of a Graph collection: the raw items and the `@odata.nextLink`, if any.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Map<String, Value>>,
    pub next_link: Option<String>,
}

impl Page {
    pub fn parse(body: &[u8]) -> Result<Page, ModelError> {
        let value: Value = serde_json::from_slice(body)?;
        let Value::Object(mut obj) = value else {
            return Err(ModelError::NoValueArray);
        };
        let o = Obj(&obj);
        let next_link = o.string("@odata.nextLink").filter(|s| !s.trim().is_empty());
        // Same key rule as `Obj::get`; the items are moved out, not copied (a page is ~0.5 MB).
        let key = match obj.contains_key("value") {
            true => "value".to_string(),
            false => obj
                .keys()
                .find(|k| k.eq_ignore_ascii_case("value"))
                .cloned()
                .ok_or(ModelError::NoValueArray)?,
        };
        let items = match obj.remove(&key) {
            Some(Value::Array(items)) => items
                .into_iter()
                .filter_map(|v| match v {
                    Value::Object(m) => Some(m),
                    _ => None,
                })
                .collect(),
            _ => return Err(ModelError::NoValueArray),
        };
        Ok(Page { items, next_link })
    }
}

/// One daily `secureScore` record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecureScoreRecord {
    pub id: Option<String>,
    pub azure_tenant_id: Option<String>,
    pub created_date_time: Option<String>,
    pub current_score: Option<f64>,
    pub max_score: Option<f64>,
    pub active_user_count: Option<f64>,
    pub licensed_user_count: Option<f64>,
    pub enabled_services: Vec<String>,
    pub average_comparative_scores: Vec<ComparativeScore>,
    pub control_scores: Vec<ControlScore>,
}

impl SecureScoreRecord {
    /// Checks the fields Graph's schema requires of a record (`createdDateTime` a timestamp,
    /// `currentScore` and `maxScore` numbers, as a string too), on the raw item, so that a
    /// placeholder such as `"createdDateTime.value"` is a precise decode failure and never a
    /// plausible score. Everything else stays lenient.
    pub fn check_schema(map: &Map<String, Value>) -> Result<(), ModelError> {
        let o = Obj(map);
        let problem = schema_problem(&o);
        match o.get("createdDateTime") {
            None | Some(Value::Null) => return Err(problem("`createdDateTime` is missing".into())),
            Some(v) => {
                let parsed = lenient_string(v).as_deref().and_then(parse_graph_time);
                if parsed.is_none() {
                    return Err(problem(format!("`createdDateTime` {v} is not a timestamp")));
                }
            }
        }
        for field in ["currentScore", "maxScore"] {
            match o.get(field) {
                None | Some(Value::Null) => return Err(problem(format!("`{field}` is missing"))),
                Some(v) if lenient_f64(v).is_none() => {
                    return Err(problem(format!("`{field}` {v} is not a number")))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    pub fn from_json(map: &Map<String, Value>) -> Self {
        let o = Obj(map);
        SecureScoreRecord {
            id: o.string("id"),
            azure_tenant_id: o.string("azureTenantId"),
            created_date_time: o.string("createdDateTime"),
            current_score: o.f64("currentScore"),
            max_score: o.f64("maxScore"),
            active_user_count: o.f64("activeUserCount"),
            licensed_user_count: o.f64("licensedUserCount"),
            enabled_services: o.strings("enabledServices"),
            average_comparative_scores: o
                .objects("averageComparativeScores")
                .into_iter()
                .map(ComparativeScore::from_obj)
                .collect(),
            control_scores: o
                .objects("controlScores")
                .into_iter()
                .map(ControlScore::from_obj)
                .collect(),
        }
    }
}

/// One item of `controlScores`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ControlScore {
    pub control_name: Option<String>,
    pub control_category: Option<String>,
    pub score: Option<f64>,
    pub score_in_percentage: Option<f64>,
    /// Free text, sometimes HTML: never a label.
    pub implementation_status: Option<String>,
    pub last_synced: Option<String>,
    pub count: Option<f64>,
    pub total: Option<f64>,
    pub on: Option<bool>,
}

impl ControlScore {
    fn from_obj(o: Obj<'_>) -> Self {
        ControlScore {
            control_name: o.string("controlName"),
            control_category: o.string("controlCategory"),
            score: o.f64("score"),
            score_in_percentage: o.f64("scoreInPercentage"),
            implementation_status: o.string("implementationStatus"),
            last_synced: o.string("lastSynced"),
            count: o.f64("count"),
            total: o.f64("total"),
            on: o.bool("on"),
        }
    }
}

/// One item of `averageComparativeScores`, with its per-category fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComparativeScore {
    pub basis: Option<String>,
    pub average_score: Option<f64>,
    /// `(category, score, score_max)` from `{category}Score` / `{category}ScoreMax`, keys lowercased.
    pub categories: Vec<(String, Option<f64>, Option<f64>)>,
    pub seat_size_range_lower: Option<f64>,
    pub seat_size_range_upper: Option<f64>,
}

impl ComparativeScore {
    fn from_obj(o: Obj<'_>) -> Self {
        let mut categories: Vec<(String, Option<f64>, Option<f64>)> = Vec::new();
        for (key, value) in o.entries() {
            let key = key.to_ascii_lowercase();
            if key == "averagescore" {
                continue;
            }
            let (category, is_max) = if let Some(c) = key.strip_suffix("scoremax") {
                (c, true)
            } else if let Some(c) = key.strip_suffix("score") {
                (c, false)
            } else {
                continue;
            };
            if category.is_empty() {
                continue;
            }
            let v = lenient_f64(value);
            match categories.iter_mut().find(|(c, _, _)| c == category) {
                Some(entry) if is_max => entry.2 = entry.2.or(v),
                Some(entry) => entry.1 = entry.1.or(v),
                None if is_max => categories.push((category.to_string(), None, v)),
                None => categories.push((category.to_string(), v, None)),
            }
        }
        categories.sort_by(|a, b| a.0.cmp(&b.0));
        ComparativeScore {
            basis: o.string("basis"),
            average_score: o.f64("averageScore"),
            categories,
            seat_size_range_lower: o.f64("seatSizeRangeLowerValue"),
            seat_size_range_upper: o.f64("seatSizeRangeUpperValue"),
        }
    }
}

/// One `secureScoreControlProfile`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ControlProfile {
    pub id: Option<String>,
    pub title: Option<String>,
    pub control_category: Option<String>,
    pub action_type: Option<String>,
    pub service: Option<String>,
    pub tier: Option<String>,
    pub max_score: Option<f64>,
    pub rank: Option<f64>,
    pub implementation_cost: Option<String>,
    pub user_impact: Option<String>,
    pub deprecated: Option<bool>,
    pub threats: Vec<String>,
    pub state_updates: Vec<ControlStateUpdate>,
    /// Where the action is taken in Microsoft's portal (often carries the tenant's id).
    pub action_url: Option<String>,
}

/// One `controlStateUpdates` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ControlStateUpdate {
    pub state: Option<String>,
    pub updated_date_time: Option<String>,
}

/// Builds the schema errors of one item, named by its `id`.
fn schema_problem(o: &Obj<'_>) -> impl Fn(String) -> ModelError {
    let record = o.string("id").unwrap_or_else(|| "(no id)".into());
    move |problem| ModelError::Schema {
        record: record.clone(),
        problem,
    }
}

/// `null`, or a string that is a timestamp: Graph's nullable `DateTimeOffset`.
fn nullable_time(o: &Obj<'_>, field: &str) -> Result<(), String> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if parse_graph_time(s).is_some() => Ok(()),
        Some(v) => Err(format!("`{field}` {v} is not a timestamp")),
    }
}

impl ControlProfile {
    /// Checks what Graph's schema requires of a profile: an `id`, and timestamps (or `null`)
    /// in `lastModifiedDateTime` and each `controlStateUpdates[].updatedDateTime`.
    pub fn check_schema(map: &Map<String, Value>) -> Result<(), ModelError> {
        let o = Obj(map);
        let problem = schema_problem(&o);
        if o.string("id").is_none_or(|id| id.trim().is_empty()) {
            return Err(problem("`id` is missing".into()));
        }
        nullable_time(&o, "lastModifiedDateTime").map_err(&problem)?;
        for update in o.objects("controlStateUpdates") {
            nullable_time(&update, "updatedDateTime")
                .map_err(|p| problem(format!("controlStateUpdates: {p}")))?;
        }
        Ok(())
    }

    pub fn from_json(map: &Map<String, Value>) -> Self {
        let o = Obj(map);
        ControlProfile {
            id: o.string("id"),
            title: o.string("title"),
            action_url: o.string("actionUrl"),
            control_category: o.string("controlCategory"),
            action_type: o.string("actionType"),
            service: o.string("service"),
            tier: o.string("tier"),
            max_score: o.f64("maxScore"),
            rank: o.f64("rank"),
            implementation_cost: o.string("implementationCost"),
            user_impact: o.string("userImpact"),
            deprecated: o.bool("deprecated"),
            threats: o.strings("threats"),
            state_updates: o
                .objects("controlStateUpdates")
                .into_iter()
                .map(|u| ControlStateUpdate {
                    state: u.string("state"),
                    updated_date_time: u.string("updatedDateTime"),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn numbers_sent_as_strings_are_read() {
        let r = SecureScoreRecord::from_json(&map(json!({
            "currentScore": "128.5", "maxScore": 274,
            "controlScores": [{"controlName": "OneAdmin", "score": "2", "count": "1", "total": "0", "on": "true"}]
        })));
        assert_eq!(r.current_score, Some(128.5));
        assert_eq!(r.max_score, Some(274.0));
        let c = &r.control_scores[0];
        assert_eq!(
            (c.score, c.count, c.total, c.on),
            (Some(2.0), Some(1.0), Some(0.0), Some(true))
        );
    }

    #[test]
    fn keys_match_case_insensitively() {
        let r = SecureScoreRecord::from_json(&map(json!({
            "CurrentScore": 10,
            "averageComparativeScores": [{"Basis": "TotalSeats", "AverageScore": "48.1",
                "SeatSizeRangeLowerValue": "1", "seatSizeRangeUpperValue": 100,
                "IdentityScore": 40.39, "identityScoreMax": "61.22"}]
        })));
        assert_eq!(r.current_score, Some(10.0));
        let p = &r.average_comparative_scores[0];
        assert_eq!(p.basis.as_deref(), Some("TotalSeats"));
        assert_eq!(p.average_score, Some(48.1));
        assert_eq!(
            (p.seat_size_range_lower, p.seat_size_range_upper),
            (Some(1.0), Some(100.0))
        );
        assert_eq!(
            p.categories,
            vec![("identity".into(), Some(40.39), Some(61.22))]
        );
    }

    #[test]
    fn wrong_types_become_none_not_errors() {
        let r = SecureScoreRecord::from_json(&map(json!({
            "currentScore": {"oops": 1}, "maxScore": null, "enabledServices": "HasMDEP2",
            "controlScores": [1, "x", {"controlName": 7, "score": [1]}]
        })));
        assert_eq!(r.current_score, None);
        assert_eq!(r.max_score, None);
        assert!(r.enabled_services.is_empty());
        assert_eq!(r.control_scores.len(), 1);
        assert_eq!(r.control_scores[0].control_name.as_deref(), Some("7"));
        assert_eq!(r.control_scores[0].score, None);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let p = ControlProfile::from_json(&map(json!({
            "id": "AdminMFAV2", "futureField": {"a": [1, 2]}, "deprecated": "false", "rank": "3"
        })));
        assert_eq!(p.id.as_deref(), Some("AdminMFAV2"));
        assert_eq!(p.deprecated, Some(false));
        assert_eq!(p.rank, Some(3.0));
    }

    #[test]
    fn page_needs_a_value_array() {
        assert!(matches!(
            Page::parse(b"{\"value\": 3}"),
            Err(ModelError::NoValueArray)
        ));
        assert!(matches!(Page::parse(b"<html>"), Err(ModelError::Json(_))));
        let p = Page::parse(
            br#"{"@odata.nextLink": "https://g/x?$skiptoken=1", "value": [{"id": 1}, 2]}"#,
        )
        .unwrap();
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.next_link.as_deref(), Some("https://g/x?$skiptoken=1"));
    }

    #[test]
    fn non_finite_numbers_are_rejected() {
        assert_eq!(lenient_f64(&json!("NaN")), None);
        assert_eq!(lenient_f64(&json!("inf")), None);
        assert_eq!(lenient_f64(&json!(" 7.5 ")), Some(7.5));
    }
}
