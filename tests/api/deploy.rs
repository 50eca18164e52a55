//! Deployment files, validated with the real tools where they exist here: kustomize (Debian's
//! kubectl) and kubernetes-validate for the manifests, the Prometheus Operator's CRD schemas
//! for ServiceMonitor and PrometheusRule, promtool and amtool for the compose stack's configs,
//! systemd-analyze for the unit. There is no Docker engine, so the Dockerfile and compose files
//! are checked against what the build produces and what they mount.

use crate::dashboards::repo;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_securescore_exporter");
const CONFIG_PATH: &str = "/etc/securescore_exporter/config.toml";

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn yaml_docs(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(text)
        .map(|d| {
            let mut v = serde_norway::Value::deserialize(d).expect("valid YAML");
            v.apply_merge().expect("YAML merge keys resolve");
            serde_json::to_value(v).expect("YAML maps to JSON")
        })
        .filter(|v| !v.is_null())
        .collect()
}

pub fn yaml_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml_docs(&text).into_iter().next().expect("one document")
}

/// Debian's kubectl (kubernetes-client, with kustomize built in), which `scripts/test`
/// unpacks into target/tools so it installs nothing system-wide and is the same everywhere.
fn kubectl() -> PathBuf {
    let dir = crate::helpers::installed_tool(
        "kubernetes-client",
        "usr/bin/kubectl",
        "Debian's kubectl (kubernetes-client)",
    );
    dir.join("usr/bin/kubectl")
}

/// kubernetes-validate from PyPI, which `scripts/test` puts in target/tools/python.
fn kubernetes_validate(file: &Path) -> std::process::Output {
    let dir = crate::helpers::installed_tool(
        "python",
        "kubernetes_validate",
        "kubernetes-validate (PyPI)",
    );
    Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict", "--quiet"])
        .arg(file)
        .env("PYTHONPATH", &dir)
        .output()
        .expect("python3 runs")
}

/// The Prometheus Operator CRD models (generated from its CRD schemas), in target/tools.
fn operator_models() -> PathBuf {
    crate::helpers::installed_tool(
        "k8s-models",
        "node_modules/@kubernetes-models/prometheus-operator/package.json",
        "@kubernetes-models/prometheus-operator",
    )
}

/// Validates ServiceMonitor and PrometheusRule objects against the operator's schemas.
fn validate_operator_objects(objects: &[Value]) {
    let dir = operator_models();
    // One file per call: tests run in parallel threads of one process.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let input = dir.join(format!("objects-{}-{call}.json", std::process::id()));
    std::fs::write(&input, serde_json::to_string(objects).unwrap()).unwrap();
    let script = dir.join(format!("validate-{}-{call}.mjs", std::process::id()));
    std::fs::write(
        &script,
        r#"import { readFileSync } from "fs";
import { ServiceMonitor, PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
const kinds = { ServiceMonitor, PrometheusRule };
let failed = 0;
for (const o of JSON.parse(readFileSync(process.argv[2], "utf8"))) {
  try { new kinds[o.kind](o).validate(); console.log(`valid ${o.kind}/${o.metadata.name}`); }
  catch (e) { failed++; console.log(`INVALID ${o.kind}/${o.metadata.name}: ${e.message}`); }
}
process.exit(failed ? 1 : 0);
"#,
    )
    .unwrap();
    let out = Command::new("node")
        .arg(&script)
        .arg(&input)
        .current_dir(&dir)
        .output()
        .expect("node runs");
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("valid")).count(),
        objects.len()
    );
}

fn render(overlay: &str) -> Vec<Value> {
    let out = run(Command::new(kubectl())
        .arg("kustomize")
        .arg(repo().join("deploy/kubernetes/overlays").join(overlay)));
    yaml_docs(&String::from_utf8(out.stdout).unwrap())
}

fn find<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn default_port() -> u16 {
    securescore_exporter::config::DEFAULT_LISTEN_ADDRESS
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// `check-config` on a config as the container sees it: `tenant_files` and secret files at
/// their in-container paths are pointed at stand-ins.
fn check_config(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants.d");
    std::fs::create_dir_all(&tenants).unwrap();
    std::fs::write(
        tenants.join("tenants.csv"),
        "name,tenant_id,credential\ncustomer-a,customer-a.onmicrosoft.com,msp\n",
    )
    .unwrap();
    let mut text = text.replace(
        "/etc/securescore_exporter/tenants.d",
        &tenants.to_string_lossy(),
    );
    // Secret and token files the orchestrator would mount: stand-ins with a dummy value.
    let quoted: Vec<String> = text
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|v| v.starts_with("/etc/") || v.starts_with("/run/") || v.starts_with("/var/run/"))
        .map(str::to_string)
        .collect();
    for (i, original) in quoted.iter().enumerate() {
        let stand_in = dir.path().join(format!("mounted-{i}"));
        std::fs::write(&stand_in, "stand-in value").unwrap();
        text = text.replace(original.as_str(), &stand_in.to_string_lossy());
    }
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let out = run(Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&path)
        .env_remove("AZURE_TENANT_ID")
        .env_remove("AZURE_CLIENT_ID")
        .env_remove("AZURE_CLIENT_SECRET"));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// `path` of the `[state]` table of a config file's text.
