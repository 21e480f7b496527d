//! The Kubernetes recipe in `deploy/` checked where no cluster runs: the manifests parse, hold
//! the fields the recipe relies on, and their command lines are ones the tools accept (parsed
//! with the tools' own flag definitions); the image holds every program they run. Building
//! the image with podman is an ignored test (minutes), run with `--ignored`.

use std::path::{Path, PathBuf};

use clap::Parser as _;
use serde::Deserialize as _;
use serde_yaml_ng::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// Every document of a manifest file.
fn documents(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(deploy().join("k8s").join(name)).expect("manifest");
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("valid YAML"))
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("a {kind}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .expect("a list")
        .iter()
        .map(|a| match a {
            Value::String(s) => s.clone(),
            other => panic!("not a string: {other:?}"),
        })
        .collect()
}

fn flag<'a>(args: &'a [String], name: &str) -> &'a str {
    let i = args
        .iter()
        .position(|a| a == name)
        .unwrap_or_else(|| panic!("{name} in {args:?}"));
    &args[i + 1]
}

#[test]
fn the_indexed_job_runs_shards_of_one_plan() {
    let docs = documents("loadgen-job.yaml");
    let job = of_kind(&docs, "Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().expect("completions");
    assert_eq!(
        spec["parallelism"].as_u64(),
        Some(n),
        "all shards run at once"
    );
    let container = &spec["template"]["spec"]["containers"][0];
    assert_eq!(strings(&container["command"]), ["loadgen-shard"]);
    let args = strings(&container["args"]);
    assert_eq!(
        flag(&args, "--shards"),
        n.to_string(),
        "--shards is the Job's N"
    );
    assert_eq!(flag(&args, "--start-at"), "$(START_AT)");
    let env = container["env"].as_sequence().expect("env");
    assert!(env.iter().any(|e| e["name"] == "START_AT"));

    // The flags as the pod gets them (Kubernetes expands $(START_AT)); loadgen-shard adds
    // --json. They must parse, and plan shard K of N from JOB_COMPLETION_INDEX.
    let expanded: Vec<String> = args
        .iter()
        .map(|a| a.replace("$(START_AT)", "1795600000"))
        .collect();
    let mut argv = vec!["loadgen".to_owned()];
    argv.extend(expanded);
    argv.extend(["--json".to_owned(), "/tmp/loadgen-result-1.json".to_owned()]);
    let opts = loadgen::Opts::try_parse_from(&argv).expect("flags loadgen accepts");
    assert_eq!(opts.shards, Some(n as u32));
    assert!(opts.start_at.is_some() && !opts.targets.is_empty());
    let target = &opts.targets[0];
    let server_docs = documents("reference-server.yaml");
    let service = of_kind(&server_docs, "Service");
    let name = service["metadata"]["name"].as_str().expect("name");
    let port = service["spec"]["ports"][0]["port"].as_u64().expect("port");
    assert_eq!(
        target,
        &format!("http://{name}:{port}"),
        "the target is the Service"
    );
}

#[test]
fn the_reference_nodes_share_rooms_over_the_redis_service() {
    let docs = documents("reference-server.yaml");
    let deployment = of_kind(&docs, "Deployment");
    assert!(deployment["spec"]["replicas"].as_u64().expect("replicas") >= 2);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(strings(&container["command"]), ["reference-server"]);
    let args = strings(&container["args"]);
    let mut argv = vec!["reference-server".to_owned()];
    argv.extend(args.iter().cloned());
    let config = reference_server::Config::try_parse_from(&argv).expect("flags the server accepts");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/healthz");
    let port = container["ports"][0]["containerPort"]
        .as_u64()
        .expect("port");
    assert_eq!(u64::from(config.bind.port()), port);
    let service = of_kind(&docs, "Service");
    assert_eq!(
        service["spec"]["ports"][0]["targetPort"].as_u64(),
        Some(port)
    );

    let redis_docs = documents("redis.yaml");
    let redis = of_kind(&redis_docs, "Service");
    let redis_url = format!(
        "redis://{}:{}",
        redis["metadata"]["name"].as_str().expect("name"),
        redis["spec"]["ports"][0]["port"].as_u64().expect("port")
    );
    assert_eq!(config.layer.as_deref(), Some(redis_url.as_str()));
}

#[test]
fn the_image_holds_every_program_the_manifests_run() {
    let containerfile = std::fs::read_to_string(deploy().join("Containerfile")).expect("file");
    for program in ["reference-server", "loadgen", "reports", "loadgen-shard"] {
        assert!(
            containerfile
                .lines()
                .any(|l| l.starts_with("COPY") && l.contains(program)),
            "{program} is not copied into the image"
        );
    }
    let wrapper = std::fs::read_to_string(deploy().join("loadgen-shard")).expect("wrapper");
    assert!(wrapper.contains("--- loadgen result ---") && wrapper.contains("loadgen \"$@\""));
}

/// Builds the image with podman. It compiles the workspace inside the image (minutes), so
/// it runs only when asked; asked on a machine without podman, it fails and says so.
#[test]
#[ignore = "builds the container image with podman (minutes): cargo test -p loadgen --test deploy_manifests -- --ignored"]
fn the_image_builds_with_podman() {
    let podman = which("podman")
        .expect("podman is not installed: install it (apt-get install podman) to build the image");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = std::process::Command::new(podman)
        .args([
            "build",
            "-f",
            "deploy/Containerfile",
            "-t",
            "chat-harness:test",
            ".",
        ])
        .current_dir(root)
        .status()
        .expect("podman runs");
    assert!(status.success(), "podman build failed: {status}");
}

fn which(program: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(program))
                .find(|p| p.is_file())
        })
        .ok_or(())
}
