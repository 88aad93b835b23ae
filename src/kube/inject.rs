//! Sidecar injection: the one mutation `meshctl inject` applies to manifest streams and the
//! controller's admission webhook applies to pods ([`admission_patch`]), and its inverse
//! (`meshctl uninject`).
//!
//! The transform works on the manifests as parsed YAML values (key order kept), so every field
//! it does not own passes through unchanged in meaning, whatever the kind: Pods, the pod
//! templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs, and
//! `List` objects holding any of them. Other objects pass through untouched. Injecting twice
//! is injecting once; uninjecting removes exactly what injection added (the env variables it
//! set are named in an annotation), so `uninject(inject(x)) == x`.
//!
//! What a meshed pod gets (the explicit mode the local mesh uses, no traffic redirection):
//! - a `meshctl-proxy` container running `meshctl proxy` against the controller's gRPC
//!   service, authenticated by a projected ServiceAccount token (audience `meshctl`), its
//!   inbound on [`SIDECAR_INBOUND_PORT`] forwarding to the app's port, an HTTP proxy
//!   listener for the app, readiness and liveness on its admin listener, Pod Security
//!   "restricted" settings and resource requests;
//! - the token volume and the trust bundle ConfigMap ([`TRUST_BUNDLE_CONFIGMAP`], which the
//!   controller keeps in every namespace with meshed pods) as volumes;
//! - in every app container: `HTTP_PROXY`/`NO_PROXY` and `MESH_UPSTREAM_<NAME>` for each
//!   upstream named in the `meshctl.io/upstreams` annotation (not overriding variables the
//!   app already sets);
//! - the [`SIDECAR_LABEL`] label (how uninstall and the controller find meshed pods).

use serde_yaml::{Mapping, Value};

use super::{
    CONTROLLER_GRPC_PORT, CONTROLLER_NAME, SIDECAR_INBOUND_PORT, SIDECAR_LABEL,
    TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY, VERSION,
};

/// The injected container's name: its presence is what "already injected" means.
pub const PROXY_CONTAINER: &str = "meshctl-proxy";
/// Pod annotation naming the services the app calls (`api,quotes`): each gets a local
/// listener on the sidecar and a `MESH_UPSTREAM_<NAME>` variable in the app's containers.
pub const UPSTREAMS_ANNOTATION: &str = "meshctl.io/upstreams";
/// Pod annotation choosing the app port the inbound forwards to (default: the first
/// `containerPort` of the first app container; none: the pod only calls, it serves nothing).
pub const APP_PORT_ANNOTATION: &str = "meshctl.io/app-port";
/// Pod annotation injection writes: the env variables it added to app containers, so that
/// uninjection removes exactly those.
pub const INJECTED_ENV_ANNOTATION: &str = "meshctl.io/injected-env";
/// Pod annotation injection writes: the meshctl version that injected it.
pub const INJECTED_ANNOTATION: &str = "meshctl.io/injected";
/// The sidecar's admin listener (`/ready`, `/live`, `/metrics`, `/stats`).
pub const SIDECAR_ADMIN_PORT: i32 = 4191;
/// The sidecar's tap listener on the pod IP: mutual TLS, the controller's identity only
/// (`meshctl tap` and `top` through the controller's `/tap`). Outside the upstream range
/// (4150-4199), which the admin port 4191 already overlaps.
pub const SIDECAR_TAP_PORT: i32 = 4144;
/// The sidecar's plaintext HTTP proxy listener for the app (`HTTP_PROXY`), on loopback.
pub const SIDECAR_HTTP_PROXY_PORT: i32 = 4140;
/// The first upstream listener port; upstreams take consecutive ports in annotation order.
pub const FIRST_UPSTREAM_PORT: i32 = 4150;
/// The end of the port range kept for the sidecar's upstreams (an app may not use 4150–4199).
pub const LAST_RESERVED_UPSTREAM_PORT: i32 = 4199;
/// The most upstreams one pod may name: ports 4150–4190, below the admin listener (4191),
/// which sits inside the range.
pub const MAX_UPSTREAMS: usize = (SIDECAR_ADMIN_PORT - FIRST_UPSTREAM_PORT) as usize;
/// Where the projected ServiceAccount token is mounted, and its audience and lifetime.
pub const TOKEN_DIR: &str = "/var/run/secrets/meshctl.io";
pub const TOKEN_AUDIENCE: &str = "meshctl";
pub const TOKEN_EXPIRATION_SECONDS: i64 = 3600;
/// Where the trust bundle ConfigMap is mounted.
pub const BUNDLE_DIR: &str = "/var/run/meshctl/trust-bundle";
/// The sidecar runs as this non-root user (the image's `nonroot` user).
pub const PROXY_UID: i64 = 65_532;

