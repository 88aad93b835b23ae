//! Opt-in end-to-end test of the cluster mode against a real Kubernetes API server
//! (MESHCTL_E2E_KUBECONFIG; skipped, saying why, otherwise — and when not root, since it
//! needs a network namespace of its own).
//!
//! `meshctl controller --kube` runs out of cluster; the pods are API objects (no kubelet is
//! needed): created through the controller's admission webhook, their status patched to
//! Running with an address from 198.18.0.0/15, EndpointSlices made by hand, tokens from the
//! TokenRequest API. Their sidecars are real `meshctl proxy` processes in cluster mode on
//! those addresses inside the test's network namespace, in front of real HTTP apps. Then:
//! mTLS with the pods' SPIFFE IDs over HTTP and gRPC, an HTTPRoute weight change, a policy change, an invalid
//! policy refused with an Event, the controller killed and restarted under traffic, and the
//! operator CLI's commands (canary, stat, edges, fault, tap, certs rotate) against it.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service, ServiceAccount};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::netns::{NetNs, http_get};
use crate::support::{Mesh, meshctl_bin};

const CONTROLLER_IP: &str = "198.18.0.1";
const WEB_IP: &str = "198.18.0.10";
const API_V1_IP: &str = "198.18.0.11";
const API_V2_IP: &str = "198.18.0.12";
const GREET_IP: &str = "198.18.0.13";
/// The web sidecar's listener for `greet` (its second upstream).
const GREET_UPSTREAM: &str = "127.0.0.1:4151";
/// The upstream listener the web pod's sidecar opens for `api` (the first upstream).
const API_UPSTREAM: &str = "127.0.0.1:4150";
/// The controller's admin listener (/ready, /status) port.
const CONTROLLER_ADMIN_PORT: u16 = 9990;

/// A version's app: answers its version and the caller's identity; 500 while the file named
/// by its third argument exists (a broken release, for `canary start`).
const APP: &str = r#"
import http.server, json, os, sys
port, version = int(sys.argv[1]), sys.argv[2]
fail_file = sys.argv[3] if len(sys.argv) > 3 else None
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = json.dumps({"version": version, "client": self.headers.get("x-meshctl-client-id", "")}).encode()
        self.send_response(500 if fail_file and os.path.exists(fail_file) else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
"#;

fn setup() -> Option<PathBuf> {
    let Some(kc) = std::env::var_os("MESHCTL_E2E_KUBECONFIG").filter(|v| !v.is_empty()) else {
        eprintln!(
            "kube_mesh_e2e: SKIPPED: MESHCTL_E2E_KUBECONFIG is not set (point it at a cluster's kubeconfig to run the controller and sidecars against it)"
        );
        return None;
    };
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!(
            "kube_mesh_e2e: SKIPPED: needs root for a network namespace of its own (EndpointSlices refuse loopback addresses)"
        );
        return None;
    }
    Some(PathBuf::from(kc))
}

/// Kills and reaps on drop: no process outlives the test.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command, log: &Path) -> Proc {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    Proc(
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .env("RUST_LOG", "info")
            .spawn()
            .unwrap(),
    )
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The kubeconfig with its server replaced by `server` (a relay into the namespace) and its
/// user by `token`'s bearer.
fn relayed_kubeconfig(kc: &Path, server: SocketAddr, token: &str, out: &Path) {
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(kc).unwrap()).unwrap();
    doc["clusters"][0]["cluster"]["server"] = format!("https://{server}").into();
    let name = doc["contexts"][0]["context"]["user"].clone();
    doc["users"] = serde_yaml::to_value(vec![
        serde_json::json!({"name": name, "user": {"token": token}}),
    ])
    .unwrap();
    std::fs::write(out, serde_yaml::to_string(&doc).unwrap()).unwrap();
}

fn api_server_addr(kc: &Path) -> SocketAddr {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(kc).unwrap()).unwrap();
    let url = doc["clusters"][0]["cluster"]["server"]
        .as_str()
        .unwrap()
        .to_string();
    url.trim_start_matches("https://")
        .trim_end_matches('/')
        .parse()
        .expect("the e2e API server must be at https://IP:PORT (a local one)")
}

fn pod(
    name: &str,
    labels: serde_json::Value,
    sa: &str,
    upstreams: Option<&str>,
    port: Option<u16>,
) -> Pod {
    let mut annotations = json!({});
    if let Some(u) = upstreams {
        annotations["meshctl.io/upstreams"] = u.into();
    }
    let mut container = json!({"name": "app", "image": "example.com/app:1"});
    if let Some(p) = port {
        container["ports"] = json!([{"containerPort": p}]);
    }
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": {"serviceAccountName": sa, "containers": [container]}
    }))
    .unwrap()
}

/// A real controller and three meshed pods (`web-0` calling `api`, `api-v1-0`, `api-v2-0`)
/// in a namespace of their own on the e2e API server, the sidecars and apps inside a network
/// namespace. Everything it started is stopped, and its cluster-wide objects deleted, on drop.
struct Fixture {
    // Processes first: dropped (killed) before the rest.
    procs: Vec<Proc>,
    /// Replaced to restart it (behind a RefCell: the tests hold `&Fixture` throughout).
    controller: std::cell::RefCell<Option<Proc>>,
    ns: NetNs,
    rt: tokio::runtime::Runtime,
    client: kube::Client,
    /// The Kubernetes namespace (and the suffix of every cluster-wide name).
    ns_name: String,
    /// The e2e API server's kubeconfig (admin).
    kc: PathBuf,
    /// The controller's: through a relay into the network namespace, its own token.
    inner_kc: PathBuf,
    issuer: PathBuf,
    bundle: PathBuf,
    work: PathBuf,
    _mesh: Mesh,
    role_name: String,
    hook_name: Option<String>,
    /// Meshed pods made here are deleted on drop (never-scheduled pods go at once): they
    /// would block other tests' `uninstall --apply`.
    pods: Vec<String>,
    /// Held for the fixture's life (tests changing cluster-wide state must not overlap);
    /// the last field, so released after everything else is cleaned up.
    _cluster: std::sync::MutexGuard<'static, ()>,
}

