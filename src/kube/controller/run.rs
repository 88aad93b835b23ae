//! `meshctl controller --kube`: the control plane in (or out of) a cluster. Watches start,
//! the control-plane core serves proxies over TCP + TLS with a serving certificate from the
//! mesh issuer, the admission webhook injects sidecars, the admin listener answers probes
//! and Prometheus, and every meshed namespace gets the trust-bundle ConfigMap its sidecars
//! mount. Several replicas may run at once (`install --ha`): each serves any proxy from its
//! own watches, and what they write (server-side applied ConfigMaps, Events) is idempotent.

use std::collections::{BTreeSet, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, anyhow};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ObjectReference};
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

use super::super::identity::Material;
use super::super::inject::InjectOptions;
use super::super::{
    CONTROLLER_NAME, FIELD_MANAGER, INJECT_ENABLED, INJECT_LABEL, TRUST_BUNDLE_CONFIGMAP,
    TRUST_BUNDLE_KEY,
};
use super::catalog::Problem;
use super::issuer::{self, IssuerState};
use super::review::Reviewer;
use super::{KubeBackend, proxies, serve, tap, watch};
use crate::api::admin_http::{AdminClient, AdminClientOptions};
use crate::control::server::ControlPlane;
use crate::control::transport::{ServingCert, serve_tls};
use crate::identity::ca::SigningCa;

/// How long the controller's own serving certificate is valid; it is renewed after two
/// thirds of that.
pub const SERVING_CERT_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// What the controller needs (its flags).
#[derive(Debug, Clone)]
pub struct Options {
    pub trust_domain: String,
    /// tls.crt (issuer, then any intermediates), tls.key, ca.crt (the trust bundle).
    pub issuer_dir: PathBuf,
    /// The controller's own namespace (its Service name is in the serving certificate).
    pub namespace: String,
    pub grpc: SocketAddr,
    pub webhook: SocketAddr,
    pub admin: SocketAddr,
    /// More names (DNS or IP) for the serving certificate, e.g. an address out of cluster.
    pub extra_names: Vec<String>,
    pub leaf_lifetime: Duration,
    /// The sidecar image the webhook injects.
    pub image: String,
}

/// A signing handle on the issuer in `m` (each user gets its own: a handle is not shared).
fn signing(m: &Material) -> anyhow::Result<SigningCa> {
    SigningCa::from_pem(&m.issuer_cert_pem, &m.issuer_key_pem).context("the mesh issuer")
}

/// The names the serving certificate carries: the controller Service's in-cluster names,
/// then the extra ones (IP addresses recognised as such).
pub fn serving_names(namespace: &str, extra: &[String]) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns = vec![
        CONTROLLER_NAME.to_string(),
        format!("{CONTROLLER_NAME}.{namespace}"),
        format!("{CONTROLLER_NAME}.{namespace}.svc"),
        format!("{CONTROLLER_NAME}.{namespace}.svc.cluster.local"),
    ];
    let mut ips = Vec::new();
    for name in extra {
        match name.parse::<IpAddr>() {
            Ok(ip) => ips.push(ip),
            Err(_) => dns.push(name.clone()),
        }
    }
    (dns, ips)
}

fn issue_serving(
    issuer: &SigningCa,
    namespace: &str,
    extra: &[String],
) -> anyhow::Result<(String, String)> {
    let (dns, ips) = serving_names(namespace, extra);
    // Never beyond the issuer: a shorter certificate when it expires sooner.
    let left = issuer
        .not_after()
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(Duration::from_secs(60));
    let lifetime = SERVING_CERT_LIFETIME.min(left);
    let cert = issuer
        .issue_serving_cert(&dns, &ips, lifetime)
        .context("issuing the controller's serving certificate")?;
    Ok((cert.cert_pem, cert.key_pem))
}