fn state_path_of(config: &str) -> Option<String> {
    let table = config.split("\n[state]\n").nth(1)?;
    let line = table
        .lines()
        .take_while(|l| !l.starts_with('['))
        .find(|l| l.starts_with("path = "))?;
    Some(line["path = ".len()..].trim().trim_matches('"').to_string())
}

fn pod_spec(workload: &Value) -> &Value {
    &workload["spec"]["template"]["spec"]
}

/// What every workload must do, whichever overlay made it.
fn assert_hardened_and_probed(workload: &Value, objects: &[Value]) {
    let name = workload["metadata"]["name"].as_str().unwrap();
    let pod = pod_spec(workload);
    let psc = &pod["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true, "{name}");
    assert_ne!(psc["runAsUser"], 0, "{name}");
    assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault", "{name}");
    let c = &pod["containers"][0];
    let csc = &c["securityContext"];
    assert_eq!(csc["readOnlyRootFilesystem"], true, "{name}");
    assert_eq!(csc["allowPrivilegeEscalation"], false, "{name}");
    assert_eq!(
        csc["capabilities"]["drop"],
        serde_json::json!(["ALL"]),
        "{name}"
    );
    for kind in ["requests", "limits"] {
        assert!(
            c["resources"][kind]["memory"].is_string(),
            "{name}: memory {kind}"
        );
    }
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/-/healthy");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/-/ready");
    assert_eq!(c["ports"][0]["containerPort"], default_port());
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        args.contains(&format!("--config={CONFIG_PATH}").as_str()),
        "{args:?}"
    );
    assert!(args.contains(&format!("--web.listen-address=0.0.0.0:{}", default_port()).as_str()));
    // The config file is mounted where --config points, from the generated ConfigMap.
    let mounts = c["volumeMounts"].as_array().unwrap();
    let config_mount = mounts
        .iter()
        .find(|m| m["mountPath"] == CONFIG_PATH)
        .expect("config mount");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == config_mount["name"])
        .expect("config volume");
    let cm_name = volume["configMap"]["name"].as_str().unwrap();
    let cm = find(objects, "ConfigMap")
        .into_iter()
        .find(|c| c["metadata"]["name"] == cm_name)
        .expect("the ConfigMap the volume names exists (with its hash suffix)");
    let config = cm["data"][config_mount["subPath"].as_str().unwrap()]
        .as_str()
        .unwrap();
    assert!(check_config(config).starts_with("configuration is valid"));
    // /tmp is writable (the root filesystem is not).
    assert!(mounts.iter().any(|m| m["mountPath"] == "/tmp"));
    // `[state] path` is a volume that outlives the pod: a claim of its own, or one per replica.
    let state_path = state_path_of(config).expect("the config sets [state] path");
    let state_mount = mounts
        .iter()
        .find(|m| m["mountPath"] == state_path.as_str())
        .unwrap_or_else(|| panic!("{name}: nothing mounted at {state_path}"));
    assert_ne!(state_mount["readOnly"], true);
    let claim = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == state_mount["name"])
        .map(|v| {
            v["persistentVolumeClaim"]["claimName"]
                .as_str()
                .unwrap()
                .to_string()
        });
    match workload["kind"].as_str().unwrap() {
        "StatefulSet" => {
            let templates = workload["spec"]["volumeClaimTemplates"].as_array().unwrap();
            assert!(claim.is_none(), "{name}: replicas must not share one claim");
            assert!(templates
                .iter()
                .any(|t| t["metadata"]["name"] == state_mount["name"]));
        }
        _ => {
            let claim = claim.expect("the state volume is a PersistentVolumeClaim");
            let pvc = find(objects, "PersistentVolumeClaim")
                .into_iter()
                .find(|c| c["metadata"]["name"] == claim.as_str())
                .expect("the claim exists");
            assert_eq!(
                pvc["spec"]["accessModes"],
                serde_json::json!(["ReadWriteOnce"])
            );
            // One writer: the old pod goes before the new one starts.
            assert_eq!(workload["spec"]["replicas"], 1);
            assert_eq!(workload["spec"]["strategy"]["type"], "Recreate");
        }
    }
    // Every mount names a volume of the pod (or of the StatefulSet's claim templates).
    let templates = workload["spec"]["volumeClaimTemplates"]
        .as_array()
        .map(|t| t.as_slice())
        .unwrap_or_default();
    for m in mounts {
        assert!(
            pod["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["name"] == m["name"])
                || templates.iter().any(|t| t["metadata"]["name"] == m["name"]),
            "{m}"
        );
    }
    // The NetworkPolicy and the Service select these pods.
    let labels = &workload["spec"]["template"]["metadata"]["labels"];
    let selects = |selector: &Value| {
        selector
            .as_object()
            .unwrap()
            .iter()
            .all(|(k, v)| &labels[k] == v)
    };
    let policy = find(objects, "NetworkPolicy")[0];
    assert!(selects(&policy["spec"]["podSelector"]["matchLabels"]));
    assert!(find(objects, "Service")
        .iter()
        .all(|s| selects(&s["spec"]["selector"])));
    assert!(selects(&workload["spec"]["selector"]["matchLabels"]));
}

