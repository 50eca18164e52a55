//! National clouds: which Entra ID authority and which Graph host serve Secure Score.
//!
//! Tokens are not interchangeable across clouds, and the token scope names the cloud's Graph
//! resource, so the cloud decides the login host, the Graph host and the scope together.

/// A Microsoft cloud that has the Secure Score API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// Worldwide, including US GCC "moderate".
    Global,
    /// US Government L4 (GCC High).
    UsGov,
    /// US Government L5 (DoD).
    UsGovDod,
}

impl Cloud {
    /// Parses a `graph.cloud` value; the error says why a value is refused.
    pub fn parse(value: &str) -> Result<Cloud, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "global" | "public" | "azurecloud" => Ok(Cloud::Global),
            "usgov" | "gcchigh" | "gcc_high" => Ok(Cloud::UsGov),
            "usgov_dod" | "dod" => Ok(Cloud::UsGovDod),
            "china" | "azurechinacloud" => Err(
                "`china` is not supported: Microsoft Graph operated by 21Vianet has no Secure Score API"
                    .into(),
            ),
            other => Err(format!(
                "`{other}` is not one of `global`, `usgov`, `usgov_dod`"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::UsGov => "usgov",
            Cloud::UsGovDod => "usgov_dod",
        }
    }

    /// The Entra ID authority host.
    pub fn login_url(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGov | Cloud::UsGovDod => "https://login.microsoftonline.us",
        }
    }

    /// The Graph root, which is also the token resource.
    pub fn graph_url(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::UsGovDod => "https://dod-graph.microsoft.us",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_has_its_hosts() {
        assert_eq!(
            Cloud::parse("global").unwrap().graph_url(),
            "https://graph.microsoft.com"
        );
        assert_eq!(
            Cloud::parse("usgov").unwrap().login_url(),
            "https://login.microsoftonline.us"
        );
        assert_eq!(
            Cloud::parse("usgov_dod").unwrap().graph_url(),
            "https://dod-graph.microsoft.us"
        );
    }

    #[test]
    fn china_is_refused_with_a_reason() {
        let err = Cloud::parse("china").unwrap_err();
        assert!(err.contains("no Secure Score API"), "{err}");
        assert!(Cloud::parse("mars").unwrap_err().contains("not one of"));
    }
}
