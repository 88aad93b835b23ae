//! What `meshctl install` creates: pure functions from the install options and the identity
//! material to k8s-openapi objects, and their rendering as multi-document YAML or a JSON List.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhook, MutatingWebhookConfiguration, RuleWithOperations, ServiceReference,
    WebhookClientConfig,
};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort,
    EmptyDirVolumeSource, EnvVar, EnvVarSource, HTTPGetAction, Namespace, ObjectFieldSelector,
    PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, Secret, SecretVolumeSource, SecurityContext, Service,
    ServiceAccount, ServicePort, ServiceSpec, Volume, VolumeMount, WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::core::{ApiResource, GroupVersionKind};
use serde::Serialize;

use super::identity::Material;
use super::*;

/// Where the issuer Secret is mounted in the controller (tls.crt, tls.key, ca.crt).
pub const ISSUER_MOUNT: &str = "/var/run/meshctl/issuer";
/// Where the trust bundle ConfigMap is mounted in the controller.
pub const TRUST_BUNDLE_MOUNT: &str = "/var/run/meshctl/trust-bundle";
/// The controller's replicas without and with `--ha`.
pub const REPLICAS: i32 = 1;
pub const HA_REPLICAS: i32 = 3;
/// The non-root user the controller runs as (the distroless "nonroot" user).
pub const RUN_AS_USER: i64 = 65_532;

/// The install flags that shape the manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOptions {
    pub namespace: String,
    pub image: String,
    pub ha: bool,
    /// Include the Gateway API HTTPRoute CRD.
    pub crds: bool,
}

impl Default for InstallOptions {
    fn default() -> Self {
        InstallOptions {
            namespace: DEFAULT_NAMESPACE.to_string(),
            image: DEFAULT_IMAGE.to_string(),
            ha: false,
            crds: false,
        }
    }
}

/// Every object install creates, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifests {
    pub crds: Vec<CustomResourceDefinition>,
    pub namespace: Namespace,
    pub service_account: ServiceAccount,
    pub cluster_role: ClusterRole,
    pub cluster_role_binding: ClusterRoleBinding,
    /// The controller's Secrets, in its own namespace.
    pub role: Role,
    pub role_binding: RoleBinding,
    pub issuer_secret: Secret,
    pub trust_bundle: ConfigMap,
    pub service: Service,
    pub deployment: Deployment,
    pub disruption_budget: Option<PodDisruptionBudget>,
    pub webhook: MutatingWebhookConfiguration,
}

/// One object ready to print or apply: its API coordinates, name and JSON form.
#[derive(Debug, Clone)]
pub struct Object {
    pub resource: ApiResource,
    pub namespace: Option<String>,
    pub name: String,
    pub value: serde_json::Value,
    /// YAML in the typed object's own field order (apiVersion, kind, metadata, ...).
    pub yaml: String,
}

impl Object {
    fn new<K>(obj: &K) -> anyhow::Result<Object>
    where
        K: kube::Resource<DynamicType = ()> + Serialize,
    {
        let meta = obj.meta();
        Ok(Object {
            resource: ApiResource::erase::<K>(&()),
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
            value: serde_json::to_value(obj)?,
            yaml: serde_yaml::to_string(obj)?,
        })
    }

    /// `kind/name` or `kind namespace/name`, as messages name the object.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.resource.kind, self.name),
            None => format!("{} {}", self.resource.kind, self.name),
        }
    }
}

impl Manifests {
    /// The objects in apply order: CRDs, the Namespace, then what lives in it, the webhook
    /// last (it must not send pods to a Service that does not exist yet).
    pub fn objects(&self) -> anyhow::Result<Vec<Object>> {
        let mut out = Vec::new();
        for crd in &self.crds {
            out.push(Object::new(crd)?);
        }
        out.push(Object::new(&self.namespace)?);
        out.push(Object::new(&self.service_account)?);
        out.push(Object::new(&self.cluster_role)?);
        out.push(Object::new(&self.cluster_role_binding)?);
        out.push(Object::new(&self.role)?);
        out.push(Object::new(&self.role_binding)?);
        out.push(Object::new(&self.issuer_secret)?);
        out.push(Object::new(&self.trust_bundle)?);
        out.push(Object::new(&self.service)?);
        out.push(Object::new(&self.deployment)?);
        if let Some(pdb) = &self.disruption_budget {
            out.push(Object::new(pdb)?);
        }
        out.push(Object::new(&self.webhook)?);
        Ok(out)
    }
}