const TOKEN_VOLUME: &str = "meshctl-token";
const BUNDLE_VOLUME: &str = "meshctl-trust-bundle";

/// What the sidecar needs to know about the mesh it joins.
#[derive(Debug, Clone)]
pub struct InjectOptions {
    /// The sidecar's image (the same meshctl binary as the controller's).
    pub image: String,
    /// The control plane's namespace (`meshctl install --namespace`).
    pub control_plane_namespace: String,
}

/// A manifest that cannot be injected, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct InjectError {
    /// The object, e.g. `Deployment/web` or `document 3`.
    pub at: String,
    pub message: String,
}

/// Injects every pod (template) in `object` (a manifest or a `List`); returns how many
/// pods got a sidecar now (already-injected ones count 0).
pub fn inject(object: &mut Value, opts: &InjectOptions) -> Result<usize, InjectError> {
    let mut count = 0;
    for_each_pod(object, &mut |at, pod| {
        if inject_pod(pod, opts).map_err(|message| InjectError {
            at: at.to_string(),
            message,
        })? {
            count += 1;
        }
        Ok(())
    })?;
    Ok(count)
}

/// Removes what [`inject`] added; returns how many pods had a sidecar.
pub fn uninject(object: &mut Value) -> Result<usize, InjectError> {
    let mut count = 0;
    for_each_pod(object, &mut |_, pod| {
        if uninject_pod(pod) {
            count += 1;
        }
        Ok(())
    })?;
    Ok(count)
}

/// The webhook's answer for one pod: a JSONPatch (RFC 6902) turning `pod` into its injected
/// form, or `None` when it needs none (already injected). The same [`inject`] runs, and the
/// patch is the difference, so the webhook and `meshctl inject` cannot disagree.
pub fn admission_patch(
    pod: &serde_json::Value,
    opts: &InjectOptions,
) -> Result<Option<json_patch::Patch>, InjectError> {
    let bad = |message: String| InjectError {
        at: "the admission request's pod".into(),
        message,
    };
    let mut value: Value = serde_json::from_value(pod.clone()).map_err(|e| bad(e.to_string()))?;
    if inject(&mut value, opts)? == 0 {
        return Ok(None);
    }
    let after: serde_json::Value = serde_json::to_value(&value).map_err(|e| bad(e.to_string()))?;
    Ok(Some(json_patch::diff(pod, &after)))
}

/// The webhook's whole exchange: an AdmissionReview (v1) request in, the review with its
/// response out. A pod is always allowed — the webhook adds a sidecar, it never blocks a
/// workload — with the JSONPatch when it needs one, or a warning naming why it could not be
/// injected (the API server shows it to the client, e.g. `kubectl apply`).
pub fn admission_review(review: &serde_json::Value, opts: &InjectOptions) -> serde_json::Value {
    use base64::Engine as _;
    let request = &review["request"];
    let uid = request["uid"].clone();
    let mut response = serde_json::json!({ "uid": uid, "allowed": true });
    match admission_patch(&request["object"], opts) {
        Ok(Some(patch)) => match serde_json::to_vec(&patch) {
            Ok(bytes) => {
                response["patchType"] = "JSONPatch".into();
                response["patch"] = base64::engine::general_purpose::STANDARD
                    .encode(bytes)
                    .into();
            }
            Err(e) => response["warnings"] = serde_json::json!([format!("meshctl: {e}")]),
        },
        Ok(None) => {}
        Err(e) => {
            response["warnings"] = serde_json::json!([format!("meshctl: not injected: {e}")]);
        }
    }
    serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    })
}