/// Runs until `shutdown` resolves.
pub async fn run(
    client: Client,
    opts: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let material = issuer::load_dir(&opts.issuer_dir, &opts.trust_domain)
        .with_context(|| format!("the issuer in {}", opts.issuer_dir.display()))?;
    let issuer = signing(&material)?;
    let (chain, key) = issue_serving(&issuer, &opts.namespace, &opts.extra_names)?;
    let serving = ServingCert::new(&chain, &key).context("the serving certificate")?;
    // Bind first: a port in use is an error now, not after the caches fill.
    let bind = |addr: SocketAddr, what: &'static str| async move {
        TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the {what} listener on {addr}"))
    };
    let grpc = bind(opts.grpc, "gRPC").await?;
    let webhook = bind(opts.webhook, "webhook").await?;
    let admin = bind(opts.admin, "admin").await?;
    tracing::info!(
        grpc = %grpc.local_addr().unwrap_or(opts.grpc),
        webhook = %webhook.local_addr().unwrap_or(opts.webhook),
        admin = %admin.local_addr().unwrap_or(opts.admin),
        "controller listening"
    );

    let changed = Arc::new(Notify::new());
    let stores = watch::start(&client, changed.clone()).await;
    let namespaces = watch::reflect(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default().labels(&format!("{INJECT_LABEL}={INJECT_ENABLED}")),
        changed.clone(),
    );
    let backend = Arc::new(KubeBackend::new(
        &opts.trust_domain,
        stores.clone(),
        Reviewer::new(client.clone()),
    ));
    let plane = ControlPlane::new(
        backend.clone(),
        issuer,
        material.bundle_pem.clone(),
        opts.leaf_lifetime,
    )
    .map_err(|e| anyhow!("{e}"))?;
    let tapping = Arc::new(Mutex::new(Arc::new(tap_authority(&opts, &material)?)));
    let issuer_state = IssuerState::new(material);
    let ready = Arc::new(AtomicBool::new(false));

    // Admin first: probes see "not ready" while the caches fill.
    let metrics = {
        let backend = backend.clone();
        let plane = plane.clone();
        move || render_metrics(&backend, &plane)
    };
    let status = {
        let backend = backend.clone();
        let plane = plane.clone();
        let issuer_state = issuer_state.clone();
        move || render_status(&backend, &plane, &issuer_state)
    };
    let admin_ready = ready.clone();
    let sidecars = AdminClient::new(AdminClientOptions {
        timeout: proxies::PROXY_TIMEOUT,
        ..AdminClientOptions::default()
    })
    .context("the client for the sidecars' admin listeners")?;
    let stats_backend = backend.clone();
    tokio::spawn(keep_tap_token(client.clone(), opts.namespace.clone()));
    let tap_client = client.clone();
    let tapping_for_issuers = tapping.clone();
    let tap_namespace = opts.namespace.clone();
    tokio::spawn(serve::serve(admin, None, move |req| {
        use futures_util::FutureExt as _;
        let ready = admin_ready.load(Relaxed);
        match (req.method() == http::Method::GET, req.uri().path()) {
            (true, "/stats") => {
                let query = req.uri().query().map(str::to_string);
                let index = stats_backend.index();
                let client = sidecars.clone();
                async move {
                    serve::stats(query.as_deref(), ready, index, &client, proxies::ADMIN_PORT).await
                }
                .boxed()
            }
            (true, "/tap") => {
                let index = stats_backend.index();
                // A poisoned lock still holds a usable authority.
                let authority = tapping
                    .lock()
                    .map_or_else(|p| p.into_inner().clone(), |a| a.clone());
                let client = tap_client.clone();
                let namespace = tap_namespace.clone();
                async move {
                    let token = tap::read_token(&client, &namespace).await;
                    serve::tap(&req, ready, index, token, &authority, tap::TAP_PORT).await
                }
                .boxed()
            }
            _ => {
                let response = serve::admin(&req, &admin_ready, metrics.clone(), status.clone());
                std::future::ready(response).boxed()
            }
        }
    }));

    let (bundle_tx, bundle_rx) = mpsc::unbounded_channel::<String>();
    tokio::spawn(distribute_bundle(
        client.clone(),
        issuer_state.subscribe(),
        bundle_rx,
    ));
    // The issuer Secret, followed live; each new issuer goes to the core (new leaves and
    // bundle for every proxy), the tap identity and the serving certificate.
    tokio::spawn(issuer::follow(
        client.clone(),
        opts.namespace.clone(),
        issuer_state.clone(),
    ));
    tokio::spawn(apply_issuers(
        issuer_state.subscribe(),
        plane.clone(),
        tapping_for_issuers,
        opts.clone(),
    ));
    stores.ready().await;
    let _ = namespaces.wait_until_ready().await;
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: CONTROLLER_NAME.to_string(),
            instance: std::env::var("MESHCTL_POD_NAME").ok(),
        },
    );
    refresh(&backend, &plane, &recorder, &namespaces, &bundle_tx).await;
    tokio::spawn({
        let backend = backend.clone();
        let plane = plane.clone();
        let bundle_tx = bundle_tx.clone();
        async move {
            loop {
                changed.notified().await;
                tokio::time::sleep(watch::COALESCE).await;
                refresh(&backend, &plane, &recorder, &namespaces, &bundle_tx).await;
            }
        }
    });

    let inject = Arc::new(InjectOptions {
        image: opts.image.clone(),
        control_plane_namespace: opts.namespace.clone(),
    });
    let webhook_tls = serving
        .server_config(&[b"http/1.1"])
        .context("the webhook's TLS configuration")?;
    tokio::spawn(serve::serve(
        webhook,
        Some(tokio_rustls::TlsAcceptor::from(webhook_tls)),
        move |req| {
            let inject = inject.clone();
            let bundle_tx = bundle_tx.clone();
            async move {
                serve::webhook(req, inject, |ns| {
                    let _ = bundle_tx.send(ns.to_string());
                })
                .await
            }
        },
    ));
    tokio::spawn(renew_serving(
        serving.clone(),
        issuer_state.subscribe(),
        opts.namespace.clone(),
        opts.extra_names.clone(),
    ));
    tokio::spawn(plane.clone().expire_faults());
    ready.store(true, Relaxed);
    tracing::info!(pods = backend.index().pods.len(), "control plane serving");
    serve_tls(plane, grpc, serving, shutdown)
        .await
        .context("serving the control plane")
}

