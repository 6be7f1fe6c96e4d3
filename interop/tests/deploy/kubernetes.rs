//! The Kubernetes manifests: schemas, and agreement with each other and with bgpd.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::{
    describe, mutate, read, run, tool, workspace, ScratchDir, BGPCTL, CONFIG_FILE, IMAGE_UID,
};

const MANIFESTS: &str = "deploy/kubernetes";
/// kustomize's own file, not a Kubernetes object: checked against the directory instead.
const KUSTOMIZATION: &str = "kustomization.yaml";
/// Where `scripts/test` installs kubernetes-validate (a virtual environment of its own,
/// since Debian's pip refuses system-wide installs).
const TOOLS_BIN: &str = "target/tools/venv/bin";
/// The oldest Kubernetes release the manifests are meant for. The newest one the validator
/// knows (its default) is checked too.
const OLDEST_KUBERNETES: &str = "1.29.0";
/// What bgpd needs, as Kubernetes names the capabilities: routes over rtnetlink, port 179.
const CAPABILITIES: [&str; 2] = ["NET_ADMIN", "NET_BIND_SERVICE"];

#[test]
fn manifests_match_the_kubernetes_schemas_and_broken_copies_do_not() {
    let Some(validator) = kubernetes_validate() else {
        return;
    };
    let files = manifest_files();
    assert!(!files.is_empty(), "no manifests in {MANIFESTS}");
    for file in &files {
        validator
            .check(file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }

    let daemonset = read(&format!("{MANIFESTS}/daemonset.yaml"));
    // (what is broken, original text, replacement): the validator must reject each.
    let broken = [
        ("misspelled field", "hostNetwork: true", "hostNetwrok: true"),
        (
            "string for an integer",
            "containerPort: 179",
            "containerPort: bgp",
        ),
        ("scalar for a list", "add: [\"CHOWN\"]", "add: CHOWN"),
        (
            "unknown API version",
            "apiVersion: apps/v1",
            "apiVersion: apps/v2",
        ),
    ];
    let scratch = ScratchDir::new("manifests");
    for (what, from, to) in broken {
        let copy = scratch.path().join("daemonset.yaml");
        fs::write(&copy, mutate(&daemonset, from, to)).expect("write broken copy");
        assert!(
            validator.check(&copy).is_err(),
            "kubernetes-validate accepted a DaemonSet with a {what}"
        );
    }
}

#[test]
fn manifests_agree_with_each_other_and_with_bgpd() {
    let Some(validator) = kubernetes_validate() else {
        return;
    };
    let objects: Vec<Value> = manifest_files()
        .iter()
        .flat_map(|file| validator.load(file))
        .collect();
    let find = |kind: &str, name: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in {MANIFESTS}"))
    };
    for object in &objects {
        let namespace = match object["kind"].as_str() {
            Some("Namespace") => &object["metadata"]["name"],
            _ => &object["metadata"]["namespace"],
        };
        assert_eq!(
            namespace, "starling",
            "{} namespace",
            object["metadata"]["name"]
        );
    }

    let daemonset = find("DaemonSet", "starling-node");
    let deployment = find("Deployment", "starling-route-reflector");
    // (workload, priority class, configuration key in the ConfigMap)
    let workloads = [
        (daemonset, "system-node-critical", "node.toml"),
        (deployment, "system-cluster-critical", "rr.toml"),
    ];
    for (workload, priority, config_key) in workloads {
        let name = workload["metadata"]["name"].as_str().unwrap_or_default();
        let pod = &workload["spec"]["template"]["spec"];
        assert_eq!(pod["hostNetwork"], true, "{name}");
        assert_eq!(pod["dnsPolicy"], "ClusterFirstWithHostNet", "{name}");
        assert_eq!(pod["priorityClassName"], priority, "{name}");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        assert_eq!(pod["securityContext"]["runAsUser"], IMAGE_UID, "{name}");
        let account = pod["serviceAccountName"].as_str().unwrap_or_default();
        find("ServiceAccount", account);

        let bgpd = &pod["containers"][0];
        assert_eq!(
            bgpd["args"],
            serde_json::json!(["--config", CONFIG_FILE]),
            "{name}"
        );
        let capabilities = &bgpd["securityContext"]["capabilities"];
        assert_eq!(capabilities["drop"], serde_json::json!(["ALL"]), "{name}");
        assert_eq!(
            capabilities["add"],
            serde_json::json!(CAPABILITIES),
            "{name}"
        );
        for probe in ["readinessProbe", "livenessProbe"] {
            assert_eq!(
                bgpd[probe]["exec"]["command"],
                serde_json::json!([BGPCTL, "show", "status"]),
                "{name} {probe}"
            );
        }

        // The pod's view of /etc/starling, as the kubelet projects it, must hold a valid
        // configuration whose secret files exist.
        let projection = Projection::of(pod, &find);
        assert_eq!(
            projection.mount_path,
            Path::new(CONFIG_FILE)
                .parent()
                .expect("an absolute path has a parent"),
            "{name}"
        );
        let config_map = find("ConfigMap", "starling-config");
        assert!(
            config_map["data"][config_key].is_string(),
            "{name} projects {config_key}"
        );
        let etc = projection.materialize();
        let config_name = Path::new(CONFIG_FILE).file_name().expect("a file name");
        let text = fs::read_to_string(etc.path().join(config_name)).expect("bgpd.toml projected");
        // Relative paths in the file resolve against its directory, the projected volume.
        let config = config::Config::from_toml(&text, config_key, etc.path())
            .unwrap_or_else(|errors| panic!("{config_key}:\n{errors}"));
        if let Some(tls) = config.etcd.as_ref().and_then(|etcd| etcd.tls.as_ref()) {
            let identity = tls.identity.iter().flat_map(|(cert, key)| [cert, key]);
            for file in tls.ca.iter().chain(identity) {
                assert!(
                    file.is_file(),
                    "{config_key}: {} not projected",
                    file.display()
                );
            }
        }
        let mounts = mount_paths(bgpd);
        assert!(
            mounts.contains(&config.global.state_dir),
            "{name}: state_dir {} is a mount",
            config.global.state_dir.display()
        );
        let socket_dir = config.global.control_socket.parent().map(Path::to_path_buf);
        assert!(
            socket_dir.is_some_and(|dir| mounts.contains(&dir)),
            "{name}: the control socket's directory is a writable mount"
        );
        let state = pod["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["hostPath"]["path"].as_str() == config.global.state_dir.to_str());
        assert!(state.is_some(), "{name}: state_dir is on the host");
    }

    assert_eq!(
        daemonset["spec"]["template"]["spec"]["tolerations"],
        serde_json::json!([{"operator": "Exists"}]),
        "the node DaemonSet tolerates every taint"
    );
    assert_eq!(deployment["spec"]["replicas"], 2);
    let anti_affinity = &deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"];
    assert_eq!(
        anti_affinity["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"],
        "kubernetes.io/hostname",
        "never two reflectors on one node"
    );
    let budget = find("PodDisruptionBudget", "starling-route-reflector");
    assert_eq!(
        budget["spec"]["selector"]["matchLabels"],
        deployment["spec"]["template"]["metadata"]["labels"],
        "the disruption budget covers the reflectors"
    );
}

#[test]
fn kustomization_lists_every_manifest() {
    let kustomization = read(&format!("{MANIFESTS}/{KUSTOMIZATION}"));
    let listed: BTreeSet<&str> = kustomization
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- "))
        .filter(|entry| entry.ends_with(".yaml"))
        .collect();
    let present: BTreeSet<String> = manifest_files()
        .iter()
        .filter_map(|path| path.file_name()?.to_str().map(str::to_owned))
        .collect();
    assert_eq!(
        listed,
        present.iter().map(String::as_str).collect(),
        "{KUSTOMIZATION} resources"
    );
}

/// `kubernetes-validate` and the Python that runs it (which has PyYAML, its dependency).
struct Validator {
    program: PathBuf,
    python: Vec<String>,
}

impl Validator {
    /// Strict validation (unknown fields are errors) against the oldest and the newest
    /// supported Kubernetes. A resource without a schema (unknown kind or API version) only
    /// gets a warning from the tool: that counts as a failure here.
    fn check(&self, file: &Path) -> Result<(), String> {
        for versions in [&["-k", OLDEST_KUBERNETES][..], &[]] {
            let output = run(Command::new(&self.program)
                .args(["--strict", "--quiet"])
                .args(versions)
                .arg(file));
            let text = String::from_utf8_lossy(&output.stdout);
            if !output.status.success() || !text.trim().is_empty() || !output.stderr.is_empty() {
                return Err(format!(
                    "kubernetes-validate {versions:?}: {}",
                    describe(&output)
                ));
            }
        }
        Ok(())
    }

    /// The YAML documents of `file` as JSON values.
    fn load(&self, file: &Path) -> Vec<Value> {
        /// Prints the non-empty documents of the file named by argv[1] as one JSON array.
        const TO_JSON: &str = "import json, sys, yaml\n\
            print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))";
        let (python, args) = self
            .python
            .split_first()
            .expect("a shebang names a program");
        let output = run(Command::new(python)
            .args(args)
            .args(["-c", TO_JSON])
            .arg(file));
        assert!(output.status.success(), "{}", describe(&output));
        serde_json::from_slice(&output.stdout).expect("json.dumps prints JSON")
    }
}

/// The config volume of a pod: a projected volume of ConfigMap and Secret items.
struct Projection {
    mount_path: PathBuf,
    /// Path inside the volume → content.
    files: BTreeMap<String, String>,
}

impl Projection {
    fn of<'a>(pod: &Value, find: &impl Fn(&str, &str) -> &'a Value) -> Projection {
        let container = &pod["containers"][0];
        let mount = container["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["readOnly"] == true)
            .expect("a read-only configuration mount");
        let volume = pod["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["name"] == mount["name"])
            .expect("the mount's volume");
        let mut files = BTreeMap::new();
        for source in volume["projected"]["sources"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let (kind, reference, field) = if source["configMap"].is_object() {
                ("ConfigMap", &source["configMap"], "data")
            } else {
                ("Secret", &source["secret"], "stringData")
            };
            let object = find(kind, reference["name"].as_str().unwrap_or_default());
            for item in reference["items"].as_array().into_iter().flatten() {
                let key = item["key"].as_str().unwrap_or_default();
                let content = object[field][key]
                    .as_str()
                    .unwrap_or_else(|| panic!("{kind} {} has no key {key}", reference["name"]));
                let path = item["path"].as_str().unwrap_or_default().to_owned();
                files.insert(path, content.to_owned());
            }
        }
        Projection {
            mount_path: PathBuf::from(mount["mountPath"].as_str().unwrap_or_default()),
            files,
        }
    }

    /// The volume's files in a scratch directory.
    fn materialize(&self) -> ScratchDir {
        let dir = ScratchDir::new("projection");
        for (path, content) in &self.files {
            let file = dir.path().join(path);
            fs::create_dir_all(file.parent().expect("inside the directory")).expect("mkdir");
            fs::write(&file, content).expect("write projected file");
        }
        dir
    }
}

fn mount_paths(container: &Value) -> Vec<PathBuf> {
    container["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["mountPath"].as_str().map(PathBuf::from))
        .collect()
}

/// The Kubernetes objects' files, kustomize's own file left out.
fn manifest_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(workspace().join(MANIFESTS))
        .expect("read deploy/kubernetes")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .filter(|path| path.file_name().is_some_and(|n| n != KUSTOMIZATION))
        .collect();
    files.sort();
    files
}

fn kubernetes_validate() -> Option<Validator> {
    let local = workspace().join(TOOLS_BIN).join("kubernetes-validate");
    let program = tool(
        "kubernetes-validate",
        &[local],
        "PyPI package kubernetes-validate; scripts/test installs it",
    )?;
    // The script's interpreter is a Python with the validator's dependencies, PyYAML among them.
    let script = fs::read_to_string(&program).expect("kubernetes-validate is a Python script");
    let python = script
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("#!"))
        .map(|line| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|words| !words.is_empty())
        .expect("kubernetes-validate starts with a #! line");
    Some(Validator { program, python })
}
