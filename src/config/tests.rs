//! Config loading: every key, every source, and a precise error for each kind of mistake.
#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error, which is large

use super::*;
use figment::Jail;
use std::path::Path;

fn load(jail: &mut Jail, toml: &str) -> Result<Config, ConfigError> {
    jail.create_file("config.toml", toml).expect("write config");
    Config::load(Some(Path::new("config.toml")), &AzureEnv::default())
}

const MINIMAL: &str = r#"
[[tenants]]
name = "contoso"
tenant_id = "00000000-0000-0000-0000-000000000001"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret = "s3cret-value"
"#;

fn err_text(r: Result<Config, ConfigError>) -> String {
    r.expect_err("config must be rejected").to_string()
}

#[test]
fn minimal_config_gets_defaults() {
    Jail::expect_with(|jail| {
        let c = load(jail, MINIMAL).unwrap();
        assert_eq!(c.graph.cloud, Cloud::Global);
        assert_eq!(c.graph.login_url, "https://login.microsoftonline.com");
        assert_eq!(c.graph.graph_url, "https://graph.microsoft.com");
        assert_eq!(c.graph.scope, "https://graph.microsoft.com/.default");
        assert_eq!(c.graph.timeout, Duration::from_secs(30));
        assert_eq!(c.refresh.interval, Duration::from_secs(3600));
        assert_eq!(
            c.listen,
            vec!["0.0.0.0:10057".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(c.tenants.len(), 1);
        let t = &c.tenants[0];
        assert_eq!(
            (t.name.as_str(), t.credential_name.as_str()),
            ("contoso", "contoso")
        );
        assert!(matches!(
            t.credential.as_ref(),
            CredentialConfig::ClientSecret { client_id, secret: SecretSource::Inline(s) }
                if client_id == "11111111-1111-1111-1111-111111111111" && s.expose() == "s3cret-value"
        ));
        Ok(())
    });
}

#[test]
fn every_key_is_read() {
    Jail::expect_with(|jail| {
        jail.create_file("ca.pem", &securescore_sim::test_ca_pem())
            .unwrap();
        jail.create_file("secret.txt", "from-file\n").unwrap();
        let c = load(
            jail,
            r#"
[graph]
cloud = "usgov"
login_url = "https://127.0.0.1:8443/"
graph_url = "https://127.0.0.1:8443"
ca_file = "ca.pem"
timeout = "10s"
max_retries = 5
retry_backoff = "250ms"
max_concurrent_requests = 2

[refresh]
interval = "15m"
failure_backoff = "30s"

[log]
level = "debug"
format = "json"

[web]
listen_address = [":9999", "127.0.0.1:0"]

[credentials.msp]
client_id = "22222222-2222-2222-2222-222222222222"
client_secret_file = "secret.txt"

[[tenants]]
name = "a"
tenant_id = "contoso.onmicrosoft.com"
credential = "msp"

[[tenants]]
tenant_id = "00000000-0000-0000-0000-000000000002"
credential = "msp"
"#,
        )
        .unwrap();
        assert_eq!(c.graph.cloud, Cloud::UsGov);
        assert_eq!(c.graph.login_url, "https://127.0.0.1:8443");
        // The scope stays the cloud's Graph resource when graph_url points elsewhere.
        assert_eq!(c.graph.scope, "https://graph.microsoft.us/.default");
        assert!(c.graph.ca_pem.is_some());
        assert_eq!(c.graph.timeout, Duration::from_secs(10));
        assert_eq!(c.graph.max_retries, 5);
        assert_eq!(c.graph.retry_backoff, Duration::from_millis(250));
        assert_eq!(c.graph.max_concurrent_requests, 2);
        assert_eq!(c.refresh.interval, Duration::from_secs(900));
        assert_eq!(c.refresh.failure_backoff, Duration::from_secs(30));
        assert_eq!(
            (c.log.level.as_str(), c.log.format),
            ("debug", LogFormat::Json)
        );
        assert_eq!(c.listen.len(), 2);
        assert_eq!(
            c.tenants[1].name, "00000000-0000-0000-0000-000000000002",
            "name defaults to tenant_id"
        );
        assert_eq!(c.tenants[0].credential_name, "msp");
        assert!(
            Arc::ptr_eq(&c.tenants[0].credential, &c.tenants[1].credential),
            "one shared credential"
        );
        match c.tenants[0].credential.as_ref() {
            CredentialConfig::ClientSecret { secret, .. } => {
                assert_eq!(
                    secret.read().unwrap().expose(),
                    "from-file",
                    "trailing newline trimmed"
                )
            }
            other => panic!("{other:?}"),
        }
        Ok(())
    });
}

#[test]
fn unknown_keys_are_rejected_with_key_and_file() {
    Jail::expect_with(|jail| {
        let e = err_text(load(
            jail,
            &format!("{MINIMAL}\n[refresh]\nintervall = \"1h\"\n"),
        ));
        assert!(e.contains("intervall"), "{e}");
        assert!(e.contains("config.toml"), "{e}");
        let e = err_text(load(
            jail,
            &MINIMAL.replace("client_secret =", "clientsecret ="),
        ));
        assert!(e.contains("clientsecret"), "{e}");
        Ok(())
    });
}

#[test]
fn wrong_types_name_the_key() {
    Jail::expect_with(|jail| {
        let e = err_text(load(
            jail,
            &format!("{MINIMAL}\n[graph]\ntimeout = \"soon\"\n"),
        ));
        assert!(e.contains("graph.timeout"), "{e}");
        assert!(e.contains("config.toml"), "{e}");
        Ok(())
    });
}

#[test]
fn a_missing_config_file_is_an_error() {
    Jail::expect_with(|_jail| {
        let e = err_text(Config::load(
            Some(Path::new("nope.toml")),
            &AzureEnv::default(),
        ));
        assert!(e.contains("nope.toml"), "{e}");
        Ok(())
    });
}

#[test]
fn environment_overrides_the_file_and_is_named_in_errors() {
    Jail::expect_with(|jail| {
        jail.set_env("SECURESCORE_GRAPH__TIMEOUT", "7s");
        jail.set_env("SECURESCORE_REFRESH__INTERVAL", "2m");
        let c = load(jail, MINIMAL).unwrap();
        assert_eq!(c.graph.timeout, Duration::from_secs(7));
        assert_eq!(c.refresh.interval, Duration::from_secs(120));
        jail.set_env("SECURESCORE_REFRESH__INTERVAL", "0s");
        let e = err_text(load(jail, MINIMAL));
        assert!(e.contains("refresh.interval"), "{e}");
        assert!(e.contains("SECURESCORE_"), "{e}");
        Ok(())
    });
}

#[test]
fn azure_environment_defines_one_tenant_when_none_is_configured() {
    Jail::expect_with(|jail| {
        jail.create_file("config.toml", "[refresh]\ninterval = \"1h\"\n")?;
        let azure = AzureEnv {
            tenant_id: Some("00000000-0000-0000-0000-000000000009".into()),
            client_id: Some("11111111-1111-1111-1111-111111111111".into()),
            client_secret: Some("env-secret".into()),
            ..AzureEnv::default()
        };
        let c = Config::load(Some(Path::new("config.toml")), &azure).unwrap();
        assert_eq!(c.tenants.len(), 1);
        assert_eq!(
            c.tenants[0].tenant_id,
            "00000000-0000-0000-0000-000000000009"
        );
        // Configured tenants win over the environment.
        let c = load(jail, MINIMAL).unwrap();
        assert_eq!(c.tenants[0].name, "contoso");
        let e = err_text(Config::load(None, &AzureEnv::default()));
        assert!(e.contains("no tenant configured"), "{e}");
        Ok(())
    });
}

#[test]
fn china_is_refused_with_the_reason() {
    Jail::expect_with(|jail| {
        let e = err_text(load(
            jail,
            &format!("[graph]\ncloud = \"china\"\n{MINIMAL}"),
        ));
        assert!(
            e.contains("graph.cloud") && e.contains("no Secure Score API"),
            "{e}"
        );
        Ok(())
    });
}

#[test]
fn bad_values_name_their_key() {
    let cases: &[(&str, &str)] = &[
        ("[graph]\nlogin_url = \"ftp://x\"\n", "graph.login_url"),
        ("[graph]\ngraph_url = \"not a url\"\n", "graph.graph_url"),
        ("[graph]\nca_file = \"missing.pem\"\n", "graph.ca_file"),
        (
            "[graph]\nmax_concurrent_requests = 9\n",
            "graph.max_concurrent_requests",
        ),
        ("[log]\nformat = \"xml\"\n", "log.format"),
        (
            "[web]\nlisten_address = [\"nonsense\"]\n",
            "web.listen_address[0]",
        ),
    ];
    for (extra, key) in cases {
        Jail::expect_with(|jail| {
            let e = err_text(load(jail, &format!("{extra}{MINIMAL}")));
            assert!(e.contains(key), "{key}: {e}");
            Ok(())
        });
    }
}

#[test]
fn tenant_mistakes_name_the_tenant_key() {
    let two = format!("{MINIMAL}{MINIMAL}");
    let cases: Vec<(String, &str)> = vec![
        (two.clone(), "tenants[1].name"),
        (
            two.replacen("name = \"contoso\"", "name = \"other\"", 1),
            "tenants[1].tenant_id",
        ),
        (
            MINIMAL.replace("tenant_id = \"00000000-0000-0000-0000-000000000001\"\n", ""),
            "tenants[0].tenant_id",
        ),
        (
            MINIMAL.replace("00000000-0000-0000-0000-000000000001", "../etc"),
            "tenants[0].tenant_id",
        ),
        (
            MINIMAL.replace("client_secret = \"s3cret-value\"\n", ""),
            "tenants[0].client_secret",
        ),
        (
            MINIMAL.replace("client_id = \"11111111-1111-1111-1111-111111111111\"\n", ""),
            "tenants[0].client_id",
        ),
        (
            format!("{MINIMAL}client_secret_file = \"x\"\n"),
            "tenants[0].client_secret_file",
        ),
        (
            format!("{MINIMAL}credential = \"msp\"\n"),
            "tenants[0].credential",
        ),
        (
            "[[tenants]]\ntenant_id = \"t1\"\ncredential = \"nope\"\n".to_string(),
            "tenants[0].credential",
        ),
        (
            format!(
                "{}client_secret_file = \"absent.txt\"\n",
                MINIMAL.replace("client_secret = \"s3cret-value\"\n", "")
            ),
            "tenants[0].client_secret_file",
        ),
    ];
    for (text, key) in cases {
        Jail::expect_with(|jail| {
            let e = err_text(load(jail, &text));
            assert!(e.contains(key), "{key}: {e}");
            assert!(!e.contains("s3cret-value"), "secret leaked into: {e}");
            Ok(())
        });
    }
}

#[test]
fn secrets_never_show_in_debug_output() {
    Jail::expect_with(|jail| {
        let c = load(jail, MINIMAL).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret-value"), "{dbg}");
        assert!(dbg.contains("redacted"));
        Ok(())
    });
}

#[test]
fn listen_addresses_follow_exporter_conventions() {
    assert_eq!(
        parse_listen_address(":10057").unwrap(),
        "0.0.0.0:10057".parse().unwrap()
    );
    assert_eq!(
        parse_listen_address("[::]:1").unwrap(),
        "[::]:1".parse().unwrap()
    );
    assert_eq!(
        parse_listen_address("localhost:5").unwrap(),
        "127.0.0.1:5".parse().unwrap()
    );
    assert!(parse_listen_address("10057").is_err());
}

#[test]
fn the_shipped_example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    let c = Config::load(Some(&path), &AzureEnv::default())
        .expect("config.toml in the repository loads");
    assert!(!c.tenants.is_empty());
}

#[test]
fn azure_workload_identity_convention_and_authority_host() {
    Jail::expect_with(|_jail| {
        let azure = AzureEnv {
            tenant_id: Some("00000000-0000-0000-0000-000000000009".into()),
            client_id: Some("11111111-1111-1111-1111-111111111111".into()),
            federated_token_file: Some("/var/run/secrets/azure/tokens/azure-identity-token".into()),
            authority_host: Some("https://login.microsoftonline.us/".into()),
            ..AzureEnv::default()
        };
        let c = Config::load(None, &azure).unwrap();
        assert_eq!(c.graph.login_url, "https://login.microsoftonline.us");
        assert!(matches!(
            c.tenants[0].credential.as_ref(),
            CredentialConfig::WorkloadIdentity { token_file, .. } if token_file.ends_with("azure-identity-token")
        ));
        Ok(())
    });
}

#[test]
fn named_credentials_can_be_set_from_the_environment() {
    Jail::expect_with(|jail| {
        jail.set_env(
            "SECURESCORE_CREDENTIALS__MSP__CLIENT_ID",
            "22222222-2222-2222-2222-222222222222",
        );
        jail.set_env("SECURESCORE_CREDENTIALS__MSP__CLIENT_SECRET", "from-env");
        let c = load(
            jail,
            "[[tenants]]\ntenant_id = \"t1\"\ncredential = \"msp\"\n",
        )
        .unwrap();
        match c.tenants[0].credential.as_ref() {
            CredentialConfig::ClientSecret { secret, client_id } => {
                assert_eq!(client_id, "22222222-2222-2222-2222-222222222222");
                assert_eq!(secret.read().unwrap().expose(), "from-env");
            }
            other => panic!("{other:?}"),
        }
        Ok(())
    });
}

#[test]
fn managed_identity_and_certificate_keys_are_read() {
    Jail::expect_with(|jail| {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let (_, pem) = securescore_sim::identity::make_certificate(
            securescore_sim::identity::TEST_APP_KEY_PEM,
            now - 60,
            now + 86_400,
        )
        .unwrap();
        jail.create_file("app.pem", &pem)?;
        let c = load(
            jail,
            "[[tenants]]\ntenant_id = \"t1\"\nmanaged_identity = true\nmanaged_identity_client_id = \"mi-1\"\n\n[[tenants]]\ntenant_id = \"t2\"\nclient_id = \"c\"\nclient_certificate_path = \"app.pem\"\n",
        )
        .unwrap();
        assert_eq!(
            c.tenants[0].credential.as_ref(),
            &CredentialConfig::ManagedIdentity {
                client_id: Some("mi-1".into())
            }
        );
        assert!(matches!(
            c.tenants[1].credential.as_ref(),
            CredentialConfig::Certificate { .. }
        ));
        assert_eq!(c.graph.managed_identity.imds_url, DEFAULT_IMDS_URL);
        // A PEM without its key is refused, naming the key.
        let cert_only: String = pem
            .split("-----BEGIN PRIVATE KEY-----")
            .next()
            .unwrap()
            .to_string();
        jail.create_file("cert-only.pem", &cert_only)?;
        let e = err_text(load(jail, "[[tenants]]\ntenant_id = \"t2\"\nclient_id = \"c\"\nclient_certificate_path = \"cert-only.pem\"\n"));
        assert!(
            e.contains("tenants[0].client_certificate_path") && e.contains("no private key"),
            "{e}"
        );
        Ok(())
    });
}

fn many_tenants(n: usize) -> String {
    (0..n)
        .map(|i| format!("[[tenants]]\nname = \"customer-{i:04}\"\ntenant_id = \"t{i}\"\ncredential = \"msp\"\n"))
        .collect::<String>()
        + "[credentials.msp]\nclient_id = \"c\"\nclient_secret = \"s\"\n"
}

#[test]
fn shards_partition_tenants_completely_and_stably() {
    Jail::expect_with(|jail| {
        let text = many_tenants(200);
        let mut seen = std::collections::BTreeMap::new();
        for index in 0..3u32 {
            jail.create_file("config.toml", &text)?;
            let c = Config::load_with(
                Some(Path::new("config.toml")),
                &AzureEnv::default(),
                &Overrides {
                    shard_index: Some(index.to_string()),
                    shard_count: Some(3),
                    ..Overrides::default()
                },
            )
            .unwrap();
            assert_eq!(c.shard, Some((index, 3)));
            assert!(
                c.tenants.len() > 40,
                "roughly a third each: {}",
                c.tenants.len()
            );
            for t in c.tenants {
                assert!(
                    seen.insert(t.name.clone(), index).is_none(),
                    "{} in two shards",
                    t.name
                );
            }
        }
        assert_eq!(seen.len(), 200, "every tenant in exactly one shard");
        // Adding tenants moves none of the existing ones.
        let bigger = many_tenants(260);
        jail.create_file("config.toml", &bigger)?;
        for index in 0..3u32 {
            let c = Config::load_with(
                Some(Path::new("config.toml")),
                &AzureEnv::default(),
                &Overrides {
                    shard_index: Some(index.to_string()),
                    shard_count: Some(3),
                    ..Overrides::default()
                },
            )
            .unwrap();
            for t in c.tenants {
                if let Some(old) = seen.get(&t.name) {
                    assert_eq!(*old, index, "{} moved", t.name);
                }
            }
        }
        // From the file and the environment too, and validated.
        jail.create_file(
            "config.toml",
            &format!("[shard]\nindex = 1\ncount = 2\n{}", many_tenants(10)),
        )?;
        let c = Config::load(Some(Path::new("config.toml")), &AzureEnv::default()).unwrap();
        assert_eq!(c.shard, Some((1, 2)));
        jail.set_env("SECURESCORE_SHARD__INDEX", "5");
        let e = err_text(Config::load(
            Some(Path::new("config.toml")),
            &AzureEnv::default(),
        ));
        assert!(e.contains("shard.index"), "{e}");
        Ok(())
    });
}

#[test]
fn metrics_settings_are_read_and_checked() {
    Jail::expect_with(|jail| {
        let c = load(
            jail,
            &format!("[metrics]\ncontrols = \"incomplete\"\nexclude_categories = [\"device\"]\ninclude_tenants = [\"customer-000*\"]\n{}", many_tenants(30)),
        )
        .unwrap();
        assert_eq!(
            c.series.controls,
            crate::config::series_filter::ControlsMode::Incomplete
        );
        assert_eq!(c.tenants.len(), 10, "customer-0000 … customer-0009");
        let e = err_text(load(
            jail,
            &format!("[metrics]\ncontrols = \"some\"\n{MINIMAL}"),
        ));
        assert!(e.contains("metrics.controls"), "{e}");
        Ok(())
    });
}

#[test]
fn tenants_come_from_generated_files_and_directories() {
    Jail::expect_with(|jail| {
        std::fs::create_dir_all(jail.directory().join("tenants.d")).unwrap();
        jail.create_file(
            "tenants.d/10-customers.csv",
            "name,tenant_id,credential\ncustomer-a,aaaa.onmicrosoft.com,msp\n\"customer-b\",bbbb.onmicrosoft.com,msp\n",
        )?;
        jail.create_file(
            "tenants.d/20-more.toml",
            "[[tenants]]\nname = \"customer-c\"\ntenant_id = \"cccc.onmicrosoft.com\"\ncredential = \"msp\"\n",
        )?;
        jail.create_file("tenants.d/ignored.txt", "not a tenant file")?;
        jail.create_file(
            "extra.csv",
            "tenant_id,client_id,client_secret_file\ndddd.onmicrosoft.com,c,secret.txt\n",
        )?;
        jail.create_file("secret.txt", "s\n")?;
        let base = "tenant_files = [\"tenants.d\", \"extra.csv\"]\n[credentials.msp]\nclient_id = \"c\"\nclient_secret = \"s\"\n";
        let c = load(jail, &format!("{base}{MINIMAL}")).unwrap();
        let names: Vec<&str> = c.tenants.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "contoso",
                "customer-a",
                "customer-b",
                "customer-c",
                "dddd.onmicrosoft.com"
            ]
        );
        assert_eq!(c.tenants[1].credential_name, "msp");
        // Duplicates across sources name the file and line.
        jail.create_file(
            "tenants.d/30-dup.csv",
            "name,tenant_id,credential\ncontoso,eeee.onmicrosoft.com,msp\n",
        )?;
        let e = err_text(load(jail, &format!("{base}{MINIMAL}")));
        assert!(
            e.contains("30-dup.csv:2") && e.contains("duplicate tenant name"),
            "{e}"
        );
        std::fs::remove_file(jail.directory().join("tenants.d/30-dup.csv")).unwrap();
        jail.create_file("tenants.d/40-bad.csv", "name,tenant,credential\nx,y,msp\n")?;
        let e = err_text(load(jail, &format!("{base}{MINIMAL}")));
        assert!(
            e.contains("40-bad.csv:1") && e.contains("unknown column `tenant`"),
            "{e}"
        );
        std::fs::remove_file(jail.directory().join("tenants.d/40-bad.csv")).unwrap();
        let e = err_text(load(
            jail,
            &format!("tenant_files = [\"missing\"]\n{MINIMAL}"),
        ));
        assert!(e.contains("tenant_files") && e.contains("missing"), "{e}");
        Ok(())
    });
}