/// How the controller taps sidecars: its own handle on the issuer (leaves for its own
/// identity), with the issuer's chain and the trust bundle.
fn tap_authority(opts: &Options, m: &Material) -> anyhow::Result<tap::TapAuthority> {
    tap::TapAuthority::new(
        signing(m)?,
        m.issuer_cert_pem.clone(),
        &m.bundle_pem,
        &opts.trust_domain,
        &opts.namespace,
    )
    .context("the controller's tap identity")
}

/// Puts every new issuer in force: the core signs leaves with it and pushes its bundle (each
/// proxy renews at once), and the tap identity follows. (The serving certificate is renewed
/// by [`renew_serving`], the bundle ConfigMaps by [`distribute_bundle`].)
async fn apply_issuers(
    mut issuers: tokio::sync::watch::Receiver<Arc<Material>>,
    plane: ControlPlane,
    tapping: Arc<Mutex<Arc<tap::TapAuthority>>>,
    opts: Options,
) {
    while issuers.changed().await.is_ok() {
        let m = issuers.borrow_and_update().clone();
        let applied = signing(&m).and_then(|issuer| {
            let tap = tap_authority(&opts, &m)?;
            plane.replace_ca(issuer, m.bundle_pem.clone());
            if let Ok(mut slot) = tapping.lock() {
                *slot = Arc::new(tap);
            }
            Ok(())
        });
        if let Err(e) = applied {
            // Checked before it was offered; a failure here means the checks missed a case.
            tracing::error!(error = %format!("{e:#}"), "putting the new issuer in force");
        }
    }
}

/// Makes sure the tap token Secret exists, retrying until it does (the rest of the
/// controller works without it; `/tap` answers 503 naming it meanwhile).
async fn keep_tap_token(client: Client, namespace: String) {
    loop {
        match tap::ensure_token(&client, &namespace).await {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = %e, "the tap token Secret; retrying in 30s"),
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

/// Rebuilds the catalog, reports what could not be used, announces a new version and makes
/// sure every meshed namespace has the trust bundle.
async fn refresh(
    backend: &KubeBackend,
    plane: &ControlPlane,
    recorder: &Recorder,
    namespaces: &kube::runtime::reflector::Store<Namespace>,
    bundle_tx: &mpsc::UnboundedSender<String>,
) {
    let problems = backend.refresh();
    // The live faults come from the backend's ConfigMaps: the core re-reads them (and its
    // expiry timer follows) before the new version goes out.
    if let Err(e) = plane.reload_faults() {
        tracing::warn!(error = %e, "reading the live faults");
    }
    let version = plane.catalog_changed();
    backend.announced(version);
    tracing::debug!(version, "catalog changed");
    let index = backend.index();
    let wanted: BTreeSet<String> = index
        .pods
        .values()
        .map(|p| p.namespace.clone())
        .chain(
            namespaces
                .state()
                .iter()
                .filter_map(|n| n.metadata.name.clone()),
        )
        .collect();
    for ns in wanted {
        let _ = bundle_tx.send(ns);
    }
    for problem in problems {
        report(recorder, &problem).await;
    }
}

/// Logs a problem and records it as a Warning Event on its object.
async fn report(recorder: &Recorder, problem: &Problem) {
    tracing::warn!(
        kind = problem.kind,
        namespace = %problem.namespace,
        name = %problem.name,
        reason = problem.reason,
        "{}",
        problem.message
    );
    let api_version = match problem.kind {
        "HTTPRoute" => "gateway.networking.k8s.io/v1",
        _ => "v1",
    };
    let reference = ObjectReference {
        api_version: Some(api_version.to_string()),
        kind: Some(problem.kind.to_string()),
        namespace: Some(problem.namespace.clone()),
        name: Some(problem.name.clone()),
        ..Default::default()
    };
    // The note field holds at most 1 kB.
    let mut note = problem.message.clone();
    if note.len() > 1000 {
        let mut end = 1000;
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        note.truncate(end);
    }
    let event = Event {
        type_: EventType::Warning,
        reason: problem.reason.to_string(),
        note: Some(note),
        action: "Validate".to_string(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &reference).await {
        tracing::warn!(error = %e, "recording an Event");
    }
}

/// Server-side applies the trust-bundle ConfigMap in each namespace named on `rx` (once per
/// namespace and bundle; a failure is retried at the next mention), and in every namespace
/// seen so far again when the bundle changes.
async fn distribute_bundle(
    client: Client,
    mut issuers: tokio::sync::watch::Receiver<Arc<Material>>,
    mut rx: mpsc::UnboundedReceiver<String>,
) {
    let mut bundle = issuers.borrow_and_update().bundle_pem.clone();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut done: HashSet<String> = HashSet::new();
    loop {
        let wanted: Vec<String> = tokio::select! {
            ns = rx.recv() => match ns {
                Some(ns) => {
                    seen.insert(ns.clone());
                    vec![ns]
                }
                None => return,
            },
            changed = issuers.changed() => {
                if changed.is_err() {
                    return;
                }
                let next = issuers.borrow_and_update().bundle_pem.clone();
                if next == bundle {
                    continue;
                }
                bundle = next;
                done.clear();
                seen.iter().cloned().collect()
            }
        };
        for ns in wanted {
            if done.contains(&ns) {
                continue;
            }
            match publish_bundle(&client, &ns, &bundle).await {
                Ok(()) => {
                    tracing::info!(namespace = %ns, "trust bundle published");
                    done.insert(ns);
                }
                Err(e) => {
                    tracing::warn!(namespace = %ns, error = %e, "publishing the trust bundle")
                }
            }
        }
    }
}

async fn publish_bundle(client: &Client, ns: &str, bundle: &str) -> Result<(), kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let map = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": TRUST_BUNDLE_CONFIGMAP,
            "namespace": ns,
            "labels": {super::super::PART_OF_LABEL: super::super::PART_OF},
        },
        "data": {TRUST_BUNDLE_KEY: bundle},
    });
    api.patch(
        TRUST_BUNDLE_CONFIGMAP,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&map),
    )
    .await
    .map(|_| ())
}