/// Calls `f` with a name and the pod (metadata + spec mapping) of every pod or pod template
/// in `object`.
fn for_each_pod(
    object: &mut Value,
    f: &mut dyn FnMut(&str, &mut Mapping) -> Result<(), InjectError>,
) -> Result<(), InjectError> {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = object
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let at = format!("{kind}/{name}");
    let path: &[&str] = match kind.as_str() {
        "Pod" => &[],
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => &["spec", "template"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template"],
        list if list.ends_with("List") => {
            if let Some(Value::Sequence(items)) = object.get_mut("items") {
                for item in items {
                    for_each_pod(item, f)?;
                }
            }
            return Ok(());
        }
        _ => return Ok(()),
    };
    let mut target = object;
    for key in path {
        target = target.get_mut(*key).ok_or_else(|| InjectError {
            at: at.clone(),
            message: format!("no `{}` (not a valid {kind})", path.join(".")),
        })?;
    }
    match target {
        Value::Mapping(pod) => f(&at, pod),
        _ => Err(InjectError {
            at,
            message: "the pod template is not a mapping".into(),
        }),
    }
}

/// Adds the sidecar to one pod; `Ok(false)` when it already has one.
fn inject_pod(pod: &mut Mapping, opts: &InjectOptions) -> Result<bool, String> {
    let annotations = pod
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .cloned()
        .unwrap_or(Value::Null);
    let Some(spec) = child_map(pod, "spec") else {
        return malformed("spec")();
    };
    let containers = match spec.get("containers") {
        Some(Value::Sequence(c)) if !c.is_empty() => c,
        _ => return Err("the pod has no containers".into()),
    };
    if containers.iter().any(is_proxy) {
        return Ok(false);
    }
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        return Err(
            "hostNetwork pods share the node's ports: the sidecar cannot be injected".into(),
        );
    }
    let upstreams = upstreams(&annotations)?;
    let app_port = app_port(&annotations, containers)?;

    let mut added_env = Vec::new();
    let Some(spec) = child_map(pod, "spec") else {
        return malformed("spec")();
    };
    // Checked before anything changes, so a malformed pod is never half-injected.
    if child_seq(spec, "volumes").is_none() {
        return malformed("spec.volumes")();
    }
    if let Some(Value::Sequence(containers)) = spec.get_mut("containers") {
        for container in containers.iter_mut() {
            add_env(container, &upstreams, &mut added_env)?;
        }
        containers.push(proxy_container(opts, app_port, &upstreams));
    }
    if let Some(volumes) = child_seq(spec, "volumes") {
        volumes.push(token_volume());
        volumes.push(bundle_volume());
    }

    added_env.sort();
    added_env.dedup();
    let Some(metadata) = child_map(pod, "metadata") else {
        return malformed("metadata")();
    };
    let Some(labels) = child_map(metadata, "labels") else {
        return malformed("metadata.labels")();
    };
    labels.insert(SIDECAR_LABEL.into(), "proxy".into());
    let Some(annotations) = child_map(metadata, "annotations") else {
        return malformed("metadata.annotations")();
    };
    annotations.insert(INJECTED_ANNOTATION.into(), VERSION.into());
    annotations.insert(INJECTED_ENV_ANNOTATION.into(), added_env.join(",").into());
    Ok(true)
}