impl Fixture {
    /// Skipped (None, saying why) without MESHCTL_E2E_KUBECONFIG, root or a network
    /// namespace. `prefix` keeps the names of tests running at once apart.
    fn start(prefix: &str) -> Option<Fixture> {
        let kc = setup()?;
        let cluster = crate::support::cluster_lock();
        let tag = format!("{prefix}-{}", std::process::id());
        let ns = match NetNs::new(&[CONTROLLER_IP, WEB_IP, API_V1_IP, API_V2_IP, GREET_IP]) {
            Ok(ns) => ns,
            Err(e) => {
                eprintln!("kube_mesh_e2e: SKIPPED: no network namespace here: {e}");
                return None;
            }
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = rt.block_on(async {
            let kc = kube::config::Kubeconfig::read_from(&kc).unwrap();
            let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .unwrap();
            kube::Client::try_from(config).unwrap()
        });
        let mesh = Mesh::initialised();
        let work = mesh.path().to_path_buf();
        let identity = mesh.state_dir().join("identity");
        let issuer = work.join("issuer");
        std::fs::create_dir_all(&issuer).unwrap();
        std::fs::copy(identity.join("issuer.crt"), issuer.join("tls.crt")).unwrap();
        std::fs::copy(identity.join("issuer.key"), issuer.join("tls.key")).unwrap();
        std::fs::copy(identity.join("bundle.crt"), issuer.join("ca.crt")).unwrap();
        let bundle = issuer.join("ca.crt");
        let mut f = Fixture {
            ns,
            rt,
            client,
            ns_name: tag.clone(),
            kc,
            inner_kc: work.join("kubeconfig"),
            issuer,
            bundle,
            work,
            _mesh: mesh,
            role_name: format!("meshctl-e2e-controller-{tag}"),
            hook_name: None,
            pods: Vec::new(),
            _cluster: cluster,
            procs: Vec::new(),
            controller: std::cell::RefCell::new(None),
        };
        let (rt, ns, client) = (&f.rt, &f.ns, f.client.clone());
        let (ns_name, work, bundle, kc) = (
            f.ns_name.clone(),
            f.work.clone(),
            f.bundle.clone(),
            f.kc.clone(),
        );

        // The HTTPRoute CRD (as `install --crds` applies it), before the controller starts.
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let crd = meshctl::kube::manifests::httproute_crd();
        rt.block_on(crds.patch(
            "httproutes.gateway.networking.k8s.io",
            &PatchParams::apply("meshctl-e2e").force(),
            &Patch::Apply(&crd),
        ))
        .unwrap();
        wait_for("the HTTPRoute CRD", Duration::from_secs(30), || {
            let crd = rt
                .block_on(crds.get("httproutes.gateway.networking.k8s.io"))
                .ok()?;
            crd.status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        });

        // The namespace, opted into injection, and its service accounts.
        let namespaces: Api<Namespace> = Api::all(client.clone());
        rt.block_on(
        namespaces.create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": ns_name, "labels": {"meshctl.io/inject": "enabled"}}}),
            )
            .unwrap(),
        ),
    )
    .unwrap();
        // The controller's own namespace (its tap token Secret lives there); shared by the
        // tests, so it may exist already.
        let _ = rt.block_on(namespaces.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "meshctl-system"}})).unwrap(),
        ));
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns_name);
        for sa in ["default", "web", "api", "greet", "controller"] {
            rt.block_on(accounts.create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": sa}})).unwrap(),
            ))
            .unwrap();
        }

        // The controller runs with exactly the permissions install grants it: the rendered
        // ClusterRole bound to a service account of its own, whose token it presents.
        let role_name = f.role_name.clone();
        let roles: Api<ClusterRole> = Api::all(client.clone());
        let role = ClusterRole {
            metadata: kube::api::ObjectMeta {
                name: Some(role_name.clone()),
                ..Default::default()
            },
            rules: Some(meshctl::kube::manifests::controller_rules()),
            ..Default::default()
        };
        rt.block_on(roles.create(&PostParams::default(), &role))
            .unwrap();
        let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
        let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": role_name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
        "subjects": [{"kind": "ServiceAccount", "name": "controller", "namespace": ns_name}]
    }))
    .unwrap();
        rt.block_on(bindings.create(&PostParams::default(), &binding))
            .unwrap();
        // And the Role install binds in its own namespace (the Secrets it reads, by name).
        let ns_roles: Api<k8s_openapi::api::rbac::v1::Role> =
            Api::namespaced(client.clone(), "meshctl-system");
        let ns_role = k8s_openapi::api::rbac::v1::Role {
            metadata: kube::api::ObjectMeta {
                name: Some(role_name.clone()),
                ..Default::default()
            },
            rules: Some(meshctl::kube::manifests::controller_namespace_rules()),
        };
        rt.block_on(ns_roles.create(&PostParams::default(), &ns_role))
            .unwrap();
        let ns_bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> =
            Api::namespaced(client.clone(), "meshctl-system");
        let ns_binding: k8s_openapi::api::rbac::v1::RoleBinding = serde_json::from_value(json!({
            "metadata": {"name": role_name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
            "subjects": [{"kind": "ServiceAccount", "name": "controller", "namespace": ns_name}]
        }))
        .unwrap();
        rt.block_on(ns_bindings.create(&PostParams::default(), &ns_binding))
            .unwrap();
        let controller_token: TokenRequest = rt
            .block_on(
                accounts.create_subresource(
                    "token",
                    "controller",
                    &PostParams::default(),
                    &serde_json::from_value::<TokenRequest>(
                        json!({"spec": {"audiences": [], "expirationSeconds": 3600}}),
                    )
                    .unwrap(),
                ),
            )
            .unwrap();

        // The issuer Secret and the bundle ConfigMap, as install writes them (the controller
        // follows the Secret live: each test's own CA, so none sees another's).
        let secrets: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(client.clone(), "meshctl-system");
        let b64 = |name: &str| {
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                std::fs::read(f.issuer.join(name)).unwrap(),
            )
        };
        rt.block_on(secrets.patch(
            "meshctl-issuer",
            &PatchParams::apply("meshctl-e2e").force(),
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "meshctl-issuer", "namespace": "meshctl-system"},
                "type": "kubernetes.io/tls",
                "data": {"tls.crt": b64("tls.crt"), "tls.key": b64("tls.key"), "ca.crt": b64("ca.crt")},
            })),
        ))
        .unwrap();
        let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "meshctl-system");
        rt.block_on(maps.patch(
            "meshctl-trust-bundle",
            &PatchParams::apply("meshctl-e2e").force(),
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "meshctl-trust-bundle", "namespace": "meshctl-system"},
                "data": {"ca-bundle.crt": std::fs::read_to_string(f.issuer.join("ca.crt")).unwrap()},
            })),
        ))
        .unwrap();

        // The controller, inside the namespace, reaching the API server through a relay.
        let relay = ns.relay_in(api_server_addr(&kc));
        relayed_kubeconfig(
            &kc,
            relay,
            &controller_token.status.unwrap().token,
            &f.inner_kc,
        );
        f.controller
            .replace(Some(f.start_controller("controller.log")));
        wait_for(
            "the controller to be ready",
            Duration::from_secs(30),
            || f.ready().then_some(()),
        );

        // The admission webhook, called by the API server through a relay out of the namespace.
        let webhook = ns.relay_out(format!("{CONTROLLER_IP}:9443").parse().unwrap());
        let ca_bundle = std::fs::read(&bundle).unwrap();
        let hooks: Api<DynamicObject> = Api::all_with(
            client.clone(),
            &kube::discovery::ApiResource::erase::<
                k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration,
            >(&()),
        );
        let hook_name = format!("meshctl-e2e-{tag}");
        let hook: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": hook_name},
        "webhooks": [{
            "name": "inject.meshctl.io",
            "clientConfig": {"url": format!("https://127.0.0.1:{}/inject", webhook.port()),
                             "caBundle": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &ca_bundle)},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns_name}},
            "failurePolicy": "Fail", "sideEffects": "None", "admissionReviewVersions": ["v1"]
        }]
    }))
    .unwrap();
        rt.block_on(hooks.create(&PostParams::default(), &hook))
            .unwrap();
        f.hook_name = Some(hook_name);

        // Pods through the webhook: each gets its sidecar.
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns_name);
        // The API server starts calling a new webhook configuration a moment after it is
        // created (a loaded fresh-clone CI run admitted a pod before that, uninjected): dry-run
        // creates until one comes back with the sidecar.
        let dry_run = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        let probe = pod("webhook-probe", json!({"app": "web"}), "web", None, None);
        wait_for(
            "the webhook to inject a dry-run pod",
            Duration::from_secs(60),
            || {
                let created = rt.block_on(pods.create(&dry_run, &probe)).ok()?;
                created
                    .spec?
                    .containers
                    .iter()
                    .any(|c| c.name == "meshctl-proxy")
                    .then_some(())
            },
        );
        let specs = [
            (
                "web-0",
                json!({"app": "web"}),
                "web",
                Some("api,greet"),
                None,
                WEB_IP,
            ),
            (
                "greet-0",
                json!({"app": "greet"}),
                "greet",
                None,
                Some(8080),
                GREET_IP,
            ),
            (
                "api-v1-0",
                json!({"app": "api", "app.kubernetes.io/version": "v1"}),
                "api",
                None,
                Some(8080),
                API_V1_IP,
            ),
            (
                "api-v2-0",
                json!({"app": "api", "app.kubernetes.io/version": "v2"}),
                "api",
                None,
                Some(8080),
                API_V2_IP,
            ),
        ];
        let mut uids = BTreeMap::new();
        for (name, labels, sa, upstreams, port, ip) in &specs {
            let created = rt
                .block_on(pods.create(
                    &PostParams::default(),
                    &pod(name, labels.clone(), sa, *upstreams, *port),
                ))
                .unwrap();
            let containers: Vec<_> = created
                .spec
                .as_ref()
                .unwrap()
                .containers
                .iter()
                .map(|c| c.name.clone())
                .collect();
            assert!(
                containers.contains(&"meshctl-proxy".to_string()),
                "{name}: not injected: {containers:?}"
            );
            uids.insert(name.to_string(), created.metadata.uid.clone().unwrap());
            f.pods.push(name.to_string());
            let status = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True"}]}});
            rt.block_on(pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)))
                .unwrap();
        }
        // The controller publishes the trust bundle the sidecars mount.
        let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns_name);
        wait_for(
            "the trust-bundle ConfigMap",
            Duration::from_secs(20),
            || {
                let map = rt.block_on(maps.get_opt("meshctl-trust-bundle")).ok()??;
                let pem = map.data?.get("ca-bundle.crt")?.clone();
                (pem == String::from_utf8_lossy(&ca_bundle)).then_some(())
            },
        );

        // Services and the api Service's EndpointSlice (what the endpoints controller would make).
        let services: Api<Service> = Api::namespaced(client.clone(), &ns_name);
        for (name, selector, protocol) in [
            ("web", json!({"app": "web"}), "http"),
            // gRPC: the callers' proxies speak HTTP/2 to it (its sidecar's inbound has no
            // protocol, as injection writes it).
            ("greet", json!({"app": "greet"}), "kubernetes.io/h2c"),
            ("api", json!({"app": "api"}), "http"),
            (
                "api-v1",
                json!({"app": "api", "app.kubernetes.io/version": "v1"}),
                "http",
            ),
            (
                "api-v2",
                json!({"app": "api", "app.kubernetes.io/version": "v2"}),
                "http",
            ),
        ] {
            let svc: Service = serde_json::from_value(json!({"metadata": {"name": name},
            "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080, "appProtocol": protocol}]}}))
        .unwrap();
            rt.block_on(services.create(&PostParams::default(), &svc))
                .unwrap();
        }
        let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &ns_name);
        let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"name": "api-1", "labels": {"kubernetes.io/service-name": "api"}},
        "addressType": "IPv4", "ports": [{"port": 8080}],
        "endpoints": [
            {"addresses": [API_V1_IP], "conditions": {"ready": true}, "targetRef": {"kind": "Pod", "name": "api-v1-0", "namespace": ns_name}},
            {"addresses": [API_V2_IP], "conditions": {"ready": true}, "targetRef": {"kind": "Pod", "name": "api-v2-0", "namespace": ns_name}}
        ]
    }))
    .unwrap();
        rt.block_on(slices.create(&PostParams::default(), &slice))
            .unwrap();
        let greet_slice: EndpointSlice = serde_json::from_value(json!({
            "metadata": {"name": "greet-1", "labels": {"kubernetes.io/service-name": "greet"}},
            "addressType": "IPv4", "ports": [{"port": 8080}],
            "endpoints": [{"addresses": [GREET_IP], "conditions": {"ready": true},
                           "targetRef": {"kind": "Pod", "name": "greet-0", "namespace": ns_name}}]
        }))
        .unwrap();
        rt.block_on(slices.create(&PostParams::default(), &greet_slice))
            .unwrap();

        // Tokens bound to each pod, audience meshctl (what the projected volume would hold).
        let token = |pod: &str, sa: &str| -> PathBuf {
            let request: TokenRequest = serde_json::from_value(json!({"spec": {
            "audiences": ["meshctl"], "expirationSeconds": 3600,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": pod, "uid": uids[pod]}}}))
            .unwrap();
            let answer: TokenRequest = rt
                .block_on(accounts.create_subresource(
                    "token",
                    sa,
                    &PostParams::default(),
                    &request,
                ))
                .unwrap();
            let path = work.join(format!("{pod}.token"));
            std::fs::write(&path, answer.status.unwrap().token).unwrap();
            path
        };

        // A sidecar in cluster mode for `pod`, as injection runs it (addresses are the pod's;
        // the tap listener on the pod IP, for the controller's identity only).
        let sidecar = |pod: &str, sa: &str, ip: &str, args: &[&str]| -> Proc {
            let token = token(pod, sa);
            spawn(
                ns.command(meshctl_bin())
                    .args([
                        "proxy",
                        "--control-plane",
                        &format!("https://{CONTROLLER_IP}:8443"),
                    ])
                    .arg("--token-file")
                    .arg(&token)
                    .arg("--trust-bundle")
                    .arg(&bundle)
                    .args(["--tap-mtls", &format!("{ip}:4144")])
                    .args(["--tap-client", "meshctl-system/meshctl-controller"])
                    .args(args),
                &work.join(format!("{pod}.proxy.log")),
            )
        };

        // Apps and sidecars inside the namespace.
        let app = work.join("app.py");
        std::fs::write(&app, APP).unwrap();
        let mut procs = Vec::new();
        for (pod_name, version, ip, port) in [
            ("api-v1-0", "v1", API_V1_IP, 18081),
            ("api-v2-0", "v2", API_V2_IP, 18082),
        ] {
            procs.push(spawn(
                ns.command("python3")
                    .arg(&app)
                    .arg(port.to_string())
                    .arg(version)
                    .arg(work.join(format!("{version}.fail"))),
                &work.join(format!("{pod_name}.app.log")),
            ));
            procs.push(sidecar(
                pod_name,
                "api",
                ip,
                &[
                    "--inbound",
                    &format!("{ip}:4143=127.0.0.1:{port}"),
                    "--admin",
                    &format!("{ip}:4191"),
                ],
            ));
        }
        let grpc_server = work.join("grpc_server.py");
        std::fs::write(&grpc_server, crate::mesh::GRPCIO_SERVER_PY).unwrap();
        procs.push(spawn(
            ns.command("python3").arg(&grpc_server).arg("18083"),
            &work.join("greet-0.app.log"),
        ));
        procs.push(sidecar(
            "greet-0",
            "greet",
            GREET_IP,
            &[
                "--inbound",
                &format!("{GREET_IP}:4143=127.0.0.1:18083"),
                "--admin",
                &format!("{GREET_IP}:4191"),
            ],
        ));
        procs.push(sidecar(
            "web-0",
            "web",
            WEB_IP,
            &[
                "--upstream-service",
                &format!("{API_UPSTREAM}=api"),
                "--upstream-service",
                &format!("{GREET_UPSTREAM}=greet"),
                "--admin",
                &format!("{WEB_IP}:4191"),
            ],
        ));
        f.procs.extend(procs);

        Some(f)
    }

    fn start_controller(&self, log: &str) -> Proc {
        let mut cmd = self.ns.command(meshctl_bin());
        cmd.arg("controller")
            .arg("--kube")
            .arg("--kubeconfig")
            .arg(&self.inner_kc)
            .args([
                "--trust-domain",
                "mesh.local",
                "--namespace",
                "meshctl-system",
            ])
            .arg("--issuer-dir")
            .arg(&self.issuer)
            .args(["--grpc-listen", &format!("{CONTROLLER_IP}:8443")])
            .args(["--webhook-listen", &format!("{CONTROLLER_IP}:9443")])
            .args([
                "--admin-listen",
                &format!("{CONTROLLER_IP}:{CONTROLLER_ADMIN_PORT}"),
            ])
            .args(["--tls-san", CONTROLLER_IP, "--tls-san", "127.0.0.1"])
            .args(["--image", "example.com/meshctl:e2e"]);
        spawn(&mut cmd, &self.work.join(log))
    }

    /// The controller's /ready answers 200.
    fn ready(&self) -> bool {
        self.ns
            .run_in(|| {
                let mut s = TcpStream::connect((CONTROLLER_IP, CONTROLLER_ADMIN_PORT)).ok()?;
                let (status, _) = http_get(&mut s, "/ready", &[]).ok()?;
                (status == 200).then_some(())
            })
            .is_some()
    }

    /// One request from the web pod's sidecar to `api`.
    fn get(&self, headers: Vec<(&'static str, &'static str)>) -> Result<(u16, String), String> {
        self.ns.run_in(move || {
            let mut s = TcpStream::connect(API_UPSTREAM).map_err(|e| e.to_string())?;
            http_get(&mut s, "/", &headers)
        })
    }

    /// The controller's admin listener relayed out of the network namespace, for the CLI's
    /// `--controller-admin` (nothing routes a controller Service's ClusterIP here).
    fn admin_relay(&self) -> SocketAddr {
        self.ns.relay_out(
            format!("{CONTROLLER_IP}:{CONTROLLER_ADMIN_PORT}")
                .parse()
                .unwrap(),
        )
    }

    /// `meshctl ARGS` against this fixture's namespace on the e2e API server.
    fn cli(&self, admin: SocketAddr, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = crate::support::meshctl();
        cmd.args(args)
            .args(["--target", "kubernetes", "-n", &self.ns_name])
            .arg("--kubeconfig")
            .arg(&self.kc)
            .args(["--controller-admin", &format!("http://{admin}")])
            .current_dir(&self.work)
            .timeout(Duration::from_secs(60));
        cmd
    }

    /// `meshctl ARGS` as `cli` runs it, in the background (as a user would run it beside
    /// traffic), its stdout and stderr into files `<name>.out` / `<name>.err` of the work dir.
    fn spawn_cli(&self, admin: SocketAddr, args: &[&str], name: &str) -> (Child, PathBuf, PathBuf) {
        let out = self.work.join(format!("{name}.out"));
        let err = self.work.join(format!("{name}.err"));
        let child = Command::new(meshctl_bin())
            .args(args)
            .args(["--target", "kubernetes", "-n", &self.ns_name])
            .arg("--kubeconfig")
            .arg(&self.kc)
            .args(["--controller-admin", &format!("http://{admin}")])
            .current_dir(&self.work)
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        (child, out, err)
    }

    fn dump(&self) {
        let config = self.ns.run_in(|| {
            TcpStream::connect((WEB_IP, 4191))
                .map_err(|e| e.to_string())
                .and_then(|mut s| http_get(&mut s, "/config", &[]))
        });
        eprintln!("--- web-0 /config\n{config:?}");
        for f in [
            "controller.log",
            "web-0.proxy.log",
            "api-v1-0.proxy.log",
            "greet-0.proxy.log",
            "greet-0.app.log",
        ] {
            eprintln!(
                "--- {f}\n{}",
                std::fs::read_to_string(self.work.join(f)).unwrap_or_default()
            );
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.procs.clear();
        self.controller.replace(None);
        let hooks: Api<DynamicObject> = Api::all_with(
            self.client.clone(),
            &kube::discovery::ApiResource::erase::<
                k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration,
            >(&()),
        );
        if let Some(name) = &self.hook_name {
            let _ = self.rt.block_on(hooks.delete(name, &Default::default()));
        }
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.ns_name);
        for name in &self.pods {
            let _ = self
                .rt
                .block_on(pods.delete(name, &kube::api::DeleteParams::default().grace_period(0)));
        }
        let bindings: Api<ClusterRoleBinding> = Api::all(self.client.clone());
        let roles: Api<ClusterRole> = Api::all(self.client.clone());
        let _ = self
            .rt
            .block_on(bindings.delete(&self.role_name, &Default::default()));
        let _ = self
            .rt
            .block_on(roles.delete(&self.role_name, &Default::default()));
        let ns_bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> =
            Api::namespaced(self.client.clone(), "meshctl-system");
        let ns_roles: Api<k8s_openapi::api::rbac::v1::Role> =
            Api::namespaced(self.client.clone(), "meshctl-system");
        let _ = self
            .rt
            .block_on(ns_bindings.delete(&self.role_name, &Default::default()));
        let _ = self
            .rt
            .block_on(ns_roles.delete(&self.role_name, &Default::default()));
        // Namespaces never finish deleting without the controller manager: left for the
        // throwaway API server.
    }
}

fn version_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .map(|v| v["version"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

#[test]
fn the_cluster_controller_serves_sidecars_on_a_real_api_server() {
    let Some(f) = Fixture::start("mesh-e2e") else {
        return;
    };
    let ns_name = f.ns_name.clone();
    let client = f.client.clone();
    let get = |headers| f.get(headers);
    let dump = || f.dump();
    let ready = |f: &Fixture| f.ready();
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns_name);

    // 1. mTLS with the pods' identities: the app sees the web pod's SPIFFE ID; no route yet:
    // everything on the first version.
    let first = wait_for(
        "traffic through the sidecars",
        Duration::from_secs(30),
        || get(vec![]).ok().filter(|(s, _)| *s == 200),
    );
    let seen: serde_json::Value = serde_json::from_str(&first.1).unwrap();
    if seen["client"] != format!("spiffe://mesh.local/ns/{ns_name}/sa/web") {
        dump();
    }
    assert_eq!(
        seen["client"],
        format!("spiffe://mesh.local/ns/{ns_name}/sa/web")
    );
    for _ in 0..20 {
        assert_eq!(version_of(&get(vec![]).unwrap().1), "v1");
    }

    // gRPC through the same sidecars (grpcio on both ends): 100 KB unary answered with the
    // caller's identity, an error status, a bidirectional stream. Retried while the greet
    // sidecar comes up (a 503 until the caller has its endpoint).
    let grpc_client = f.work.join("grpc_client.py");
    std::fs::write(&grpc_client, crate::mesh::GRPCIO_CLIENT_PY).unwrap();
    let grpc_call = || {
        f.ns.command("python3")
            .arg(&grpc_client)
            .arg(GREET_UPSTREAM)
            .arg(format!("spiffe://mesh.local/ns/{ns_name}/sa/web"))
            .output()
            .unwrap()
    };
    let started = Instant::now();
    let mut out = grpc_call();
    while !out.status.success()
        && String::from_utf8_lossy(&out.stderr).contains("status: 503")
        && started.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(200));
        out = grpc_call();
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'grpc'"),
        "grpcio is needed by this test: run ./scripts/test.sh, which installs it"
    );
    if !out.status.success() {
        dump();
    }
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");

    // 2. An HTTPRoute splits 50/50: traffic moves within 5 standard deviations.
    let routes: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns_name,
        &kube::discovery::ApiResource::from_gvk(&meshctl::kube::manifests::httproute_gvk()),
    );
    let route = |w1: i32, w2: i32| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "api"},
            "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "api", "port": 80}],
                     "rules": [{"backendRefs": [{"name": "api-v1", "port": 80, "weight": w1},
                                                {"name": "api-v2", "port": 80, "weight": w2}]}]}
        }))
        .unwrap()
    };
    f.rt.block_on(routes.patch(
        "api",
        &PatchParams::apply("meshctl-e2e"),
        &Patch::Apply(&route(50, 50)),
    ))
    .unwrap();
    wait_for(
        "the split to reach the caller",
        Duration::from_secs(20),
        || (version_of(&get(vec![]).ok()?.1) == "v2").then_some(()),
    );
    let n = 400;
    let v2 = (0..n)
        .filter(|_| version_of(&get(vec![]).unwrap().1) == "v2")
        .count();
    let (mean, sd) = (n as f64 * 0.5, (n as f64 * 0.25).sqrt());
    assert!(
        (v2 as f64 - mean).abs() <= 5.0 * sd,
        "v2 got {v2} of {n} at 50/50"
    );
    eprintln!("kube_mesh_e2e: 50/50 split: v2 answered {v2} of {n}");

    // 3. A policy: a header route to v2.
    let policy = |text: &str| -> ConfigMap {
        serde_json::from_value(
            json!({"metadata": {"name": "meshctl-policy"}, "data": {"api": text}}),
        )
        .unwrap()
    };
    let routed = "routes:\n  - match:\n      headers: {x-canary: \"1\"}\n    version: v2\n";
    f.rt.block_on(maps.patch(
        "meshctl-policy",
        &PatchParams::apply("meshctl-e2e"),
        &Patch::Apply(&policy(routed)),
    ))
    .unwrap();
    wait_for("the header route", Duration::from_secs(20), || {
        (0..10)
            .all(|_| get(vec![("x-canary", "1")]).is_ok_and(|(_, b)| version_of(&b) == "v2"))
            .then_some(())
    });

    // 4. An invalid policy is refused with an Event; the last good one stays.
    f.rt.block_on(maps.patch(
        "meshctl-policy",
        &PatchParams::apply("meshctl-e2e"),
        &Patch::Apply(&policy("timeout: soon\n")),
    ))
    .unwrap();
    let events: Api<Event> = Api::namespaced(client.clone(), &ns_name);
    let event = wait_for("an InvalidPolicy Event", Duration::from_secs(20), || {
        f.rt.block_on(events.list(&ListParams::default()))
            .ok()?
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("InvalidPolicy"))
    });
    assert_eq!(
        event.regarding.as_ref().and_then(|r| r.name.as_deref()),
        Some("meshctl-policy")
    );
    assert!(
        event.note.as_deref().unwrap_or("").contains("key api"),
        "{event:?}"
    );
    for _ in 0..20 {
        assert_eq!(version_of(&get(vec![("x-canary", "1")]).unwrap().1), "v2");
    }

    // 5. The controller killed and restarted under traffic: not one request fails.
    let failures = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (failures, sent, stop) = (failures.clone(), sent.clone(), stop.clone());
        let path = f.ns.path.clone();
        std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            let file = std::fs::File::open(&path).unwrap();
            // SAFETY: joins the namespace for this thread only.
            assert_eq!(
                unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
                0
            );
            let started = Instant::now();
            // Bounded in count and time.
            while !stop.load(std::sync::atomic::Ordering::Relaxed)
                && sent.load(std::sync::atomic::Ordering::Relaxed) < 20_000
                && started.elapsed() < Duration::from_secs(60)
            {
                let ok = TcpStream::connect(API_UPSTREAM)
                    .map_err(|e| e.to_string())
                    .and_then(|mut s| http_get(&mut s, "/", &[]))
                    .is_ok_and(|(s, _)| s == 200);
                sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if !ok {
                    failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    f.controller.replace(None);
    std::thread::sleep(Duration::from_secs(2));
    f.controller
        .replace(Some(f.start_controller("controller-2.log")));
    wait_for("the restarted controller", Duration::from_secs(30), || {
        ready(&f).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.join().unwrap();
    let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
    assert!(sent > 50, "only {sent} requests sent");
    assert_eq!(
        failures.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "of {sent}"
    );
    eprintln!("kube_mesh_e2e: {sent} requests across a controller kill and restart, none failed");
    // The restarted controller configures the proxies again: a new weight reaches them.
    f.rt.block_on(routes.patch(
        "api",
        &PatchParams::apply("meshctl-e2e"),
        &Patch::Apply(&route(0, 100)),
    ))
    .unwrap();
    wait_for(
        "all traffic on v2 after the restart",
        Duration::from_secs(30),
        || {
            (0..10)
                .all(|_| get(vec![]).is_ok_and(|(_, b)| version_of(&b) == "v2"))
                .then_some(())
        },
    );
}

/// `meshctl canary shift … --target kubernetes` on the real API server: it creates the
/// service's HTTPRoute, and with --wait returns only once the calling sidecar runs the split
/// (traffic moves at once, no waiting by the test); it refuses fields another manager owns
/// unless forced; `meshctl status --target kubernetes` lists the meshed pods connected. The
/// CLI runs outside the network namespace, reaching the controller's admin listener through
/// a relay (`--controller-admin`: nothing routes the Service's ClusterIP here).
#[test]
fn canary_shift_and_status_work_on_kubernetes() {
    let Some(f) = Fixture::start("mesh-e2e-cli") else {
        return;
    };
    let admin = f.admin_relay();
    let cli = |args: &[&str]| f.cli(admin, args);
    // All traffic on v1 while there is no route.
    wait_for(
        "traffic through the sidecars",
        Duration::from_secs(30),
        || f.get(vec![]).ok().filter(|(s, _)| *s == 200),
    );

    // Unknown version: exit 2 naming the known ones.
    cli(&["canary", "shift", "api", "--to", "v9", "--weight", "10"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("v1, v2"));

    // 50/50 with --wait, then traffic moves right away within 5 standard deviations.
    let out = cli(&[
        "canary", "shift", "api", "--to", "v2", "--weight", "50", "--wait", "-o", "json",
    ])
    .output()
    .unwrap();
    if !out.status.success() {
        f.dump();
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["weights"], json!({"v1": 50, "v2": 50}), "{report}");
    assert_eq!(report["acknowledged"], true);
    assert_eq!(report["route"], format!("{}/api", f.ns_name));
    let n = 400;
    let v2 = (0..n)
        .filter(|_| version_of(&f.get(vec![]).unwrap().1) == "v2")
        .count();
    let (mean, sd) = (n as f64 * 0.5, (n as f64 * 0.25).sqrt());
    assert!(
        (v2 as f64 - mean).abs() <= 5.0 * sd,
        "v2 got {v2} of {n} right after `canary shift --wait` to 50/50"
    );
    eprintln!("kube_mesh_e2e: canary shift --wait 50/50: v2 answered {v2} of {n}");

    // The route as written: owned by `meshctl`.
    let routes: Api<DynamicObject> = Api::namespaced_with(
        f.client.clone(),
        &f.ns_name,
        &kube::discovery::ApiResource::from_gvk(&meshctl::kube::manifests::httproute_gvk()),
    );
    let route = f.rt.block_on(routes.get("api")).unwrap();
    let managers: Vec<_> = route
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert_eq!(managers, ["meshctl"], "{route:?}");

    // Another manager takes the rules over: meshctl refuses to clobber them, naming it...
    let theirs: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "api"},
        "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "api"}],
                 "rules": [{"backendRefs": [{"name": "api-v1", "port": 80, "weight": 100},
                                            {"name": "api-v2", "port": 80, "weight": 0}]}]}
    }))
    .unwrap();
    f.rt.block_on(routes.patch(
        "api",
        &PatchParams::apply("someone-else").force(),
        &Patch::Apply(&theirs),
    ))
    .unwrap();
    cli(&["canary", "shift", "api", "--to", "v2", "--weight", "100"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("someone-else"))
        .stderr(predicates::str::contains("--force-conflicts"));
    // ... unless told to; everything on v2 once acknowledged.
    cli(&[
        "canary",
        "shift",
        "api",
        "--to",
        "v2",
        "--weight",
        "100",
        "--wait",
        "--force-conflicts",
    ])
    .assert()
    .success();
    for _ in 0..20 {
        assert_eq!(version_of(&f.get(vec![]).unwrap().1), "v2");
    }

    // status: the four pods, connected.
    let out = cli(&["status", "-o", "json"]).output().unwrap();
    let health: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let pods = health["pods"].as_array().unwrap();
    let mut names: Vec<&str> = pods.iter().map(|p| p["pod"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        ["api-v1-0", "api-v2-0", "greet-0", "web-0"],
        "{health}"
    );
    for p in pods {
        assert_eq!(p["control_plane_connected"], true, "{health}");
        assert_eq!(p["pod_ready"], true, "{health}");
    }
    assert_eq!(health["controller"]["answering"], 1, "{health}");
    eprintln!(
        "kube_mesh_e2e: status --target kubernetes:\n{}",
        String::from_utf8_lossy(&cli(&["status"]).output().unwrap().stdout)
    );

    // version: the controller's own, from its /status (run out of the cluster here: no
    // Deployment, so no image).
    let out = cli(&["version", "-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mine = env!("CARGO_PKG_VERSION");
    assert_eq!(v["control_plane"]["version"], mine, "{v}");
    assert_eq!(
        v["control_plane"]["replicas"],
        json!([{"replica": format!("http://{admin}"), "version": mine}]),
        "{v}"
    );
}

/// `stat -o json` of `args` (a service row), parsed.
fn stat_row(f: &Fixture, admin: SocketAddr, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["stat", "-o", "json"];
    all.extend_from_slice(args);
    let out = f.cli(admin, &all).output().unwrap();
    assert!(
        out.status.success(),
        "stat {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["rows"][0].clone()
}

/// `stat` and `edges` on Kubernetes read every meshed pod's sidecar through the controller:
/// the figures are the requests sent, per version; a meshed pod whose sidecar cannot be
/// reached is counted as not reporting, not dropped.
#[test]
fn stat_and_edges_work_on_kubernetes() {
    let Some(mut f) = Fixture::start("mesh-e2e-stat") else {
        return;
    };
    let admin = f.admin_relay();
    wait_for(
        "traffic through the sidecars",
        Duration::from_secs(30),
        || f.get(vec![]).ok().filter(|(s, _)| *s == 200),
    );
    // A second v1 pod, Running at an address nothing listens on: its sidecar never answers.
    let pods: Api<Pod> = Api::namespaced(f.client.clone(), &f.ns_name);
    let labels = json!({"app": "api", "app.kubernetes.io/version": "v1"});
    f.rt.block_on(pods.create(
        &PostParams::default(),
        &pod("api-v1-1", labels, "api", None, Some(8080)),
    ))
    .unwrap();
    f.pods.push("api-v1-1".into());
    let status = json!({"status": {"phase": "Running", "podIP": "198.18.0.99",
        "podIPs": [{"ip": "198.18.0.99"}], "conditions": [{"type": "Ready", "status": "True"}]}});
    f.rt.block_on(pods.patch_status("api-v1-1", &PatchParams::default(), &Patch::Merge(&status)))
        .unwrap();
    let before = wait_for(
        "the controller to see api-v1-1",
        Duration::from_secs(20),
        || {
            let row = stat_row(&f, admin, &["api", "--from", "web"]);
            (row["meshed"] == json!({"reporting": 2, "proxies": 3})).then_some(row)
        },
    );
    let requests = |row: &serde_json::Value, version: &str| {
        row["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == format!("api/{version}"))
            .map_or(0, |v| v["requests"].as_u64().unwrap())
    };

    let n = 60;
    let mut sent: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..n {
        let (status, body) = f.get(vec![]).unwrap();
        assert_eq!(status, 200, "{body}");
        *sent.entry(version_of(&body)).or_default() += 1;
    }
    let after = stat_row(&f, admin, &["api", "--from", "web"]);
    let all = stat_row(&f, admin, &["api"]);
    assert_eq!(
        after["requests"].as_u64().unwrap() - before["requests"].as_u64().unwrap(),
        n,
        "before {before}\nafter {after}"
    );
    assert_eq!(all["requests"], after["requests"], "only web calls api");
    for v in ["v1", "v2"] {
        assert_eq!(
            requests(&after, v) - requests(&before, v),
            sent.get(v).copied().unwrap_or(0),
            "{v}: sent {sent:?}\nbefore {before}\nafter {after}"
        );
    }
    let v1 = after["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "api/v1")
        .unwrap();
    assert_eq!(
        v1["meshed"],
        json!({"reporting": 1, "proxies": 2}),
        "{after}"
    );
    eprintln!("kube_mesh_e2e: stat api after {n} requests ({sent:?}): {after}");

    // A version that no pod carries: a usage error naming the namespace and the versions.
    f.cli(admin, &["stat", "api/v9"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(format!(
            "service `api` in namespace {} has no version `v9` (versions: v1, v2)",
            f.ns_name
        )));

    // edges: web -> api/v1 (and v2 when it got any), with both verified identities.
    let out = f.cli(admin, &["edges", "-o", "json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let edges = report["edges"].as_array().unwrap();
    let web_id = format!("spiffe://mesh.local/ns/{}/sa/web", f.ns_name);
    let api_id = format!("spiffe://mesh.local/ns/{}/sa/api", f.ns_name);
    for (version, count) in &sent {
        let e = edges
            .iter()
            .find(|e| e["src"] == "web" && e["dst"] == "api" && e["dst_version"] == *version)
            .unwrap_or_else(|| panic!("no edge web -> api/{version}: {report}"));
        assert_eq!(e["client_id"], web_id.as_str(), "{e}");
        assert_eq!(e["server_id"], api_id.as_str(), "{e}");
        assert_eq!(e["mtls"], true, "{e}");
        assert!(e["requests"].as_u64().unwrap() >= *count, "{e}");
    }
    let table = f.cli(admin, &["stat"]).output().unwrap();
    eprintln!(
        "kube_mesh_e2e: stat --target kubernetes:\n{}",
        String::from_utf8_lossy(&table.stdout)
    );

    // certs status: the bundle (here from the namespace's copy: the fixture has no install),
    // the controller's issuer, every pod's leaf from the same issuer and bundle; the pod
    // without a sidecar never reported.
    let out = f
        .cli(
            admin,
            &[
                "certs",
                "status",
                "-o",
                "json",
                "--controller-namespace",
                &f.ns_name,
            ],
        )
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let roles: Vec<&str> = report["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["anchor", "issuer"], "{report}");
    let proxies = report["proxies"].as_array().unwrap();
    for p in proxies {
        if p["instance"] == format!("{}/api-v1-1", f.ns_name) {
            assert_eq!(p["state"], "no-report", "{p}");
            continue;
        }
        assert_eq!(p["state"], "valid", "{p}");
        assert_eq!(p["current_issuer"], true, "{p}");
        assert_eq!(p["current_bundle"], true, "{p}");
    }
    assert_eq!(proxies.len(), 5, "{report}");
    // Leaves renew themselves: only an expired one fails the command (as locally).
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `meshctl fault inject|list|clear … --target kubernetes` on the real API server: the fault
/// is written to the namespace's `meshctl-faults` ConfigMap (server-side apply, field
/// manager `meshctl`), the controller pushes it to web-0's sidecar, and with --wait every
/// request through it is aborted with 503 as soon as the command returns; `fault clear
/// --wait` brings 200 back at once. The CLI runs outside the network namespace, reaching the
/// controller's admin listener through a relay (`--controller-admin`).
#[test]
fn fault_inject_list_and_clear_work_on_kubernetes() {
    let Some(f) = Fixture::start("mesh-e2e-fault") else {
        return;
    };
    let admin = f.admin_relay();
    let cli = |args: &[&str]| f.cli(admin, args);
    let json_of = |args: &[&str]| -> serde_json::Value {
        let out = cli(args).output().unwrap();
        if !out.status.success() {
            f.dump();
        }
        assert!(
            out.status.success(),
            "meshctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    wait_for(
        "traffic through the sidecars",
        Duration::from_secs(30),
        || f.get(vec![]).ok().filter(|(s, _)| *s == 200),
    );

    // An unknown service: exit 2 naming the namespace's meshed services.
    cli(&["fault", "inject", "nope", "--abort", "503@100%"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("unknown service `nope`"))
        .stderr(predicates::str::contains("api, greet, web"));

    // Inject with --wait: every request answered 503 right after it returned.
    let started = Instant::now();
    let report = json_of(&[
        "fault", "inject", "api", "--abort", "503@100%", "--for", "5m", "--wait", "-o", "json",
    ]);
    let took = started.elapsed();
    assert_eq!(report["service"], "api", "{report}");
    assert_eq!(report["abort"], json!({"status": 503, "percent": 100.0}));
    assert_eq!(report["acknowledged"], true);
    assert_eq!(report["configmap"], format!("{}/meshctl-faults", f.ns_name));
    assert!(report["config_version"].as_u64().unwrap() > 0, "{report}");
    for _ in 0..20 {
        assert_eq!(f.get(vec![]).unwrap().0, 503);
    }
    eprintln!("kube_mesh_e2e: fault inject --wait returned in {took:?}; 20 of 20 requests got 503");

    // The ConfigMap as written: the key api, owned by `meshctl`, with an RFC 3339 expiry.
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), &f.ns_name);
    let map = f.rt.block_on(maps.get("meshctl-faults")).unwrap();
    let managers: Vec<_> = map
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert_eq!(managers, ["meshctl"], "{map:?}");
    let stored = &map.data.as_ref().unwrap()["api"];
    let fault = meshctl::kube::faults::decode(stored).unwrap();
    assert!(fault.expires_unix_ms.is_some(), "{stored}");

    // list -o json: the live fault, in force, with its expiry.
    let list = json_of(&["fault", "list", "-o", "json"]);
    let faults = list["faults"].as_array().unwrap();
    assert_eq!(faults.len(), 1, "{list}");
    assert_eq!(faults[0]["service"], "api");
    assert_eq!(faults[0]["source"], "live");
    assert_eq!(faults[0]["active"], true);
    assert_eq!(
        faults[0]["expires_unix_ms"].as_u64(),
        fault.expires_unix_ms,
        "{list}"
    );
    eprintln!(
        "kube_mesh_e2e: fault list -o wide --target kubernetes:\n{}",
        String::from_utf8_lossy(
            &cli(&["fault", "list", "-o", "wide"])
                .output()
                .unwrap()
                .stdout
        )
    );

    // Another manager's key, then a second meshctl fault applied over the existing
    // ConfigMap (resourceVersion precondition): both stay, neither is claimed or dropped.
    let theirs = meshctl::kube::faults::encode(&meshctl::policy::fault::LiveFault {
        expires_unix_ms: None,
        ..fault
    });
    f.rt.block_on(maps.patch(
        "meshctl-faults",
        &PatchParams::apply("someone-else"),
        &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "meshctl-faults"}, "data": {"web": theirs}})),
    ))
    .unwrap();
    json_of(&[
        "fault", "inject", "greet", "--delay", "1ms@1%", "-o", "json",
    ]);
    let data =
        f.rt.block_on(maps.get("meshctl-faults"))
            .unwrap()
            .data
            .unwrap();
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        ["api", "greet", "web"],
        "{data:?}"
    );
    assert_eq!(data["web"], theirs);

    // Clear with --wait: 200 again at once; the other keys stay.
    let cleared = json_of(&["fault", "clear", "api", "--wait", "-o", "json"]);
    assert_eq!(cleared["cleared"], true, "{cleared}");
    assert_eq!(cleared["acknowledged"], true);
    for _ in 0..20 {
        assert_eq!(f.get(vec![]).unwrap().0, 200);
    }
    let list = json_of(&["fault", "list", "-o", "json"]);
    let services: Vec<&str> = list["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["greet", "web"], "{list}");
    json_of(&["fault", "clear", "greet", "-o", "json"]);
    json_of(&["fault", "clear", "web", "-o", "json"]);
    let list = json_of(&["fault", "list", "-o", "json"]);
    assert_eq!(list["faults"], json!([]), "{list}");
    // Clearing again changes nothing and succeeds.
    let again = json_of(&["fault", "clear", "api", "-o", "json"]);
    assert_eq!(again["cleared"], false, "{again}");
}

/// Requests from the web pod's sidecar to `api`, as fast as they come back, until dropped.
struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl Load {
    fn start(f: &Fixture) -> Load {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let path = f.ns.path.clone();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            let file = std::fs::File::open(&path).unwrap();
            // SAFETY: joins the namespace for this thread only.
            assert_eq!(
                unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
                0
            );
            let started = Instant::now();
            let mut sent = 0;
            // Bounded in time whatever happens to the test.
            while !flag.load(std::sync::atomic::Ordering::Relaxed)
                && started.elapsed() < Duration::from_secs(120)
            {
                let _ = TcpStream::connect(API_UPSTREAM)
                    .map_err(|e| e.to_string())
                    .and_then(|mut s| http_get(&mut s, "/", &[]));
                sent += 1;
            }
            sent
        });
        Load {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The NDJSON events of `canary start -o json`.
fn events(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect()
}

fn kinds(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let kind = e["event"].as_str().unwrap_or("?");
            match kind {
                "step" => format!("step {}", e["weight"]),
                "analysis" => format!("analysis {}", e["decision"].as_str().unwrap_or("?")),
                other => other.to_string(),
            }
        })
        .collect()
}

/// `meshctl canary start … --target kubernetes` on the real API server, with the engine's
/// checks reading the sidecars' real `/stats` through the controller: while another live
/// `start` holds the rollout's Lease, `start` and `shift` are refused naming it, and once that
/// Lease expired it is taken over; a v2 answering 500 is
/// rolled back (exit 3), a healthy one promoted (exit 0), each with its NDJSON events; the
/// state is the ConfigMap `meshctl-rollout-api`, the Lease is given up at the end, `canary
/// status` shows the rollout and `canary abort` refuses a finished one.
#[test]
fn canary_start_rolls_back_a_failing_canary_and_promotes_a_healthy_one_on_kubernetes() {
    let Some(f) = Fixture::start("mesh-e2e-rollout") else {
        return;
    };
    let admin = f.admin_relay();
    let cli = |args: &[&str]| f.cli(admin, args);
    wait_for(
        "traffic through the sidecars",
        Duration::from_secs(30),
        || f.get(vec![]).ok().filter(|(s, _)| *s == 200),
    );
    let start = [
        "canary",
        "start",
        "api",
        "--to",
        "v2",
        "--steps",
        "50,100",
        "--interval",
        "1s",
        "--min-requests",
        "10",
        "--timeout",
        "60s",
        "-o",
        "json",
    ];
    let load = Load::start(&f);
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), &f.ns_name);
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(f.client.clone(), &f.ns_name);
    let route_weights = || -> serde_json::Value {
        let routes: Api<DynamicObject> = Api::namespaced_with(
            f.client.clone(),
            &f.ns_name,
            &kube::discovery::ApiResource::from_gvk(&meshctl::kube::manifests::httproute_gvk()),
        );
        let route = f.rt.block_on(routes.get("api")).unwrap();
        route.data["spec"]["rules"][0]["backendRefs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["name"].as_str().unwrap().to_string(), r["weight"].clone()))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };

    // 0. Another `start` holds the rollout's Lease: `start` and `shift` are refused, naming
    // it; once its Lease expired (not renewed for a minute), it is taken over (step 1).
    let lease = |renewed_secs_ago: i64| -> k8s_openapi::api::coordination::v1::Lease {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
        let at = k8s_openapi::jiff::Timestamp::now()
            .checked_sub(k8s_openapi::jiff::SignedDuration::from_secs(
                renewed_secs_ago,
            ))
            .unwrap();
        serde_json::from_value(json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "meshctl-rollout-api"},
            "spec": {"holderIdentity": "ghost-host/4242", "leaseDurationSeconds": 30,
                     "acquireTime": MicroTime(at), "renewTime": MicroTime(at)},
        }))
        .unwrap()
    };
    f.rt.block_on(leases.patch(
        "meshctl-rollout-api",
        &PatchParams::apply("meshctl-e2e").force(),
        &Patch::Apply(&lease(1)),
    ))
    .unwrap();
    cli(&start)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("already running"))
        .stderr(predicates::str::contains("ghost-host/4242"));
    cli(&["canary", "shift", "api", "--to", "v2", "--weight", "10"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("held by ghost-host/4242"));
    f.rt.block_on(leases.patch(
        "meshctl-rollout-api",
        &PatchParams::apply("meshctl-e2e").force(),
        &Patch::Apply(&lease(60)),
    ))
    .unwrap();

    // 1. v2 answers 500: two failed checks at 50%, rolled back to 0%, exit 3.
    std::fs::write(f.work.join("v2.fail"), "").unwrap();
    let began = Instant::now();
    let out = cli(&start).output().unwrap();
    let took = began.elapsed();
    let got = events(&out.stdout);
    if out.status.code() != Some(3) {
        f.dump();
    }
    assert_eq!(
        out.status.code(),
        Some(3),
        "{:?}\n{}",
        kinds(&got),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        kinds(&got),
        [
            "started",
            "step 50",
            "analysis fail",
            "analysis fail",
            "rolled-back"
        ],
        "{got:?}"
    );
    let fail = &got[2];
    assert!(fail["requests"].as_u64().unwrap() >= 1, "{fail}");
    assert_eq!(fail["errors"], fail["requests"], "{fail}");
    assert_eq!(fail["proxies"], 1, "{fail}");
    assert_eq!(fail["proxies_reporting"], 1, "{fail}");
    assert!(fail["baseline_requests"].as_u64().unwrap() >= 1, "{fail}");
    // v1 never fails; its proxies have been seen to count a stray error or two in a window
    // while v2 answers 500s (not the canary's concern here): mostly successes.
    assert!(
        fail["baseline_errors"].as_u64().unwrap() * 2 < fail["baseline_requests"].as_u64().unwrap(),
        "{fail}"
    );
    assert_eq!(got[4]["by"], "gate");
    assert_eq!(got[4]["weight"], 0);
    assert_eq!(route_weights(), json!({"api-v1": 100, "api-v2": 0}));
    let map = f.rt.block_on(maps.get("meshctl-rollout-api")).unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&map.data.unwrap()["rollout.json"]).unwrap();
    assert_eq!(state["phase"], "RolledBack", "{state}");
    assert_eq!(state["history"].as_array().unwrap().len(), 5, "{state}");
    assert!(
        f.rt.block_on(leases.get_opt("meshctl-rollout-api"))
            .unwrap()
            .is_none(),
        "the Lease is given up when the rollout ends"
    );
    eprintln!("kube_mesh_e2e: canary start, failing v2: rolled back in {took:?}");

    // 2. v2 healthy again: 50% passes, 100% passes, promoted, exit 0.
    std::fs::remove_file(f.work.join("v2.fail")).unwrap();
    // The first check's window reaches back whole seconds: let v2's last 500s age out of it.
    std::thread::sleep(Duration::from_secs(3));
    let began = Instant::now();
    let out = cli(&start).output().unwrap();
    let took = began.elapsed();
    let got = events(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{:?}\n{}",
        kinds(&got),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        kinds(&got),
        [
            "started",
            "step 50",
            "analysis pass",
            "step 100",
            "analysis pass",
            "promoted"
        ],
        "{got:?}"
    );
    assert_eq!(got[0]["service"], "api");
    assert_eq!(got[0]["from_weight"], 0);
    assert_eq!(got[2]["errors"], 0, "{}", got[2]);
    assert!(got[2]["requests"].as_u64().unwrap() >= 10, "{}", got[2]);
    assert_eq!(got[5]["by"], "gate");
    assert_eq!(route_weights(), json!({"api-v1": 0, "api-v2": 100}));
    eprintln!("kube_mesh_e2e: canary start, healthy v2: promoted in {took:?}");

    // The CI stage from the docs, unchanged from the local mesh's run: the target and the
    // namespace come from the environment. Rolling back to v1 (healthy) promotes it.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci-canary.sh");
    let log = f.work.join("canary-api.ndjson");
    let out = Command::new("bash")
        .arg(&script)
        .args(["api", "v1", "--steps", "50,100", "--interval", "1s"])
        .args(["--min-requests", "10", "--timeout", "60s"])
        .current_dir(&f.work)
        .env("MESHCTL", meshctl_bin())
        .env("MESHCTL_TARGET", "kubernetes")
        .env("KUBECONFIG", &f.kc)
        .env("MESHCTL_NAMESPACE", &f.ns_name)
        .env("MESHCTL_CONTROLLER_ADMIN", format!("http://{admin}"))
        .env("CANARY_LOG", &log)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let got = events(std::fs::read(&log).unwrap().as_slice());
    assert_eq!(
        kinds(&got).last().map(String::as_str),
        Some("promoted"),
        "{got:?}"
    );
    assert!(stderr.contains("canary api -> v1: exit 0"), "{stderr}");
    assert_eq!(route_weights(), json!({"api-v1": 100, "api-v2": 0}));
    eprintln!("kube_mesh_e2e: examples/ci-canary.sh against the cluster:\n{stderr}");
    let sent = {
        let mut load = load;
        load.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        load.thread.take().unwrap().join().unwrap()
    };
    eprintln!("kube_mesh_e2e: {sent} requests sent during the rollouts");

    // 3. status shows it; abort refuses a finished rollout.
    let out = cli(&["canary", "status", "-o", "json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        status["splits"],
        json!([{"service": "api", "weights": {"v1": 100, "v2": 0}}]),
        "{status}"
    );
    assert_eq!(status["rollouts"][0]["phase"], "Promoted", "{status}");
    assert_eq!(status["rollouts"][0]["running"], false, "{status}");
    cli(&["canary", "abort", "api"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("already Promoted"));
}

#[test]
fn tap_works_on_kubernetes() {
    let Some(f) = Fixture::start("tap") else {
        return;
    };
    let admin = f.admin_relay();
    // `tap api -o json` in the background (as the user would run it), while requests go
    // through the web pod's sidecar to api, carrying a credential.
    let (mut tap, out, err) = f.spawn_cli(
        admin,
        &[
            "tap",
            "api",
            "-o",
            "json",
            "--max-events",
            "6",
            "--duration",
            "40s",
        ],
        "tap",
    );
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(status) = tap.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = tap.kill();
            f.dump();
            panic!(
                "tap did not end: {}\n{}",
                std::fs::read_to_string(&out).unwrap_or_default(),
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        let _ = f.get(vec![("authorization", "Bearer hunter2")]);
        std::thread::sleep(Duration::from_millis(200));
    };
    let stdout = std::fs::read_to_string(&out).unwrap();
    let stderr = std::fs::read_to_string(&err).unwrap();
    if !status.success() {
        f.dump();
    }
    assert!(status.success(), "{status}: {stdout}\n{stderr}");
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 6, "{stdout}");
    let requests: Vec<&serde_json::Value> = records.iter().filter(|r| r["type"] == "req").collect();
    assert!(!requests.is_empty(), "{stdout}");
    for r in &requests {
        let pod = r["proxy"].as_str().unwrap();
        assert!(
            pod == format!("{}/api-v1-0", f.ns_name) || pod == format!("{}/api-v2-0", f.ns_name),
            "{r}"
        );
        assert_eq!(r["service"], "api", "{r}");
        assert_eq!(r["direction"], "in", "{r}");
        assert_eq!(r["headers"]["authorization"], "<redacted>", "{r}");
        assert_eq!(
            r["client_id"],
            format!("spiffe://mesh.local/ns/{}/sa/web", f.ns_name),
            "{r}"
        );
    }
    assert!(!stdout.contains("hunter2"), "{stdout}");
}

/// The fingerprint (as `certs` prints it) of the first certificate in a PEM text.
fn fingerprint(pem_text: &str) -> String {
    let der = meshctl::identity::pem::first_cert(pem_text).unwrap();
    meshctl::identity::pem::fingerprint(&der)
}

/// `certs rotate ARGS -o json` in the background (as the user would run it), while requests
/// go web -> api through the sidecars back to back until 3 s after it ended (bounded: 20000
/// requests, 3 minutes). Meanwhile the pods' mounted trust bundle follows their namespace's
/// ConfigMap, as the kubelet keeps a ConfigMap volume current (there is no kubelet here).
/// Returns its stdout (it must exit 0), the requests sent and the failures.
fn rotate_under_load(
    f: &Fixture,
    admin: SocketAddr,
    args: &[&str],
    ca_dir: &Path,
) -> (Vec<u8>, u32, Vec<String>) {
    let identity_dir = format!("--identity-dir={}", ca_dir.display());
    let mut argv = vec!["certs", "rotate"];
    argv.extend_from_slice(args);
    argv.extend(["-o", "json", "--timeout", "60s", identity_dir.as_str()]);
    let (mut rotate, out_path, err_path) = f.spawn_cli(admin, &argv, "rotate");
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), &f.ns_name);
    let mut synced = Instant::now();
    let (mut sent, mut failed) = (0u32, Vec::new());
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut finished: Option<Instant> = None;
    while finished.is_none_or(|at| at.elapsed() < Duration::from_secs(3)) {
        if finished.is_none() && rotate.try_wait().unwrap().is_some() {
            finished = Some(Instant::now());
        }
        if sent >= 20_000 || Instant::now() > deadline {
            let _ = rotate.kill();
            let _ = rotate.wait();
            f.dump();
            panic!("the rotation did not end: {sent} requests sent");
        }
        if synced.elapsed() > Duration::from_millis(500) {
            synced = Instant::now();
            let published =
                f.rt.block_on(maps.get_opt("meshctl-trust-bundle"))
                    .ok()
                    .flatten()
                    .and_then(|m| m.data?.remove("ca-bundle.crt"));
            if let Some(pem) = published
                && std::fs::read_to_string(&f.bundle).ok().as_deref() != Some(pem.as_str())
            {
                // Written aside and renamed, as the kubelet swaps a volume's contents.
                let next = f.bundle.with_extension("next");
                std::fs::write(&next, &pem).unwrap();
                std::fs::rename(&next, &f.bundle).unwrap();
            }
        }
        sent += 1;
        match f.get(Vec::new()) {
            Ok((200, _)) => {}
            other => failed.push(format!("{other:?}")),
        }
    }
    let status = rotate.wait().unwrap();
    let stdout = std::fs::read(&out_path).unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    if !status.success() {
        f.dump();
    }
    assert!(
        status.success(),
        "{status}: {}\n{stderr}",
        String::from_utf8_lossy(&stdout)
    );
    (stdout, sent, failed)
}

#[test]
fn certs_rotate_issuer_and_anchor_work_on_kubernetes_under_load() {
    let Some(f) = Fixture::start("rotate") else {
        return;
    };
    let admin = f.admin_relay();
    let ca_dir = f._mesh.state_dir();
    // A mesh at work first: traffic flows and every pod serves a leaf from the old issuer.
    wait_for(
        "traffic through the sidecars",
        Duration::from_secs(30),
        || f.get(vec![]).ok().filter(|(s, _)| *s == 200),
    );
    wait_for("every pod's leaf", Duration::from_secs(30), || {
        let out = f
            .cli(admin, &["certs", "status", "-o", "json"])
            .output()
            .ok()?;
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let proxies = doc["proxies"].as_array()?;
        (proxies.len() == 4 && proxies.iter().all(|p| p["current_issuer"] == true)).then_some(())
    });
    let old_issuer = fingerprint(&std::fs::read_to_string(f.issuer.join("tls.crt")).unwrap());

    // Another mesh's CA is refused before anything changes.
    let other = Mesh::initialised();
    let foreign = format!("--identity-dir={}", other.state_dir().display());
    f.cli(admin, &["certs", "rotate", "issuer", &foreign])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is not this mesh's"));

    let (stdout, sent, failed) = rotate_under_load(&f, admin, &["issuer"], &ca_dir);
    let got = events(&stdout);
    let done = got.last().unwrap();
    assert_eq!(done["event"], "done", "{got:?}");
    let new_issuer = done["issuer"].as_str().unwrap().to_string();
    assert_ne!(new_issuer, old_issuer);
    // The CA directory and the cluster's Secret hold the new issuer; every pod serves a
    // leaf from it.
    let local = std::fs::read_to_string(ca_dir.join("identity/issuer.crt")).unwrap();
    assert_eq!(fingerprint(&local), new_issuer);
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(f.client.clone(), "meshctl-system");
    let secret = f.rt.block_on(secrets.get("meshctl-issuer")).unwrap();
    let held = String::from_utf8(secret.data.unwrap()["tls.crt"].0.clone()).unwrap();
    assert_eq!(fingerprint(&held), new_issuer);
    let certs = f
        .cli(admin, &["certs", "status", "-o", "json"])
        .output()
        .unwrap();
    assert!(certs.status.success(), "{certs:?}");
    let doc: serde_json::Value = serde_json::from_slice(&certs.stdout).unwrap();
    let proxies = doc["proxies"].as_array().unwrap();
    assert_eq!(proxies.len(), 4, "{doc}");
    for p in proxies {
        assert_eq!(p["current_issuer"], true, "{p}");
    }
    eprintln!(
        "kube_mesh_e2e: {sent} requests across `certs rotate issuer`, {} failed",
        failed.len()
    );
    assert!(sent > 20, "too few requests to mean anything: {sent}");
    assert!(
        failed.is_empty(),
        "{} of {sent} failed: {failed:?}",
        failed.len()
    );

    // A refused issuer Secret keeps the last good issuer in force, and /status says why.
    f.rt.block_on(secrets.patch(
        "meshctl-issuer",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"tls.key": base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            std::fs::read(other.state_dir().join("identity/issuer.key")).unwrap(),
        )}})),
    ))
    .unwrap();
    let status = wait_for(
        "the controller to refuse the Secret",
        Duration::from_secs(20),
        || {
            let doc = f.ns.run_in(|| {
                let mut s = TcpStream::connect((CONTROLLER_IP, CONTROLLER_ADMIN_PORT)).ok()?;
                let (code, body) = http_get(&mut s, "/status", &[]).ok()?;
                (code == 200).then_some(body)
            })?;
            let doc: serde_json::Value = serde_json::from_str(&doc).ok()?;
            (!doc["issuer_error"].as_str().unwrap_or("").is_empty()).then_some(doc)
        },
    );
    assert!(
        status["issuer_error"]
            .as_str()
            .unwrap()
            .contains("public keys differ"),
        "{status}"
    );
    let signs = fingerprint(status["issuer_pem"].as_str().unwrap());
    let local = std::fs::read_to_string(ca_dir.join("identity/issuer.crt")).unwrap();
    assert_eq!(signs, fingerprint(&local));
    assert_eq!(f.get(Vec::new()).map(|(c, _)| c), Ok(200));

    // The anchor, under traffic: the whole state machine, its checkpoint in the cluster.
    let old_anchor =
        fingerprint(&std::fs::read_to_string(ca_dir.join("identity/trust-anchor.crt")).unwrap());
    let (stdout, sent, failed) = rotate_under_load(&f, admin, &["anchor"], &ca_dir);
    let got = events(&stdout);
    let steps: Vec<&str> = got
        .iter()
        .filter(|e| e["event"] == "step-done")
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "add-anchor",
            "await-bundle",
            "new-issuer",
            "await-leaves",
            "drop-anchor",
            "await-dropped"
        ],
        "{got:?}"
    );
    let done = got.last().unwrap();
    assert_eq!(done["event"], "done", "{got:?}");
    let new_anchor = done["anchor"].as_str().unwrap();
    assert_ne!(new_anchor, old_anchor);
    eprintln!(
        "kube_mesh_e2e: {sent} requests across `certs rotate anchor`, {} failed",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{} of {sent} failed: {failed:?}",
        failed.len()
    );
    // The cluster trusts the new anchor only, everywhere; the checkpoint is gone.
    let secret = f.rt.block_on(secrets.get("meshctl-issuer")).unwrap();
    let bundle = String::from_utf8(secret.data.unwrap()["ca.crt"].0.clone()).unwrap();
    assert_eq!(meshctl::identity::pem::certs(&bundle).unwrap().len(), 1);
    assert_eq!(fingerprint(&bundle), new_anchor);
    for ns in ["meshctl-system", f.ns_name.as_str()] {
        let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), ns);
        let map = f.rt.block_on(maps.get("meshctl-trust-bundle")).unwrap();
        assert_eq!(map.data.unwrap()["ca-bundle.crt"], bundle, "{ns}");
    }
    let maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), "meshctl-system");
    assert!(
        f.rt.block_on(maps.get_opt("meshctl-rotation"))
            .unwrap()
            .is_none()
    );
    let certs = f
        .cli(admin, &["certs", "status", "-o", "json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&certs.stdout).unwrap();
    for p in doc["proxies"].as_array().unwrap() {
        assert_eq!(p["current_issuer"], true, "{p}");
        assert_eq!(p["current_bundle"], true, "{p}");
    }
    // A sidecar that reconnects now trusts the controller only through the new anchor.
    assert_eq!(f.get(Vec::new()).map(|(c, _)| c), Ok(200));
}

/// `canary start --match-header` on a cluster: requests carrying the header go to the canary
/// at every step (the HTTPRoute's header rule, acknowledged by every caller before the first
/// step), others follow the weights; `canary abort` from another shell ends the rollout
/// (exit 3) and removes the rule.
#[test]
fn canary_start_match_header_sends_the_header_to_the_canary_on_kubernetes() {
    let Some(f) = Fixture::start("header") else {
        return;
    };
    let admin = f.admin_relay();
    wait_for(
        "traffic through the sidecars",
        Duration::from_secs(30),
        || f.get(vec![]).ok().filter(|(s, _)| *s == 200),
    );
    let rules = || -> Vec<serde_json::Value> {
        let routes: Api<DynamicObject> = Api::namespaced_with(
            f.client.clone(),
            &f.ns_name,
            &kube::discovery::ApiResource::from_gvk(&meshctl::kube::manifests::httproute_gvk()),
        );
        f.rt.block_on(routes.get_opt("api"))
            .unwrap()
            .map(|r| {
                r.data["spec"]["rules"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    };
    // Held at 10% (a long interval): long enough to look, ended by `abort`.
    let (mut start, out_path, err_path) = f.spawn_cli(
        admin,
        &[
            "canary",
            "start",
            "api",
            "--to",
            "v2",
            "--steps",
            "10,100",
            "--interval",
            "60s",
            "--timeout",
            "120s",
            "-o",
            "json",
            "--match-header",
            "X-Canary=1",
        ],
        "header",
    );
    let stdout = || std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = || std::fs::read_to_string(&err_path).unwrap_or_default();
    wait_for("the first step", Duration::from_secs(30), || {
        if let Some(status) = start.try_wait().unwrap() {
            f.dump();
            panic!("start ended early: {status}\n{}\n{}", stdout(), stderr());
        }
        stdout().contains("\"event\":\"step\"").then_some(())
    });
    // The route: the header rule first, then the weights.
    let got = rules();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        got[0]["matches"][0]["headers"][0],
        json!({"type": "Exact", "name": "x-canary", "value": "1"}),
        "{got:?}"
    );
    assert_eq!(got[0]["backendRefs"][0]["name"], "api-v2");
    // Every request with the header on v2 (acknowledged before the first step: no wait).
    for _ in 0..20 {
        let (status, body) = f.get(vec![("x-canary", "1")]).unwrap();
        assert_eq!(
            (status, version_of(&body)),
            (200, "v2".to_string()),
            "{body}"
        );
    }
    let plain: Vec<String> = (0..30)
        .map(|_| version_of(&f.get(vec![]).unwrap().1))
        .collect();
    assert!(plain.iter().any(|v| v == "v1"), "{plain:?}");
    // Ended from another shell: exit 3 (rolled back), the header rule gone with it.
    f.cli(admin, &["canary", "abort", "api"]).assert().success();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = start.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = start.kill();
            let _ = start.wait();
            panic!("start did not end after abort\n{}\n{}", stdout(), stderr());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(3), "{}\n{}", stdout(), stderr());
    let got = rules();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].get("matches").is_none_or(|m| m
            .as_array()
            .is_none_or(|a| { a.iter().all(|m| m.get("headers").is_none()) })),
        "{got:?}"
    );
    wait_for(
        "header requests back on v1",
        Duration::from_secs(20),
        || {
            (0..10)
                .all(|_| {
                    f.get(vec![("x-canary", "1")])
                        .is_ok_and(|(s, b)| s == 200 && version_of(&b) == "v1")
                })
                .then_some(())
        },
    );
}
