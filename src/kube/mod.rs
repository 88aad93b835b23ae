//! meshctl on Kubernetes: the manifests `meshctl install` renders, applying and deleting them
//! with server-side apply, the cluster checks of `check --kube`, and the names, labels and
//! ports the in-cluster controller relies on.
//!
//! The manifests are pure functions of [`manifests::InstallOptions`] and the identity
//! material. [`controller`] is the control plane's second backend: it builds on the core in
//! `control` (never the other way round) and on nothing of the proxy.

pub mod apply;
pub mod checks;
pub mod client;
pub mod controller;
pub mod faults;
pub mod identity;
pub mod inject;
pub mod manifests;
pub mod mesh;
pub mod rollout;
pub mod rotation;
pub mod uninstall;

#[cfg(test)]
pub(crate) mod mock;

/// The namespace install uses unless told otherwise.
pub const DEFAULT_NAMESPACE: &str = "meshctl-system";
/// The image the controller Deployment runs unless `--image` says otherwise.
pub const DEFAULT_IMAGE: &str = concat!("ghcr.io/meshctl/meshctl:", env!("CARGO_PKG_VERSION"));
/// The field manager of every server-side apply meshctl sends.
pub const FIELD_MANAGER: &str = "meshctl";

/// Name of the controller's ServiceAccount, ClusterRole, ClusterRoleBinding, Deployment,
/// Service and PodDisruptionBudget.
pub const CONTROLLER_NAME: &str = "meshctl-controller";
/// The controller Deployment's container (`meshctl version` reads its image).
pub const CONTROLLER_CONTAINER: &str = "controller";
/// The Secret (type kubernetes.io/tls) holding the issuer certificate, its key and `ca.crt`.
pub const ISSUER_SECRET: &str = "meshctl-issuer";
/// The Secret holding the token `meshctl tap` and `top` present to the controller's `/tap`
/// (created by the controller when missing; whoever may `get` it may tap).
pub const TAP_TOKEN_SECRET: &str = "meshctl-tap";
/// Key of the token inside [`TAP_TOKEN_SECRET`].
pub const TAP_TOKEN_KEY: &str = "token";
/// The ConfigMap holding the trust bundle, readable by every namespace's sidecars' tooling.
pub const TRUST_BUNDLE_CONFIGMAP: &str = "meshctl-trust-bundle";
/// Key of the trust bundle inside [`TRUST_BUNDLE_CONFIGMAP`].
pub const TRUST_BUNDLE_KEY: &str = "ca-bundle.crt";
/// The MutatingWebhookConfiguration that injects the sidecar.
pub const WEBHOOK_CONFIGURATION: &str = "meshctl-sidecar-injector";
/// Path the controller serves AdmissionReview requests on.
pub const WEBHOOK_PATH: &str = "/inject";
/// The per-namespace ConfigMap the controller reads traffic policy from (one key per
/// service, the same schema as mesh.yaml's `policy:`); the only ConfigMap name it may read.
pub const POLICY_CONFIGMAP: &str = "meshctl-policy";
/// The per-namespace ConfigMap holding the live faults `meshctl fault inject` sets (one key
/// per service, a JSON live fault with an absolute expiry), read by the controller.
pub const FAULTS_CONFIGMAP: &str = "meshctl-faults";

/// Label (on a namespace or a pod) that opts pods into sidecar injection, and its value.
pub const INJECT_LABEL: &str = "meshctl.io/inject";
pub const INJECT_ENABLED: &str = "enabled";
/// Label injection puts on every pod that got a sidecar: how `uninstall` finds meshed pods.
pub const SIDECAR_LABEL: &str = "meshctl.io/sidecar";
/// Annotation carrying the meshctl version on every object install creates.
pub const VERSION_ANNOTATION: &str = "meshctl.io/version";

/// `app.kubernetes.io/part-of=meshctl`: every object install creates carries it, and
/// uninstall selects by it alone.
pub const PART_OF_LABEL: &str = "app.kubernetes.io/part-of";
pub const PART_OF: &str = "meshctl";
pub const PART_OF_SELECTOR: &str = "app.kubernetes.io/part-of=meshctl";

/// The controller's gRPC-over-TLS port: proxies fetch their configuration and certificates
/// here (serving certificate for `meshctl-controller.<namespace>.svc`, from the mesh issuer).
pub const CONTROLLER_GRPC_PORT: i32 = 8443;
pub const CONTROLLER_GRPC_PORT_NAME: &str = "grpc-tls";
/// The controller's admission webhook port (HTTPS, same serving certificate).
pub const WEBHOOK_PORT: i32 = 9443;
pub const WEBHOOK_PORT_NAME: &str = "webhook";
/// The port the Service exposes the webhook on (what the API server dials).
pub const WEBHOOK_SERVICE_PORT: i32 = 443;
/// The controller's admin listener: /metrics, /ready, /live (plain HTTP, probes only).
pub const ADMIN_PORT: i32 = 9990;
pub const ADMIN_PORT_NAME: &str = "admin";
/// The sidecar's inbound (mTLS) port on every meshed pod: EndpointSlice addresses are
/// reached here.
pub const SIDECAR_INBOUND_PORT: i32 = 4143;

/// Exit code of `install --wait` when the controller is not Available within `--timeout`.
pub const EXIT_NOT_READY: i32 = 4;

/// The version every object is labelled and annotated with.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests;