/// Removes the sidecar and what came with it; `false` when there was none.
fn uninject_pod(pod: &mut Mapping) -> bool {
    let Some(spec) = child_map(pod, "spec") else {
        return false;
    };
    let had = match spec.get_mut("containers") {
        Some(Value::Sequence(containers)) => {
            let before = containers.len();
            containers.retain(|c| !is_proxy(c));
            before != containers.len()
        }
        _ => false,
    };
    if !had {
        return false;
    }
    remove_named(spec, "volumes", &[TOKEN_VOLUME, BUNDLE_VOLUME]);
    let added: Vec<String> = pod
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(INJECTED_ENV_ANNOTATION))
        .and_then(Value::as_str)
        .map(|s| {
            s.split(',')
                .filter(|n| !n.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let names: Vec<&str> = added.iter().map(String::as_str).collect();
    if let Some(Value::Sequence(containers)) =
        pod.get_mut("spec").and_then(|s| s.get_mut("containers"))
    {
        for container in containers.iter_mut() {
            if let Value::Mapping(c) = container {
                remove_named(c, "env", &names);
            }
        }
    }
    if let Some(Value::Mapping(metadata)) = pod.get_mut("metadata") {
        remove_key(metadata, "labels", SIDECAR_LABEL);
        remove_key(metadata, "annotations", INJECTED_ANNOTATION);
        remove_key(metadata, "annotations", INJECTED_ENV_ANNOTATION);
        if metadata.is_empty() {
            pod.shift_remove("metadata");
        }
    }
    true
}

fn is_proxy(container: &Value) -> bool {
    container.get("name").and_then(Value::as_str) == Some(PROXY_CONTAINER)
}

/// The upstream service names from the annotation, checked: DNS labels, at most
/// [`MAX_UPSTREAMS`], no repeats.
fn upstreams(annotations: &Value) -> Result<Vec<String>, String> {
    match annotations
        .get(UPSTREAMS_ANNOTATION)
        .and_then(Value::as_str)
    {
        Some(text) => parse_upstreams(text),
        None => Ok(Vec::new()),
    }
}

/// The value of [`UPSTREAMS_ANNOTATION`], checked; upstream `i` listens on
/// [`upstream_port`]`(i)` — what the sidecar's flags and the controller agree on.
pub fn parse_upstreams(text: &str) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !crate::identity::spiffe::is_dns_label(name) {
            return Err(format!(
                "annotation {UPSTREAMS_ANNOTATION}: `{name}` is not a service name (a DNS label)"
            ));
        }
        if names.iter().any(|n| n == name) {
            return Err(format!(
                "annotation {UPSTREAMS_ANNOTATION}: `{name}` is named twice"
            ));
        }
        names.push(name.to_string());
    }
    if names.len() > MAX_UPSTREAMS {
        return Err(format!(
            "annotation {UPSTREAMS_ANNOTATION}: {} upstreams, at most {MAX_UPSTREAMS}",
            names.len()
        ));
    }
    Ok(names)
}

/// The loopback port of the `index`-th upstream of the annotation.
pub fn upstream_port(index: usize) -> u16 {
    (FIRST_UPSTREAM_PORT as usize + index) as u16
}

/// The port the inbound forwards to: the annotation, else the first app container's first
/// `containerPort`; `None` when the pod serves nothing.
fn app_port(annotations: &Value, containers: &[Value]) -> Result<Option<i64>, String> {
    if let Some(text) = annotations.get(APP_PORT_ANNOTATION).and_then(Value::as_str) {
        return match text.trim().parse::<i64>() {
            Ok(p) if (1..=65_535).contains(&p) && !reserved(p) => Ok(Some(p)),
            Ok(p) if reserved(p) => Err(format!(
                "annotation {APP_PORT_ANNOTATION}: port {p} is the sidecar's own"
            )),
            _ => Err(format!(
                "annotation {APP_PORT_ANNOTATION}: `{text}` is not a port (1-65535)"
            )),
        };
    }
    let first = containers
        .first()
        .and_then(|c| c.get("ports"))
        .and_then(Value::as_sequence)
        .and_then(|ports| ports.first())
        .and_then(|p| p.get("containerPort"))
        .and_then(Value::as_i64);
    match first {
        Some(p) if reserved(p) => Err(format!(
            "container port {p} is one of the sidecar's ({SIDECAR_INBOUND_PORT}, \
             {SIDECAR_HTTP_PROXY_PORT}, {SIDECAR_ADMIN_PORT}, {SIDECAR_TAP_PORT}, {FIRST_UPSTREAM_PORT}-{LAST_RESERVED_UPSTREAM_PORT}): \
             set {APP_PORT_ANNOTATION} or move the app"
        )),
        other => Ok(other),
    }
}