/// Multi-document YAML, one document per object, for `kubectl apply -f -`.
pub fn to_yaml(objects: &[Object]) -> String {
    let mut text = String::new();
    for o in objects {
        text.push_str("---\n");
        text.push_str(&o.yaml);
    }
    text
}

/// A `v1 List` of the objects (what `kubectl apply -f` accepts as JSON).
pub fn to_json_list(objects: &[Object]) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": objects.iter().map(|o| o.value.clone()).collect::<Vec<_>>(),
    })
}

/// Renders everything install creates.
pub fn render(opts: &InstallOptions, material: &Material) -> anyhow::Result<Manifests> {
    let ns = opts.namespace.as_str();
    let crds = if opts.crds {
        vec![httproute_crd()]
    } else {
        Vec::new()
    };
    Ok(Manifests {
        crds,
        namespace: namespace(ns),
        service_account: ServiceAccount {
            metadata: meta(CONTROLLER_NAME, Some(ns), "controller"),
            automount_service_account_token: Some(true),
            ..Default::default()
        },
        cluster_role: ClusterRole {
            metadata: meta(CONTROLLER_NAME, None, "controller"),
            rules: Some(controller_rules()),
            ..Default::default()
        },
        cluster_role_binding: ClusterRoleBinding {
            metadata: meta(CONTROLLER_NAME, None, "controller"),
            role_ref: controller_role_ref("ClusterRole"),
            subjects: Some(controller_subjects(ns)),
        },
        role: Role {
            metadata: meta(CONTROLLER_NAME, Some(ns), "controller"),
            rules: Some(controller_namespace_rules()),
        },
        role_binding: RoleBinding {
            metadata: meta(CONTROLLER_NAME, Some(ns), "controller"),
            role_ref: controller_role_ref("Role"),
            subjects: Some(controller_subjects(ns)),
        },
        issuer_secret: issuer_secret(ns, material),
        trust_bundle: trust_bundle(ns, &material.bundle_pem),
        service: service(ns),
        deployment: deployment(opts, &material.trust_domain),
        disruption_budget: opts.ha.then(|| disruption_budget(ns)),
        webhook: webhook(ns, &material.bundle_pem),
    })
}

/// The controller's (Cluster)Role, as its bindings name it.
fn controller_role_ref(kind: &str) -> RoleRef {
    RoleRef {
        api_group: "rbac.authorization.k8s.io".into(),
        kind: kind.into(),
        name: CONTROLLER_NAME.into(),
    }
}

/// The controller's ServiceAccount, the one subject of its bindings.
fn controller_subjects(ns: &str) -> Vec<Subject> {
    vec![Subject {
        kind: "ServiceAccount".into(),
        name: CONTROLLER_NAME.into(),
        namespace: Some(ns.into()),
        ..Default::default()
    }]
}

/// The labels every object carries (`component` says which part of meshctl it is).
pub fn labels(component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (PART_OF_LABEL.to_string(), PART_OF.to_string()),
        ("app.kubernetes.io/name".to_string(), "meshctl".to_string()),
        (
            "app.kubernetes.io/component".to_string(),
            component.to_string(),
        ),
        ("app.kubernetes.io/version".to_string(), VERSION.to_string()),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "meshctl".to_string(),
        ),
    ])
}

/// The controller pods' selector: stable across upgrades (a Deployment's selector is
/// immutable, so no version in it).
pub fn controller_selector() -> BTreeMap<String, String> {
    BTreeMap::from([
        (PART_OF_LABEL.to_string(), PART_OF.to_string()),
        (
            "app.kubernetes.io/component".to_string(),
            "controller".to_string(),
        ),
    ])
}

fn meta(name: &str, namespace: Option<&str>, component: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(labels(component)),
        annotations: Some(BTreeMap::from([(
            VERSION_ANNOTATION.to_string(),
            VERSION.to_string(),
        )])),
        ..Default::default()
    }
}

fn namespace(ns: &str) -> Namespace {
    let mut metadata = meta(ns, None, "control-plane");
    // The controller meets Pod Security "restricted"; enforce it for everything here.
    if let Some(labels) = metadata.labels.as_mut() {
        labels.insert(
            "pod-security.kubernetes.io/enforce".into(),
            "restricted".into(),
        );
    }
    Namespace {
        metadata,
        ..Default::default()
    }
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(strings(groups)),
        resources: Some(strings(resources)),
        verbs: strings(verbs),
        ..Default::default()
    }
}