fn assert_common_objects(objects: &[Value]) {
    // Standard kinds against the Kubernetes schemas (strict: unknown fields fail).
    let dir = tempfile::tempdir().unwrap();
    let standard: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            !o["apiVersion"]
                .as_str()
                .unwrap()
                .starts_with("monitoring.coreos.com")
        })
        .collect();
    let file = dir.path().join("standard.yaml");
    let text: Vec<String> = standard
        .iter()
        .map(|o| serde_norway::to_string(o).unwrap())
        .collect();
    std::fs::write(&file, text.join("---\n")).unwrap();
    let out = kubernetes_validate(&file);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The operator's kinds against its CRD schemas.
    let operator: Vec<Value> = objects
        .iter()
        .filter(|o| o["apiVersion"] == "monitoring.coreos.com/v1")
        .cloned()
        .collect();
    assert_eq!(operator.len(), 2, "a ServiceMonitor and a PrometheusRule");
    validate_operator_objects(&operator);
    // The ServiceMonitor scrapes a port the Service has, selecting that Service.
    let monitor = find(objects, "ServiceMonitor")[0];
    let service = find(objects, "Service")
        .into_iter()
        .find(|s| s["metadata"]["name"] == "securescore-exporter")
        .unwrap();
    let selected: Vec<&Value> = find(objects, "Service")
        .into_iter()
        .filter(|s| {
            monitor["spec"]["selector"]["matchLabels"]
                .as_object()
                .unwrap()
                .iter()
                .all(|(k, v)| &s["metadata"]["labels"][k] == v)
        })
        .collect();
    assert_eq!(
        selected.len(),
        1,
        "one Service per pod, or pods are scraped twice"
    );
    // Only Prometheus may connect.
    let policy = find(objects, "NetworkPolicy")[0];
    assert_eq!(
        policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
            ["app.kubernetes.io/name"],
        "prometheus"
    );
    let port = monitor["spec"]["endpoints"][0]["port"].as_str().unwrap();
    assert!(service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == port));
    for (k, v) in monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(&service["metadata"]["labels"][k], v);
    }
    // The job label the operator derives must match the rules' `job=~"securescore.*"`.
    let job_label = monitor["spec"]["jobLabel"].as_str().unwrap();
    assert!(service["metadata"]["labels"][job_label]
        .as_str()
        .unwrap()
        .starts_with("securescore"));
    // The PrometheusRule carries exactly the rule file's groups.
    let rule = find(objects, "PrometheusRule")[0];
    let file = yaml_file(&repo().join("deploy/prometheus/securescore.rules.yml"));
    assert_eq!(rule["spec"]["groups"], file["groups"]);
    assert!(objects
        .iter()
        .all(|o| o["metadata"]["namespace"] == "monitoring"));
}