/// Whether `port` is one the sidecar listens on.
fn reserved(port: i64) -> bool {
    let last_upstream = i64::from(LAST_RESERVED_UPSTREAM_PORT);
    [
        SIDECAR_INBOUND_PORT,
        SIDECAR_HTTP_PROXY_PORT,
        SIDECAR_ADMIN_PORT,
        SIDECAR_TAP_PORT,
    ]
    .contains(&(port as i32))
        || (i64::from(FIRST_UPSTREAM_PORT)..=last_upstream).contains(&port)
}

/// The `MESH_UPSTREAM_<NAME>` variable for `service` (upper case, `-` → `_`).
pub fn upstream_env_name(service: &str) -> String {
    format!(
        "MESH_UPSTREAM_{}",
        service.to_ascii_uppercase().replace('-', "_")
    )
}

/// Adds the mesh's variables to one app container, never replacing one it sets itself;
/// records the names added.
fn add_env(
    container: &mut Value,
    upstreams: &[String],
    added: &mut Vec<String>,
) -> Result<(), String> {
    let Value::Mapping(c) = container else {
        return malformed("containers[]")();
    };
    let mut wanted = vec![
        (
            "HTTP_PROXY".to_string(),
            format!("http://127.0.0.1:{SIDECAR_HTTP_PROXY_PORT}"),
        ),
        (
            "NO_PROXY".to_string(),
            "127.0.0.1,localhost,::1".to_string(),
        ),
    ];
    for (i, service) in upstreams.iter().enumerate() {
        wanted.push((
            upstream_env_name(service),
            format!("127.0.0.1:{}", FIRST_UPSTREAM_PORT + i as i32),
        ));
    }
    let Some(env) = child_seq(c, "env") else {
        return malformed("containers[].env")();
    };
    for (name, value) in wanted {
        let present = env
            .iter()
            .any(|e| e.get("name").and_then(Value::as_str) == Some(name.as_str()));
        if !present {
            let mut entry = Mapping::new();
            entry.insert("name".into(), name.clone().into());
            entry.insert("value".into(), value.into());
            env.push(Value::Mapping(entry));
            added.push(name);
        }
    }
    Ok(())
}

/// The sidecar container. Its command line is the cluster mode of `meshctl proxy`: the
/// control plane at the controller Service, the projected token as credentials, the trust
/// bundle file to verify the controller with.
fn proxy_container(opts: &InjectOptions, app_port: Option<i64>, upstreams: &[String]) -> Value {
    let controller = format!(
        "https://{CONTROLLER_NAME}.{}.svc:{CONTROLLER_GRPC_PORT}",
        opts.control_plane_namespace
    );
    let mut args = vec![
        "proxy".to_string(),
        "--control-plane".into(),
        controller,
        "--token-file".into(),
        format!("{TOKEN_DIR}/token"),
        "--trust-bundle".into(),
        format!("{BUNDLE_DIR}/{TRUST_BUNDLE_KEY}"),
        "--http-proxy".into(),
        format!("127.0.0.1:{SIDECAR_HTTP_PROXY_PORT}"),
        "--admin".into(),
        format!("0.0.0.0:{SIDECAR_ADMIN_PORT}"),
        "--tap-mtls".into(),
        format!("0.0.0.0:{SIDECAR_TAP_PORT}"),
        "--tap-client".into(),
        format!("{}/{CONTROLLER_NAME}", opts.control_plane_namespace),
    ];
    if let Some(port) = app_port {
        args.push("--inbound".into());
        args.push(format!("0.0.0.0:{SIDECAR_INBOUND_PORT}=127.0.0.1:{port}"));
    }
    for (i, service) in upstreams.iter().enumerate() {
        args.push("--upstream-service".into());
        args.push(format!("127.0.0.1:{}={service}", upstream_port(i)));
    }
    let mut ports = vec![
        serde_json::json!({
            "name": "meshctl-admin", "containerPort": SIDECAR_ADMIN_PORT, "protocol": "TCP"
        }),
        serde_json::json!({
            "name": "meshctl-tap", "containerPort": SIDECAR_TAP_PORT, "protocol": "TCP"
        }),
    ];
    if app_port.is_some() {
        ports.insert(
            0,
            serde_json::json!({
                "name": "meshctl-inbound", "containerPort": SIDECAR_INBOUND_PORT, "protocol": "TCP"
            }),
        );
    }
    let probe = |path: &str| {
        serde_json::json!({
            "httpGet": {"path": path, "port": SIDECAR_ADMIN_PORT},
            "periodSeconds": 5,
            "failureThreshold": 3
        })
    };
    let container = serde_json::json!({
        "name": PROXY_CONTAINER,
        "image": opts.image,
        "args": args,
        "env": [
            {"name": "MESHCTL_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "MESHCTL_POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "MESHCTL_SERVICE_ACCOUNT", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
        ],
        "ports": ports,
        "readinessProbe": probe("/ready"),
        "livenessProbe": probe("/live"),
        "resources": {
            "requests": {"cpu": "10m", "memory": "16Mi"},
            "limits": {"memory": "64Mi"}
        },
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": PROXY_UID,
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}
        },
        "volumeMounts": [
            {"name": TOKEN_VOLUME, "mountPath": TOKEN_DIR, "readOnly": true},
            {"name": BUNDLE_VOLUME, "mountPath": BUNDLE_DIR, "readOnly": true}
        ]
    });
    to_yaml(container)
}