/// Renews the serving certificate after two thirds of its lifetime, and at once from a new
/// issuer.
async fn renew_serving(
    serving: ServingCert,
    mut issuers: tokio::sync::watch::Receiver<Arc<Material>>,
    namespace: String,
    extra: Vec<String>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(SERVING_CERT_LIFETIME * 2 / 3) => {}
            changed = issuers.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        let m = issuers.borrow_and_update().clone();
        match signing(&m)
            .and_then(|issuer| issue_serving(&issuer, &namespace, &extra))
            .and_then(|(chain, key)| serving.replace(&chain, &key).map_err(anyhow::Error::from))
        {
            Ok(()) => tracing::info!("renewed the serving certificate"),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "renewing the serving certificate"),
        }
    }
}

/// `/status`: the proxies as the control-plane core sees them, with the catalog last
/// announced (JSON).
fn render_status(backend: &KubeBackend, plane: &ControlPlane, issuer: &IssuerState) -> String {
    let announced = backend.last_announced();
    let mut doc = super::status::build(
        plane.status_snapshot(),
        announced.as_ref().map(|(v, index)| (*v, index.as_ref())),
        backend.last_announced_faults(),
        &plane.issuer_pem(),
    );
    doc.issuer_error = issuer.error();
    serde_json::to_string(&doc).unwrap_or_default()
}

/// The controller's metrics in the Prometheus text format.
fn render_metrics(backend: &KubeBackend, plane: &ControlPlane) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let index = backend.index();
    let _ = writeln!(
        out,
        "# HELP meshctl_controller_config_version The configuration version proxies are sent.\n\
         # TYPE meshctl_controller_config_version gauge\n\
         meshctl_controller_config_version {}",
        plane.config_version()
    );
    let _ = writeln!(
        out,
        "# HELP meshctl_controller_meshed_pods Meshed pods in the catalog.\n\
         # TYPE meshctl_controller_meshed_pods gauge\n\
         meshctl_controller_meshed_pods {}",
        index.pods.len()
    );
    let _ = writeln!(
        out,
        "# HELP meshctl_controller_policy_errors Services whose policy is refused (the last valid one stays in force).\n\
         # TYPE meshctl_controller_policy_errors gauge\n\
         meshctl_controller_policy_errors {}",
        backend.policy_errors().len()
    );
    let _ = writeln!(
        out,
        "# HELP meshctl_controller_attestations_refused_total Proxy credentials refused, by reason.\n\
         # TYPE meshctl_controller_attestations_refused_total counter"
    );
    for (reason, n) in backend.refusals() {
        let _ = writeln!(
            out,
            "meshctl_controller_attestations_refused_total{{reason=\"{reason}\"}} {n}"
        );
    }
    out
}