/// The label the ServiceMonitor's relabeling copies into `instance` (never the pod IP, which
/// changes with every rollout and would start new series).
fn instance_source(objects: &[Value]) -> String {
    let monitors = find(objects, "ServiceMonitor");
    assert_eq!(monitors.len(), 1);
    let endpoints = monitors[0]["spec"]["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 1);
    let relabel = endpoints[0]["relabelings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["targetLabel"] == "instance")
        .expect("a relabeling sets instance");
    relabel["sourceLabels"][0].as_str().unwrap().to_string()
}

#[test]
fn single_overlay_renders_validates_and_is_hardened() {
    let objects = render("single");
    assert_common_objects(&objects);
    let deployments = find(&objects, "Deployment");
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0]["spec"]["replicas"], 1);
    assert_hardened_and_probed(deployments[0], &objects);
    // One pod: instance is the Service name, the same after every rollout.
    assert_eq!(instance_source(&objects), "__meta_kubernetes_service_name");
    // The client secret is a mounted Secret file the config names.
    let pod = pod_spec(deployments[0]);
    assert!(pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["secret"]["secretName"] == "securescore-exporter-credentials"));
}

#[test]
fn aks_overlay_uses_workload_identity_and_no_secret() {
    let objects = render("aks-workload-identity");
    assert_common_objects(&objects);
    let d = find(&objects, "Deployment")[0];
    assert_hardened_and_probed(d, &objects);
    assert_eq!(
        d["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );
    let sa = find(&objects, "ServiceAccount")[0];
    let client_id = sa["metadata"]["annotations"]["azure.workload.identity/client-id"]
        .as_str()
        .unwrap();
    assert_eq!(pod_spec(d)["serviceAccountName"], sa["metadata"]["name"]);
    assert!(
        !serde_json::to_string(d).unwrap().contains("secretName"),
        "no Secret volume"
    );
    let config = find(&objects, "ConfigMap")[0]["data"]["config.toml"]
        .as_str()
        .unwrap();
    assert!(config
        .contains("federated_token_file = \"/var/run/secrets/azure/tokens/azure-identity-token\""));
    assert!(config.contains(&format!("client_id = \"{client_id}\"")));
    // The federated credential's subject is this service account in this namespace.
    let subject = format!(
        "system:serviceaccount:monitoring:{}",
        sa["metadata"]["name"].as_str().unwrap()
    );
    assert_eq!(subject, securescore_sim::spec::DEFAULT_FEDERATED_SUBJECT);
}

#[test]
fn sharded_overlay_is_a_statefulset_whose_shard_count_matches_its_replicas() {
    let objects = render("sharded");
    assert_common_objects(&objects);
    assert!(find(&objects, "Deployment").is_empty());
    let s = find(&objects, "StatefulSet")[0];
    assert_hardened_and_probed(s, &objects);
    // One target per shard, named by its stable StatefulSet pod name.
    assert_eq!(instance_source(&objects), "__meta_kubernetes_pod_name");
    let args: Vec<&str> = pod_spec(s)["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(args.contains(&"--shard.index=hostname"));
    let count = args
        .iter()
        .find_map(|a| a.strip_prefix("--shard.count="))
        .expect("--shard.count");
    assert_eq!(s["spec"]["replicas"], count.parse::<u64>().unwrap());
    let headless = find(&objects, "Service")
        .into_iter()
        .find(|x| x["spec"]["clusterIP"] == "None")
        .expect("headless service");
    assert_eq!(s["spec"]["serviceName"], headless["metadata"]["name"]);
    // Pod names end in the ordinal, which is what --shard.index=hostname reads.
    for ordinal in 0..count.parse::<u32>().unwrap() {
        let host = format!("{}-{ordinal}", s["metadata"]["name"].as_str().unwrap());
        let out = Command::new(BIN)
            .args([
                "--shard.index",
                "hostname",
                "--shard.count",
                count,
                "check-config",
                "--config",
            ])
            .arg(repo().join("config.toml"))
            .env("HOSTNAME", &host)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{host}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The tenant list comes from a ConfigMap mounted where tenant_files points.
    let mounts = pod_spec(s)["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap();
    assert!(mounts
        .iter()
        .any(|m| m["mountPath"] == "/etc/securescore_exporter/tenants.d"));
}

fn compose_dir() -> PathBuf {
    repo().join("deploy/docker-compose")
}

/// `(source, target)` of every bind mount of a service; sources are resolved on the host.
fn bind_mounts(service: &Value) -> Vec<(PathBuf, String)> {
    service["volumes"]
        .as_array()
        .map(|v| v.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| {
            let v = v.as_str()?;
            let mut parts = v.split(':');
            let (src, dst) = (parts.next()?, parts.next()?);
            (src.starts_with('.') || src.starts_with('/'))
                .then(|| (compose_dir().join(src), dst.to_string()))
        })
        .collect()
}

#[test]
fn compose_stack_parses_mounts_existing_files_and_its_configs_pass_the_real_tools() {
    let compose = yaml_file(&compose_dir().join("compose.yaml"));
    let services = compose["services"].as_object().unwrap();
    for name in [
        "exporter",
        "history",
        "blocks",
        "prometheus",
        "alertmanager",
        "grafana",
    ] {
        assert!(services.contains_key(name), "service {name}");
    }
    let volumes = compose["volumes"].as_object().unwrap();
    // The exporter keeps its state on a named volume, in demo and in real mode alike.
    let exporter = &services["exporter"];
    let state_path = "/var/lib/securescore_exporter";
    assert_eq!(
        exporter["environment"]["SECURESCORE_STATE__PATH"],
        state_path
    );
    let state_volume = exporter["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str()?.strip_suffix(&format!(":{state_path}")))
        .next()
        .expect("a volume at the state path");
    assert!(
        volumes.contains_key(state_volume),
        "{state_volume} is a named volume"
    );
    let real_config = std::fs::read_to_string(compose_dir().join("config.toml")).unwrap();
    assert_eq!(state_path_of(&real_config).as_deref(), Some(state_path));
    for (name, s) in services {
        match s["image"].as_str() {
            Some(image) if s["build"].is_null() => {
                let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
                assert!(
                    !tag.is_empty() && tag != "latest" && !tag.contains('/'),
                    "{name}: pin {image}"
                );
            }
            _ => {
                let ctx = compose_dir().join(s["build"]["context"].as_str().unwrap());
                assert!(
                    ctx.join(s["build"]["dockerfile"].as_str().unwrap())
                        .exists(),
                    "{name}"
                );
            }
        }
        for (src, _) in bind_mounts(s) {
            assert!(
                src.exists(),
                "{name} mounts {} which does not exist",
                src.display()
            );
        }
        for v in s["volumes"]
            .as_array()
            .map(|v| v.as_slice())
            .unwrap_or_default()
        {
            let src = v.as_str().unwrap().split(':').next().unwrap();
            if !(src.starts_with('.') || src.starts_with('/')) {
                assert!(
                    volumes.contains_key(src),
                    "{name}: named volume {src} is declared"
                );
            }
        }
        let deps: Vec<String> = s["depends_on"]
            .as_object()
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_else(|| {
                s["depends_on"]
                    .as_array()
                    .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default()
            });
        for dep in deps {
            assert!(
                services.contains_key(&dep),
                "{name} depends on unknown {dep}"
            );
        }
    }
    // The exporter image runs as a non-root user: every volume it writes to is mounted on the
    // directory the Dockerfile creates for that user (a new named volume takes its owner).
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let owned = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("COPY --from=build --chown=65532:65532 /data "))
        .expect("the Dockerfile creates a directory for the runtime user");
    for (name, s) in services
        .iter()
        .filter(|(_, s)| s["image"] == "securescore_exporter:local")
    {
        for v in s["volumes"]
            .as_array()
            .map(|v| v.as_slice())
            .unwrap_or_default()
        {
            let parts: Vec<&str> = v.as_str().unwrap().split(':').collect();
            let writable = parts.get(2) != Some(&"ro");
            if writable {
                assert_eq!(
                    parts[1], owned,
                    "{name} writes to {} as a non-root user",
                    parts[1]
                );
            }
        }
    }
    // Lay the Prometheus and Alertmanager files out as the containers see them, then check
    // them with the real tools: rule_files resolve exactly as in the container.
    let root = tempfile::tempdir().unwrap();
    for svc in ["prometheus", "alertmanager"] {
        for (src, dst) in bind_mounts(&services[svc]) {
            let to = root.path().join(dst.trim_start_matches('/'));
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&src, &to).unwrap();
        }
    }
    let prom_args = services["prometheus"]["command"].as_array().unwrap();
    let config_arg = prom_args
        .iter()
        .find_map(|a| a.as_str().unwrap().strip_prefix("--config.file="))
        .unwrap();
    run(Command::new("promtool")
        .args(["check", "config"])
        .arg(root.path().join(config_arg.trim_start_matches('/'))));
    let am_args = services["alertmanager"]["command"].as_array().unwrap();
    let am_config = am_args
        .iter()
        .find_map(|a| a.as_str().unwrap().strip_prefix("--config.file="))
        .unwrap();
    // The compose stack runs Alertmanager 0.28+ (Teams Workflows); amtool here is 0.25. The
    // Teams webhook URL file the config reads is mounted where it looks.
    let am_file = root.path().join(am_config.trim_start_matches('/'));
    let teams = root
        .path()
        .join("etc/alertmanager/secrets/teams-webhook-url");
    assert!(
        teams.exists(),
        "the compose stack mounts the Teams webhook URL file"
    );
    let text = std::fs::read_to_string(&am_file).unwrap();
    std::fs::write(
        &am_file,
        crate::rules::amtool_readable(&text, "http://127.0.0.1:9/teams"),
    )
    .unwrap();
    run(Command::new("amtool")
        .args(["check-config"])
        .arg(root.path().join(am_config.trim_start_matches('/'))));
    // Backfilled blocks survive only with a retention longer than the history.
    assert!(prom_args
        .iter()
        .any(|a| a == "--storage.tsdb.retention.time=400d"));

    // Prometheus scrapes the exporter service on the port its command listens on, as the job
    // and instance the backfill labels its history with; alerts go to the alertmanager service.
    let prometheus = yaml_file(&compose_dir().join("prometheus.yml"));
    let job = &prometheus["scrape_configs"][0];
    let target = job["static_configs"][0]["targets"][0].as_str().unwrap();
    let exporter_args = serde_json::to_string(&services["exporter"]["command"]).unwrap();
    let (host, port) = target.split_once(':').unwrap();
    assert!(services.contains_key(host));
    assert!(exporter_args.contains(&format!("--web.listen-address=0.0.0.0:{port}")));
    let history: Vec<String> = services["history"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert!(history.contains(&format!(
        "--label=job={}",
        job["job_name"].as_str().unwrap()
    )));
    assert!(history.contains(&format!("--label=instance={target}")));
    let am = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0]
        .as_str()
        .unwrap();
    assert!(services.contains_key(am.split(':').next().unwrap()));

    // Grafana: the dashboards provider reads the folder the real dashboards are mounted at,
    // and the datasource points at the prometheus service.
    let grafana = bind_mounts(&services["grafana"]);
    let provider_dir = grafana
        .iter()
        .find(|(_, d)| d == "/etc/grafana/provisioning/dashboards")
        .unwrap();
    let provider = yaml_file(&provider_dir.0.join("securescore.yml"));
    let path = provider["providers"][0]["options"]["path"]
        .as_str()
        .unwrap();
    let (dashboards_src, _) = grafana
        .iter()
        .find(|(_, d)| d == path)
        .expect("dashboards mounted at the provider's path");
    assert_eq!(
        dashboards_src.canonicalize().unwrap(),
        repo().join("dashboards").canonicalize().unwrap()
    );
    let home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
        .as_str()
        .unwrap();
    let home_file = home.strip_prefix(&format!("{path}/")).unwrap();
    assert!(repo().join("dashboards").join(home_file).exists());
    let ds_dir = grafana
        .iter()
        .find(|(_, d)| d == "/etc/grafana/provisioning/datasources")
        .unwrap();
    let ds = yaml_file(&ds_dir.0.join("prometheus.yml"));
    assert_eq!(ds["datasources"][0]["url"], "http://prometheus:9090");

    // The one-shot history step works as written (no config: the demo), and its output
    // becomes TSDB blocks with promtool as the `blocks` step does.
    let out_dir = tempfile::tempdir().unwrap();
    let om = out_dir.path().join("history.om");
    let args: Vec<String> = history
        .iter()
        .map(|a| {
            if a.starts_with("--output=") {
                format!("--output={}", om.display())
            } else {
                a.clone()
            }
        })
        .collect();
    run(Command::new(BIN)
        .args(&args)
        .env_remove("AZURE_TENANT_ID")
        .env_remove("AZURE_CLIENT_ID"));
    let text = std::fs::read_to_string(&om).unwrap();
    assert!(
        text.contains("securescore_current_points{")
            && text.contains("job=\"securescore\"")
            && text.ends_with("# EOF\n")
    );
    run(Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(out_dir.path().join("blocks")));
    // The exporter's demo command is a real subcommand with that flag.
    let demo: Vec<&str> = services["exporter"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    run(Command::new(BIN).args(&demo).arg("--help"));
}

#[test]
fn compose_real_mode_reads_config_and_secret_files() {
    let real = yaml_file(&compose_dir().join("compose.real.yaml"));
    let config = std::fs::read_to_string(compose_dir().join("config.toml")).unwrap();
    let secret = real["secrets"]["client_secret"]["file"].as_str().unwrap();
    // The secret lives in a git-ignored folder the user fills; compose mounts it at
    // /run/secrets/<name>, which is the file config.toml reads.
    assert!(secret.starts_with("./secrets/"));
    let ignore = std::fs::read_to_string(compose_dir().join("secrets/.gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "*"));
    assert!(config.contains("client_secret_file = \"/run/secrets/client_secret\""));
    for svc in ["exporter", "history"] {
        let s = &real["services"][svc];
        let args = serde_json::to_string(&s["command"]).unwrap();
        assert!(args.contains(&format!("--config={CONFIG_PATH}")), "{svc}");
        assert!(s["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "client_secret"));
        let mounts = bind_mounts(s);
        assert!(mounts
            .iter()
            .any(|(src, dst)| dst == CONFIG_PATH && src.exists()));
    }
    assert!(check_config(&config).starts_with("configuration is valid"));
}

#[test]
fn dockerfile_copies_what_the_build_produces_and_matches_port_user_and_paths() {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    // Join continuation lines, drop comments.
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                if !current.trim().is_empty() {
                    lines.push(current.trim().to_string());
                }
                current.clear();
            }
        }
    }
    let stages: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("FROM "))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(stages.len(), 2, "multi-stage: build and final");
    let (build, last) = (&lines[stages[0]..stages[1]], &lines[stages[1]..]);
    assert!(build[0].ends_with(" AS build"));
    // The toolchain is at least the crate's rust-version.
    let version = |v: &str| {
        v.split('.')
            .take(2)
            .map(|n| n.parse::<u32>().unwrap())
            .collect::<Vec<_>>()
    };
    let image_rust = build[0]
        .split(':')
        .nth(1)
        .unwrap()
        .split('-')
        .next()
        .unwrap();
    assert!(version(image_rust) >= version(env!("CARGO_PKG_RUST_VERSION")));
    // Everything the build stage copies exists; it builds the binary --locked in release.
    let workdir = build
        .iter()
        .find_map(|l| l.strip_prefix("WORKDIR "))
        .unwrap();
    for l in build.iter().filter(|l| l.starts_with("COPY ")) {
        let parts: Vec<&str> = l.split_whitespace().skip(1).collect();
        for src in &parts[..parts.len() - 1] {
            assert!(repo().join(src).exists(), "COPY {src}");
        }
    }
    // It copies every workspace crate the binary builds from (the simulator is inside it).
    let copied: Vec<&str> = build
        .iter()
        .filter_map(|l| l.strip_prefix("COPY "))
        .flat_map(|l| l.split_whitespace())
        .collect();
    for member in ["src", "crates", "Cargo.toml", "Cargo.lock", "build.rs"] {
        assert!(copied.contains(&member), "the build stage copies {member}");
    }
    // Nothing a workspace crate's sources pull in at compile time lies outside what is copied.
    for dir in ["src", "crates"] {
        let out = Command::new("grep")
            .args(["-rhoE", r#"include_(str|bytes)!\("[^"]+"\)"#])
            .arg(repo().join(dir))
            .output()
            .unwrap();
        for inc in String::from_utf8_lossy(&out.stdout).lines() {
            assert!(
                !inc.contains("tests/"),
                "{dir}: {inc} reads a file the image build does not copy"
            );
        }
    }
    let bin_name = env!("CARGO_PKG_NAME");
    assert!(build
        .iter()
        .any(|l| l.starts_with("RUN cargo build --release --locked")
            && l.contains(&format!("--bin {bin_name}"))));
    // The final stage copies the file that `cargo build --release` writes, from that stage.
    let copy = last
        .iter()
        .find(|l| l.starts_with("COPY --from=build "))
        .unwrap();
    let parts: Vec<&str> = copy.split_whitespace().collect();
    assert_eq!(parts[2], format!("{workdir}/target/release/{bin_name}"));
    assert_eq!(
        Path::new(BIN).file_name().unwrap().to_str().unwrap(),
        bin_name,
        "cargo names the binary after the package"
    );
    let installed = parts[3];
    // The state directory is a volume the runtime user owns.
    let volume: Vec<String> = serde_json::from_str(
        last.iter()
            .find_map(|l| l.strip_prefix("VOLUME "))
            .expect("a VOLUME for the state directory"),
    )
    .unwrap();
    assert_eq!(volume, ["/var/lib/securescore_exporter"]);
    assert!(last
        .iter()
        .any(|l| l.starts_with("COPY --from=build --chown=65532:65532 ")
            && l.ends_with(" /var/lib/securescore_exporter")));
    let entrypoint: Vec<String> = serde_json::from_str(
        last.iter()
            .find_map(|l| l.strip_prefix("ENTRYPOINT "))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(entrypoint, vec![installed.to_string()]);
    // Non-root, the exporter's port, the documented config path, OCI labels.
    let user = last.iter().find_map(|l| l.strip_prefix("USER ")).unwrap();
    assert!(
        user.split(':').all(|id| id.parse::<u32>().unwrap() > 0),
        "numeric non-root user"
    );
    assert_eq!(
        last.iter().find_map(|l| l.strip_prefix("EXPOSE ")).unwrap(),
        default_port().to_string()
    );
    let cmd: Vec<String> =
        serde_json::from_str(last.iter().find_map(|l| l.strip_prefix("CMD ")).unwrap()).unwrap();
    assert_eq!(cmd[..2], ["--config".to_string(), CONFIG_PATH.to_string()]);
    assert!(cmd.contains(&format!("0.0.0.0:{}", default_port())));
    let labels = last.iter().find(|l| l.starts_with("LABEL ")).unwrap();
    for key in ["title", "description", "version", "revision", "licenses"] {
        assert!(
            labels.contains(&format!("org.opencontainers.image.{key}=")),
            "label {key}"
        );
    }
    assert!(labels.contains(&format!("licenses=\"{}\"", env!("CARGO_PKG_LICENSE"))));
    let default_version = last
        .iter()
        .find_map(|l| l.strip_prefix("ARG VERSION="))
        .unwrap();
    assert_eq!(default_version, env!("CARGO_PKG_VERSION"));
    // The CMD parses: the same arguments, with a real config file, pass check-config.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::copy(repo().join("config.toml"), &config).unwrap();
    let args: Vec<String> = cmd
        .iter()
        .map(|a| {
            if a == CONFIG_PATH {
                config.to_string_lossy().to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    run(Command::new(BIN).args(&args).arg("check-config"));
    // The build context leaves out build output.
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target/"));
}

/// A root for `systemd-analyze --root`: systemd's own units, /bin/kill and the binary at the
/// path the unit names.
fn systemd_root(unit: &Path) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for dir in [
        "usr/lib/systemd",
        "usr/bin",
        "usr/local/bin",
        "etc/systemd/system",
    ] {
        std::fs::create_dir_all(r.join(dir)).unwrap();
    }
    run(Command::new("cp")
        .arg("-r")
        .arg("/usr/lib/systemd/system")
        .arg(r.join("usr/lib/systemd/")));
    std::fs::copy("/usr/bin/kill", r.join("usr/bin/kill")).unwrap();
    std::os::unix::fs::symlink("usr/bin", r.join("bin")).unwrap();
    std::os::unix::fs::symlink("usr/lib", r.join("lib")).unwrap();
    std::fs::copy(BIN, r.join("usr/local/bin/securescore_exporter")).unwrap();
    std::fs::copy(
        unit,
        r.join("etc/systemd/system").join(unit.file_name().unwrap()),
    )
    .unwrap();
    root
}

#[test]
fn systemd_unit_verifies_cleanly_and_is_hardened() {
    let unit = repo().join("deploy/systemd/securescore_exporter.service");
    let root = systemd_root(&unit);
    let verify = |name: &str| {
        Command::new("systemd-analyze")
            .arg("verify")
            .arg(format!("--root={}", root.path().display()))
            .arg(format!("/etc/systemd/system/{name}"))
            .output()
            .expect("systemd-analyze runs")
    };
    let out = verify("securescore_exporter.service");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
    // The same check notices a misspelt directive (so silence above means something).
    let text = std::fs::read_to_string(&unit).unwrap();
    std::fs::write(
        root.path().join("etc/systemd/system/typo.service"),
        text.replace("ProtectSystem=strict", "ProtectSystm=strict"),
    )
    .unwrap();
    let typo = verify("typo.service");
    assert!(String::from_utf8_lossy(&typo.stderr).contains("Unknown key"));

    let out = run(Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(format!("--root={}", root.path().display()))
        .arg("securescore_exporter.service"));
    let report = String::from_utf8_lossy(&out.stdout);
    let exposure: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for securescore_exporter.service: ")
                .nth(1)
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    assert!(
        exposure <= 2.0,
        "exposure {exposure} (systemd rates <= 2.0 as OK):\n{report}"
    );
    for directive in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "EnvironmentFile=-/etc/securescore_exporter/env",
        // [state] path: a directory systemd keeps for the transient user, named to the daemon.
        "StateDirectory=securescore_exporter\n",
        "StateDirectoryMode=0700\n",
        "Environment=SECURESCORE_STATE__PATH=%S/securescore_exporter\n",
    ] {
        assert!(text.contains(directive), "{directive}");
    }
    assert!(text.contains(&format!("--config {CONFIG_PATH}")));
}

#[test]
fn server_prometheus_config_passes_promtool() {
    run(Command::new("promtool")
        .args(["check", "config"])
        .arg(repo().join("deploy/prometheus/prometheus.yml")));
}