fn token_volume() -> Value {
    to_yaml(serde_json::json!({
        "name": TOKEN_VOLUME,
        "projected": {"sources": [{"serviceAccountToken": {
            "audience": TOKEN_AUDIENCE,
            "expirationSeconds": TOKEN_EXPIRATION_SECONDS,
            "path": "token"
        }}]}
    }))
}

fn bundle_volume() -> Value {
    to_yaml(serde_json::json!({
        "name": BUNDLE_VOLUME,
        "configMap": {"name": TRUST_BUNDLE_CONFIGMAP}
    }))
}

/// A JSON value as a YAML value (always representable: JSON is a subset of YAML).
fn to_yaml(value: serde_json::Value) -> Value {
    serde_yaml::to_value(value).unwrap_or(Value::Null)
}

/// `map[key]` as a mapping, created when missing or `null`; `None` when it holds something
/// else (a malformed manifest, reported by the caller).
fn child_map<'a>(map: &'a mut Mapping, key: &str) -> Option<&'a mut Mapping> {
    let slot = map.entry(Value::from(key)).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Mapping(Mapping::new());
    }
    slot.as_mapping_mut()
}

/// `map[key]` as a sequence, created when missing or `null`; `None` when it holds something
/// else.
fn child_seq<'a>(map: &'a mut Mapping, key: &str) -> Option<&'a mut Vec<Value>> {
    let slot = map.entry(Value::from(key)).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Sequence(Vec::new());
    }
    slot.as_sequence_mut()
}

/// `Err` naming `what` when [`child_map`]/[`child_seq`] found something else there.
fn malformed<T>(what: &str) -> impl FnOnce() -> Result<T, String> + '_ {
    move || Err(format!("`{what}` has the wrong type"))
}

/// Removes the entries of the sequence `map[key]` whose `name` is in `names`, and the key
/// itself when that leaves it empty (injection created it).
fn remove_named(map: &mut Mapping, key: &str, names: &[&str]) {
    if let Some(Value::Sequence(items)) = map.get_mut(key) {
        items.retain(|i| {
            !i.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| names.contains(&n))
        });
        if items.is_empty() {
            map.shift_remove(key);
        }
    }
}

/// Removes `map[outer][inner]`, and `map[outer]` when that leaves it empty.
fn remove_key(map: &mut Mapping, outer: &str, inner: &str) {
    if let Some(Value::Mapping(m)) = map.get_mut(outer) {
        m.shift_remove(inner);
        if m.is_empty() {
            map.shift_remove(outer);
        }
    }
}

#[cfg(test)]
mod tests;