/// The controller's permissions, and nothing more: it watches the objects the mesh is made
/// of, reviews the tokens proxies present, and records Events about invalid policy.
pub fn controller_rules() -> Vec<PolicyRule> {
    let watch = ["list", "watch"];
    vec![
        // Services and their EndpointSlices: the catalog and its endpoints.
        rule(&[""], &["services"], &watch),
        rule(&["discovery.k8s.io"], &["endpointslices"], &watch),
        // Pods: which are meshed, their service account (identity) and version label.
        rule(&[""], &["pods"], &watch),
        // Namespaces: the injection opt-in and deleted namespaces.
        rule(&[""], &["namespaces"], &watch),
        // HTTPRoutes: traffic splits (Gateway API, GAMMA).
        rule(&["gateway.networking.k8s.io"], &["httproutes"], &watch),
        // The policy and live-fault ConfigMaps only, by name (list/watch with a
        // metadata.name field selector, one watch per name).
        PolicyRule {
            resource_names: Some(vec![
                POLICY_CONFIGMAP.to_string(),
                FAULTS_CONFIGMAP.to_string(),
            ]),
            ..rule(&[""], &["configmaps"], &watch)
        },
        // Proxies prove who they are with a projected ServiceAccount token.
        rule(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
        // Events on objects with an invalid policy.
        rule(&["events.k8s.io"], &["events"], &["create", "patch"]),
        // The trust-bundle ConfigMap in each meshed namespace (sidecars mount it), by name
        // only: server-side apply creates it, which is authorised with the name too.
        PolicyRule {
            resource_names: Some(vec![TRUST_BUNDLE_CONFIGMAP.to_string()]),
            ..rule(&[""], &["configmaps"], &["get", "create", "patch"])
        },
    ]
}

/// The controller's permissions in its own namespace only (a Role, not the ClusterRole: a
/// Secret of the same name in another namespace is out of its reach).
pub fn controller_namespace_rules() -> Vec<PolicyRule> {
    vec![
        // The tap token Secret (`meshctl tap` presents the token), by name only: read for
        // every /tap request, created by server-side apply when missing (a PATCH that creates
        // is authorised as `create` with its name, so the name restriction holds).
        PolicyRule {
            resource_names: Some(vec![TAP_TOKEN_SECRET.to_string()]),
            ..rule(&[""], &["secrets"], &["get", "create", "patch"])
        },
        // The issuer Secret, by name (a watch with a metadata.name field selector): a new
        // issuer or bundle (`meshctl certs rotate`) takes effect within seconds, without a
        // restart. Its content is mounted into the controller anyway.
        PolicyRule {
            resource_names: Some(vec![ISSUER_SECRET.to_string()]),
            ..rule(&[""], &["secrets"], &["list", "watch"])
        },
    ]
}

/// The issuer Secret (also what `certs rotate` applies for a new issuer or bundle).
pub fn issuer_secret(ns: &str, m: &Material) -> Secret {
    let bytes = |s: &str| ByteString(s.as_bytes().to_vec());
    Secret {
        metadata: meta(ISSUER_SECRET, Some(ns), "identity"),
        type_: Some("kubernetes.io/tls".to_string()),
        data: Some(BTreeMap::from([
            ("tls.crt".to_string(), bytes(&m.issuer_cert_pem)),
            ("tls.key".to_string(), bytes(&m.issuer_key_pem)),
            ("ca.crt".to_string(), bytes(&m.bundle_pem)),
        ])),
        ..Default::default()
    }
}

/// The trust-bundle ConfigMap in the controller's namespace (also what `certs rotate`
/// applies for a new bundle).
pub fn trust_bundle(ns: &str, bundle_pem: &str) -> ConfigMap {
    ConfigMap {
        metadata: meta(TRUST_BUNDLE_CONFIGMAP, Some(ns), "identity"),
        data: Some(BTreeMap::from([(
            TRUST_BUNDLE_KEY.to_string(),
            bundle_pem.to_string(),
        )])),
        ..Default::default()
    }
}

fn service(ns: &str) -> Service {
    Service {
        metadata: meta(CONTROLLER_NAME, Some(ns), "controller"),
        spec: Some(ServiceSpec {
            selector: Some(controller_selector()),
            ports: Some(vec![
                ServicePort {
                    name: Some(CONTROLLER_GRPC_PORT_NAME.into()),
                    port: CONTROLLER_GRPC_PORT,
                    target_port: Some(IntOrString::String(CONTROLLER_GRPC_PORT_NAME.into())),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                },
                ServicePort {
                    name: Some(WEBHOOK_PORT_NAME.into()),
                    port: WEBHOOK_SERVICE_PORT,
                    target_port: Some(IntOrString::String(WEBHOOK_PORT_NAME.into())),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn quantities(cpu: &str, memory: &str) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), Quantity(cpu.to_string())),
        ("memory".to_string(), Quantity(memory.to_string())),
    ])
}

fn probe(path: &str, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(ADMIN_PORT_NAME.into()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(3),
        ..Default::default()
    }
}

fn port(name: &str, number: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: number,
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

fn deployment(opts: &InstallOptions, trust_domain: &str) -> Deployment {
    let ns = opts.namespace.as_str();
    let mut pod_labels = labels("controller");
    pod_labels.extend(controller_selector());
    let container = Container {
        name: super::CONTROLLER_CONTAINER.into(),
        image: Some(opts.image.clone()),
        args: Some(
            [
                "controller",
                "--kube",
                "--trust-domain",
                trust_domain,
                "--issuer-dir",
                ISSUER_MOUNT,
                // The webhook injects sidecars running this same image.
                "--image",
                &opts.image,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ),
        env: Some(vec![EnvVar {
            name: "MESHCTL_NAMESPACE".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "metadata.namespace".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ports: Some(vec![
            port(CONTROLLER_GRPC_PORT_NAME, CONTROLLER_GRPC_PORT),
            port(WEBHOOK_PORT_NAME, WEBHOOK_PORT),
            port(ADMIN_PORT_NAME, ADMIN_PORT),
        ]),
        readiness_probe: Some(probe("/ready", 5)),
        liveness_probe: Some(probe("/live", 10)),
        resources: Some(ResourceRequirements {
            requests: Some(quantities("100m", "64Mi")),
            limits: Some(quantities("1", "256Mi")),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Default::default()
            }),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS_USER),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "issuer".into(),
                mount_path: ISSUER_MOUNT.into(),
                read_only: Some(true),
                ..Default::default()
            },
            VolumeMount {
                name: "trust-bundle".into(),
                mount_path: TRUST_BUNDLE_MOUNT.into(),
                read_only: Some(true),
                ..Default::default()
            },
            VolumeMount {
                name: "tmp".into(),
                mount_path: "/tmp".into(),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    let affinity = opts.ha.then(|| Affinity {
        // Preferred, not required: a small cluster still schedules all replicas.
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_labels: Some(controller_selector()),
                            ..Default::default()
                        }),
                        topology_key: "kubernetes.io/hostname".into(),
                        ..Default::default()
                    },
                },
            ]),
            ..Default::default()
        }),
        ..Default::default()
    });
    Deployment {
        metadata: meta(CONTROLLER_NAME, Some(ns), "controller"),
        spec: Some(DeploymentSpec {
            replicas: Some(if opts.ha { HA_REPLICAS } else { REPLICAS }),
            selector: LabelSelector {
                match_labels: Some(controller_selector()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(BTreeMap::from([(
                        VERSION_ANNOTATION.to_string(),
                        VERSION.to_string(),
                    )])),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(CONTROLLER_NAME.into()),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(RUN_AS_USER),
                        run_as_group: Some(RUN_AS_USER),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    containers: vec![container],
                    affinity,
                    volumes: Some(vec![
                        Volume {
                            name: "issuer".into(),
                            secret: Some(SecretVolumeSource {
                                secret_name: Some(ISSUER_SECRET.into()),
                                default_mode: Some(0o400),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                        Volume {
                            name: "trust-bundle".into(),
                            config_map: Some(ConfigMapVolumeSource {
                                name: TRUST_BUNDLE_CONFIGMAP.into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                        Volume {
                            name: "tmp".into(),
                            empty_dir: Some(EmptyDirVolumeSource::default()),
                            ..Default::default()
                        },
                    ]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn disruption_budget(ns: &str) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(CONTROLLER_NAME, Some(ns), "controller"),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(controller_selector()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn not_in(key: &str, values: &[&str]) -> LabelSelectorRequirement {
    LabelSelectorRequirement {
        key: key.into(),
        operator: "NotIn".into(),
        values: Some(values.iter().map(|s| s.to_string()).collect()),
    }
}

/// Two webhooks, because a webhook's selectors are ANDed and select *labels*: one for pods
/// in namespaces labelled `meshctl.io/inject=enabled` (a pod can opt out with the label set
/// to `disabled`), one for pods labelled `meshctl.io/inject=enabled` in other namespaces.
/// Neither matches kube-system or the mesh's own namespace. `failurePolicy: Ignore`: a
/// controller that is down must not stop every opted-in pod from being created; such pods
/// start without a sidecar (and are not meshed) until they are recreated.
/// (Also what `certs rotate` applies for a new bundle.)
pub fn webhook(ns: &str, bundle_pem: &str) -> MutatingWebhookConfiguration {
    let excluded = not_in("kubernetes.io/metadata.name", &["kube-system", ns]);
    let base = |name: &str, namespace_selector, object_selector| MutatingWebhook {
        name: name.into(),
        admission_review_versions: vec!["v1".into()],
        client_config: WebhookClientConfig {
            service: Some(ServiceReference {
                namespace: ns.into(),
                name: CONTROLLER_NAME.into(),
                path: Some(WEBHOOK_PATH.into()),
                port: Some(WEBHOOK_SERVICE_PORT),
            }),
            ca_bundle: Some(ByteString(bundle_pem.as_bytes().to_vec())),
            ..Default::default()
        },
        failure_policy: Some("Ignore".into()),
        match_policy: Some("Equivalent".into()),
        reinvocation_policy: Some("Never".into()),
        side_effects: "None".into(),
        timeout_seconds: Some(10),
        rules: Some(vec![RuleWithOperations {
            api_groups: Some(vec!["".into()]),
            api_versions: Some(vec!["v1".into()]),
            operations: Some(vec!["CREATE".into()]),
            resources: Some(vec!["pods".into()]),
            scope: Some("Namespaced".into()),
        }]),
        namespace_selector: Some(namespace_selector),
        object_selector: Some(object_selector),
        ..Default::default()
    };
    MutatingWebhookConfiguration {
        metadata: meta(WEBHOOK_CONFIGURATION, None, "injector"),
        webhooks: Some(vec![
            base(
                "namespace.inject.meshctl.io",
                LabelSelector {
                    match_labels: Some(BTreeMap::from([(
                        INJECT_LABEL.to_string(),
                        INJECT_ENABLED.to_string(),
                    )])),
                    match_expressions: Some(vec![excluded.clone()]),
                },
                LabelSelector {
                    match_expressions: Some(vec![not_in(INJECT_LABEL, &["disabled"])]),
                    ..Default::default()
                },
            ),
            base(
                "pod.inject.meshctl.io",
                LabelSelector {
                    match_expressions: Some(vec![
                        not_in(INJECT_LABEL, &[INJECT_ENABLED]),
                        excluded,
                    ]),
                    ..Default::default()
                },
                LabelSelector {
                    match_labels: Some(BTreeMap::from([(
                        INJECT_LABEL.to_string(),
                        INJECT_ENABLED.to_string(),
                    )])),
                    ..Default::default()
                },
            ),
        ]),
    }
}

/// The Gateway API HTTPRoute CRD, from the `gateway-api` crate's types, labelled as ours.
pub fn httproute_crd() -> CustomResourceDefinition {
    use kube::CustomResourceExt as _;
    let mut crd = gateway_api::apis::standard::httproutes::HttpRoute::crd();
    let ours = meta("", None, "gateway-api");
    crd.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .extend(ours.labels.unwrap_or_default());
    let annotations = crd.metadata.annotations.get_or_insert_with(BTreeMap::new);
    annotations.extend(ours.annotations.unwrap_or_default());
    // The API server refuses CRDs in *.k8s.io groups without the link to their API review
    // (the one Gateway API's own CRDs carry).
    annotations.insert(
        "api-approved.kubernetes.io".into(),
        GATEWAY_API_APPROVAL.into(),
    );
    annotations.insert(
        "gateway.networking.k8s.io/channel".into(),
        "standard".into(),
    );
    crd
}

/// The API review of Gateway API, which its CRDs must name (group `*.k8s.io`).
pub const GATEWAY_API_APPROVAL: &str = "https://github.com/kubernetes-sigs/gateway-api/pull/3328";

/// The GroupVersionKind of the HTTPRoute CRD's served version.
pub fn httproute_gvk() -> GroupVersionKind {
    GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute")
}
