//! Every credential type and cloud against the simulator, with the failures users meet.

use crate::helpers::*;
use securescore_exporter::config::AzureEnv;
use securescore_sim::identity::{make_certificate, TEST_APP_KEY_PEM, TEST_OTHER_KEY_PEM};
use securescore_sim::spec::{Consent, DEFAULT_FEDERATED_SUBJECT};
use securescore_sim::{Endpoint, ManagedIdentitySpec, SimulatorOptions};
use std::time::Duration;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The simulator's demo tenants, with `f` applied to each.
fn tenants(f: impl Fn(&mut securescore_sim::spec::TenantSpec)) -> SimulatorOptions {
    let mut o = SimulatorOptions::default();
    for t in &mut o.tenants {
        f(t);
    }
    o
}

/// The overview and every tenant page it links (where each tenant's whole error shows).
async fn landing(app: &TestApp) -> String {
    let mut html = app.get("/").await.text().await.unwrap();
    let links: Vec<String> = html
        .split("href=\"tenants/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_string))
        .collect();
    for link in links {
        html.push_str(
            &app.get(&format!("/tenants/{link}"))
                .await
                .text()
                .await
                .unwrap(),
        );
    }
    html.replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

async fn failure_reason(app: &TestApp, tenant: &str) -> Scrape {
    app.wait_ready().await;
    app.wait_for("an auth failure", 10, |s| {
        s.failures(tenant, "auth") >= Some(1.0)
    })
    .await
}

#[tokio::test]
async fn certificate_credential_from_pem_signs_a_valid_assertion() {
    let (der, pem) = make_certificate(TEST_APP_KEY_PEM, now() - 3600, now() + 30 * 86_400).unwrap();
    let pem2 = pem.clone();
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        sim: tenants(|t| t.certificates = vec![der.clone()]),
        credential: Some(certificate_credential("app.pem", pem2.clone())),
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let s = app.scrape().await;
    assert_eq!(s.up("contoso"), Some(1.0));
    let expiry = s
        .get(
            "securescore_credential_expiry_timestamp_seconds",
            &[("credential", "contoso")],
        )
        .unwrap();
    assert!(
        (expiry - (now() + 30 * 86_400) as f64).abs() < 5.0,
        "{expiry}"
    );
    let token = app
        .sim
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Endpoint::Token)
        .unwrap();
    let form: std::collections::BTreeMap<_, _> = token.form.into_iter().collect();
    assert_eq!(
        form["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert!(!form.contains_key("client_secret"));
    app.stop().await;
}

#[tokio::test]
async fn certificate_credential_from_pkcs12_with_password() {
    let (der, pem) = make_certificate(TEST_APP_KEY_PEM, now() - 3600, now() + 86_400).unwrap();
    // Build the .pfx the way a user exports one: certificate + key, AES-encrypted with a password.
    let key_der = tokio_rustls_key_der(TEST_APP_KEY_PEM);
    let chain = p12_keystore::PrivateKeyChain::new(
        b"1".to_vec(),
        p12_keystore::PrivateKey::from_der(&key_der).unwrap(),
        vec![p12_keystore::Certificate::from_der(&der).unwrap()],
    );
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry("app", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    let pfx = store.writer("pfx-pass").write().unwrap();
    let _ = pem;
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        sim: tenants(|t| t.certificates = vec![der.clone()]),
        credential: Some(Box::new(move |t, dir| {
            let path = dir.join("app.pfx");
            std::fs::write(&path, &pfx).unwrap();
            format!(
                "client_id = {}\nclient_certificate_path = {}\nclient_certificate_password = \"pfx-pass\"\n",
                q(&t.client_id),
                q(&path.to_string_lossy())
            )
        })),
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    assert_eq!(app.scrape().await.up("contoso"), Some(1.0));
    app.stop().await;
}

fn tokio_rustls_key_der(pem: &str) -> Vec<u8> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::PrivateKeyDer;
    match PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap() {
        PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
        _ => panic!("fixture keys are PKCS#8"),
    }
}

#[tokio::test]
async fn a_certificate_with_the_wrong_key_is_refused_with_advice() {
    let (registered, _) = make_certificate(TEST_APP_KEY_PEM, now() - 3600, now() + 86_400).unwrap();
    let (_, wrong_pem) =
        make_certificate(TEST_OTHER_KEY_PEM, now() - 3600, now() + 86_400).unwrap();
    let app = spawn_app(Setup {
        only: vec!["contoso", "fabrikam"],
        sim: tenants(|t| t.certificates = vec![registered.clone()]),
        credential: Some(Box::new(move |t, dir| {
            if t.name != "contoso" {
                return format!(
                    "client_id = {}\nclient_secret = {}\n",
                    q(&t.client_id),
                    q(&t.client_secret)
                );
            }
            let path = dir.join("wrong.pem");
            std::fs::write(&path, &wrong_pem).unwrap();
            format!(
                "client_id = {}\nclient_certificate_path = {}\n",
                q(&t.client_id),
                q(&path.to_string_lossy())
            )
        })),
        ..Setup::default()
    })
    .await;
    let s = failure_reason(&app, "contoso").await;
    assert_eq!(s.up("contoso"), Some(0.0));
    assert_eq!(s.up("fabrikam"), Some(1.0), "another tenant is unaffected");
    let page = landing(&app).await;
    assert!(page.contains("AADSTS700027"), "{page}");
    assert!(
        page.contains("upload the certificate's public part"),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_expired_certificate_is_refused_and_its_expiry_exported() {
    let (der, pem) =
        make_certificate(TEST_APP_KEY_PEM, now() - 40 * 86_400, now() - 86_400).unwrap();
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        sim: tenants(|t| t.certificates = vec![der.clone()]),
        credential: Some(certificate_credential("old.pem", pem.clone())),
        ..Setup::default()
    })
    .await;
    let s = failure_reason(&app, "contoso").await;
    let expiry = s
        .get(
            "securescore_credential_expiry_timestamp_seconds",
            &[("credential", "contoso")],
        )
        .unwrap();
    assert!(expiry < now() as f64);
    assert!(landing(&app).await.contains("expired"));
    app.stop().await;
}

#[tokio::test]
async fn workload_identity_reads_a_rotated_token_file() {
    let app_dir = tempfile::tempdir().unwrap();
    let token_file = app_dir.path().join("azure-identity-token");
    let app = {
        let tf = token_file.clone();
        spawn_app(Setup {
            only: vec!["contoso"],
            interval: "1s",
            sim: SimulatorOptions {
                token_lifetime: Duration::from_secs(2),
                ..SimulatorOptions::default()
            },
            credential: Some(Box::new(move |t, _| {
                format!(
                    "client_id = {}\nfederated_token_file = {}\n",
                    q(&t.client_id),
                    q(&tf.to_string_lossy())
                )
            })),
            ..Setup::default()
        })
        .await
    };
    // The token the kubelet projected first: valid for 3 s only.
    std::fs::write(
        &token_file,
        app.sim
            .issue_federated_token(DEFAULT_FEDERATED_SUBJECT, Duration::from_secs(3)),
    )
    .unwrap();
    app.wait_ready().await;
    assert_eq!(app.scrape().await.up("contoso"), Some(1.0));
    // The kubelet rotates the file before the old token expires.
    std::fs::write(
        &token_file,
        app.sim
            .issue_federated_token(DEFAULT_FEDERATED_SUBJECT, Duration::from_secs(600)),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await; // the first token is now expired
    let before = app.sim.count("contoso", Endpoint::Token);
    eventually("new tokens from the rotated file", 10, || async {
        app.sim.count("contoso", Endpoint::Token) > before
    })
    .await;
    let s = app
        .wait_for("a refresh after rotation", 10, |s| {
            s.up("contoso") == Some(1.0)
        })
        .await;
    assert_eq!(s.failures("contoso", "auth"), Some(0.0));
    // A token for a subject with no federated credential is refused with advice.
    std::fs::write(
        &token_file,
        app.sim.issue_federated_token(
            "system:serviceaccount:other:intruder",
            Duration::from_secs(600),
        ),
    )
    .unwrap();
    failure_reason(&app, "contoso").await;
    assert!(landing(&app)
        .await
        .contains("no federated identity credential"));
    app.stop().await;
}

#[tokio::test]
async fn missing_or_unreadable_credential_files_fail_with_the_path() {
    let app_dir = tempfile::tempdir().unwrap();
    let secret_file = app_dir.path().join("secret");
    let token_file = app_dir.path().join("missing-token");
    let sf = secret_file.clone();
    let tf = token_file.clone();
    let app = spawn_app(Setup {
        only: vec!["contoso", "fabrikam"],
        credential: Some(Box::new(move |t, _| {
            if t.name == "contoso" {
                std::fs::write(&sf, format!("{}\n", t.client_secret)).unwrap();
                format!(
                    "client_id = {}\nclient_secret_file = {}\n",
                    q(&t.client_id),
                    q(&sf.to_string_lossy())
                )
            } else {
                format!(
                    "client_id = {}\nfederated_token_file = {}\n",
                    q(&t.client_id),
                    q(&tf.to_string_lossy())
                )
            }
        })),
        interval: "1s",
        ..Setup::default()
    })
    .await;
    let s = failure_reason(&app, "fabrikam").await;
    assert_eq!(
        s.up("contoso"),
        Some(1.0),
        "the secret file works (trailing newline trimmed)"
    );
    assert!(landing(&app)
        .await
        .contains("cannot read federated_token_file"));
    // The secret file disappears: the next token request says so.
    std::fs::remove_file(&secret_file).unwrap();
    app.sim.revoke_tokens();
    failure_reason(&app, "contoso").await;
    assert!(landing(&app)
        .await
        .contains("cannot read client_secret_file"));
    app.stop().await;
}

#[tokio::test]
async fn consent_missing_for_one_tenant_of_a_shared_credential() {
    // One multi-tenant app registration: the same client id and secret in every tenant.
    let sim = tenants(|t| {
        t.client_id = "77777777-7777-4777-8777-777777777777".into();
        t.client_secret = "shared-msp-secret".into();
        if t.name == "northwind" {
            t.consent = Consent::NoServicePrincipal;
        }
        if t.name == "fabrikam" {
            t.consent = Consent::NoAppRole;
        }
    });
    let app = spawn_app(Setup {
        only: vec!["contoso", "fabrikam", "northwind"],
        sim,
        credential: Some(Box::new(|_, _| "credential = \"msp\"\n".into())),
        extra_toml: "\n[credentials.msp]\nclient_id = \"77777777-7777-4777-8777-777777777777\"\nclient_secret = \"shared-msp-secret\"\n".into(),
        ..Setup::default()
    })
    .await;
    failure_reason(&app, "northwind").await;
    let s = failure_reason(&app, "fabrikam").await;
    assert_eq!(
        s.up("contoso"),
        Some(1.0),
        "the consented tenant keeps working"
    );
    assert_eq!(s.up("northwind"), Some(0.0));
    assert_eq!(s.up("fabrikam"), Some(0.0));
    let page = landing(&app).await;
    for tenant in ["northwind", "fabrikam"] {
        let expected =
            format!("admin consent for SecurityEvents.Read.All is missing in tenant {tenant}");
        assert!(page.contains(&expected), "{tenant}: {page}");
    }
    assert!(page.contains("/adminconsent?client_id=77777777-7777-4777-8777-777777777777"));
    app.stop().await;
}

#[tokio::test]
async fn entra_errors_become_advice() {
    let app = spawn_app(Setup {
        only: vec!["contoso", "fabrikam"],
        wrong_secret: vec!["contoso"],
        sim: tenants(|t| t.app_disabled = t.name == "fabrikam"),
        ..Setup::default()
    })
    .await;
    failure_reason(&app, "contoso").await;
    failure_reason(&app, "fabrikam").await;
    let page = landing(&app).await;
    assert!(
        page.contains("the client secret of credential contoso is wrong"),
        "{page}"
    );
    assert!(page.contains("AADSTS7000215"));
    assert!(
        page.contains("the application is disabled in tenant fabrikam"),
        "{page}"
    );
    assert!(page.contains("AADSTS7000112"));
    app.stop().await;
}

async fn managed_identity_app(
    azure: fn(&securescore_sim::Simulator) -> AzureEnv,
    client_id: Option<&'static str>,
) {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        sim: SimulatorOptions {
            managed_identity: Some(ManagedIdentitySpec {
                tenant: "contoso".into(),
                system_assigned: true,
                client_ids: vec!["99999999-9999-4999-8999-999999999999".into()],
                header_secret: "app-service-header-secret".into(),
            }),
            ..SimulatorOptions::default()
        },
        credential: Some(Box::new(move |_, _| match client_id {
            Some(id) => format!(
                "managed_identity = true\nmanaged_identity_client_id = {}\n",
                q(id)
            ),
            None => "managed_identity = true\n".into(),
        })),
        azure_from_sim: Some(Box::new(azure)),
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let s = app.scrape().await;
    assert_eq!(s.up("contoso"), Some(1.0));
    assert!(app.sim.count("contoso", Endpoint::ManagedIdentity) >= 1);
    app.stop().await;
}

#[tokio::test]
async fn managed_identity_through_imds_system_and_user_assigned() {
    fn imds(sim: &securescore_sim::Simulator) -> AzureEnv {
        AzureEnv {
            imds_host: sim.imds_url(),
            ..AzureEnv::default()
        }
    }
    managed_identity_app(imds, None).await;
    managed_identity_app(imds, Some("99999999-9999-4999-8999-999999999999")).await;
}

#[tokio::test]
async fn managed_identity_through_app_service() {
    fn app_service(sim: &securescore_sim::Simulator) -> AzureEnv {
        AzureEnv {
            identity_endpoint: sim.identity_endpoint(),
            identity_header: Some("app-service-header-secret".into()),
            ..AzureEnv::default()
        }
    }
    managed_identity_app(app_service, None).await;
}

#[tokio::test]
async fn an_unknown_managed_identity_is_an_auth_failure() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        sim: SimulatorOptions {
            managed_identity: Some(ManagedIdentitySpec {
                tenant: "contoso".into(),
                system_assigned: false,
                client_ids: vec![],
                header_secret: "x".into(),
            }),
            ..SimulatorOptions::default()
        },
        credential: Some(Box::new(|_, _| "managed_identity = true\n".into())),
        azure_from_sim: Some(Box::new(|sim| AzureEnv {
            imds_host: sim.imds_url(),
            ..AzureEnv::default()
        })),
        ..Setup::default()
    })
    .await;
    failure_reason(&app, "contoso").await;
    assert!(landing(&app).await.contains("Identity not found"));
    app.stop().await;
}

#[tokio::test]
async fn national_clouds_ask_for_their_own_graph_scope() {
    for (cloud, scope) in [
        ("usgov", "https://graph.microsoft.us/.default"),
        ("usgov_dod", "https://dod-graph.microsoft.us/.default"),
        ("global", "https://graph.microsoft.com/.default"),
    ] {
        let app = spawn_app(Setup {
            only: vec!["contoso"],
            extra_graph: match cloud {
                "usgov" => "cloud = \"usgov\"\n",
                "usgov_dod" => "cloud = \"usgov_dod\"\n",
                _ => "cloud = \"global\"\n",
            },
            ..Setup::default()
        })
        .await;
        app.wait_ready().await;
        assert_eq!(app.scrape().await.up("contoso"), Some(1.0), "{cloud}");
        let token = app
            .sim
            .requests()
            .into_iter()
            .find(|r| r.endpoint == Endpoint::Token)
            .unwrap();
        assert!(
            token
                .form
                .contains(&("scope".to_string(), scope.to_string())),
            "{cloud}: {:?}",
            token.form
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn the_simulator_refuses_a_replayed_or_premature_assertion() {
    use securescore_exporter::core::certificate::CertificateCredential;
    let (der, pem) = make_certificate(TEST_APP_KEY_PEM, now() - 3600, now() + 86_400).unwrap();
    let sim = securescore_sim::Simulator::start(tenants(|t| t.certificates = vec![der.clone()]))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pem");
    std::fs::write(&path, pem).unwrap();
    let cred = CertificateCredential::load(&path, None).unwrap();
    let spec = sim
        .tenants()
        .into_iter()
        .find(|t| t.name == "contoso")
        .unwrap();
    let url = format!("{}/{}/oauth2/v2.0/token", sim.base_url(), spec.tenant_id);
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(sim.ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let post = |assertion: String| {
        let client = client.clone();
        let (url, id) = (url.clone(), spec.client_id.clone());
        async move {
            let r = client
                .post(&url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", id.as_str()),
                    ("scope", "https://graph.microsoft.com/.default"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.as_str()),
                ])
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value =
                serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            (status, body)
        }
    };
    let assertion = cred.assertion(&spec.client_id, &url, now()).unwrap();
    let (status, body) = post(assertion.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(assertion).await;
    assert_eq!(status, 401);
    assert_eq!(body["error_codes"][0], 700025, "jti reuse: {body}");
    // nbf an hour ahead: not yet valid.
    let (status, body) = post(cred.assertion(&spec.client_id, &url, now() + 3600).unwrap()).await;
    assert_eq!(status, 401);
    assert_eq!(body["error_codes"][0], 700024, "{body}");
    // The audience must be this token URL exactly.
    let other = format!("{}/{}/oauth2/v2.0/token", sim.base_url(), "someone-else");
    let (_, body) = post(cred.assertion(&spec.client_id, &other, now()).unwrap()).await;
    assert_eq!(body["error_codes"][0], 700023, "{body}");
}

/// The simulator checks the exporter's certificate assertions as Entra ID does (moved here
/// from the simulator crate, which does not depend on the exporter).
#[test]
fn the_exporters_assertion_passes_entra_checks_and_tampering_fails() {
    use securescore_exporter::core::certificate::CertificateCredential;
    use securescore_sim::identity::verify_certificate_assertion;
    let dir = tempfile::tempdir().unwrap();
    let (der, pem) = make_certificate(TEST_APP_KEY_PEM, now() - 60, now() + 86_400).unwrap();
    let path = dir.path().join("app.pem");
    std::fs::write(&path, &pem).unwrap();
    let cred = CertificateCredential::load(&path, None).unwrap();
    let aud = "https://login.example/t1/oauth2/v2.0/token";
    let a = cred.assertion("client-1", aud, now()).unwrap();
    let reg = vec![der.clone()];
    let jti = verify_certificate_assertion(&a, &reg, "client-1", aud, now())
        .ok()
        .unwrap();
    assert_eq!(jti.len(), 36);
    assert_eq!(
        verify_certificate_assertion(&a, &reg, "client-2", aud, now())
            .err()
            .unwrap()
            .code,
        700021
    );
    assert_eq!(
        verify_certificate_assertion(
            &a,
            &reg,
            "client-1",
            "https://other/t1/oauth2/v2.0/token",
            now()
        )
        .err()
        .unwrap()
        .code,
        700023
    );
    assert_eq!(
        verify_certificate_assertion(&a, &reg, "client-1", aud, now() + 3600)
            .err()
            .unwrap()
            .code,
        700024
    );
    // Another key's certificate is not the registered one.
    let (other, _) = make_certificate(TEST_OTHER_KEY_PEM, now() - 60, now() + 86_400).unwrap();
    assert_eq!(
        verify_certificate_assertion(&a, &[other], "client-1", aud, now())
            .err()
            .unwrap()
            .code,
        700027
    );
    // A flipped signature byte fails.
    let mut bad: Vec<char> = a.chars().collect();
    let i = bad.len() - 10;
    bad[i] = if bad[i] == 'A' { 'B' } else { 'A' };
    let bad: String = bad.into_iter().collect();
    assert_eq!(
        verify_certificate_assertion(&bad, &reg, "client-1", aud, now())
            .err()
            .unwrap()
            .code,
        700027
    );
}
