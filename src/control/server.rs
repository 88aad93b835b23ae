//! The control plane's gRPC services — Identity, Discovery, Admin — over any [`Backend`].

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use futures_util::Stream;
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use super::backend::{Backend, Workload, check_split};
use super::canary_routes::{self, CanaryRoute, CanaryRoutes};
use super::state_files::StateFileError;
use crate::api::proto::control as pb;
use crate::identity::ca::SigningCa;
use crate::identity::store::CaStore;
use crate::identity::{SpiffeId, pem};
use crate::policy::fault::{FaultSpec, LiveFault, now_unix_ms};
use crate::policy::mirror::{LiveMirror, MirrorSpec};
use crate::policy::split::SplitWeights;

/// Certificates one instance (one bootstrap token) may obtain in a burst — per instance, not
/// per identity: the replicas and versions of a service share its identity and start (or
/// renew during a rotation) together…
pub const CERT_BURST: f64 = 20.0;
/// …and the sustained rate after it (per second). Enough for aggressive leaf rotation tests,
/// far below what a stolen token could use to mint certificates in bulk.
pub const CERT_REFILL_PER_SEC: f64 = 1.0;

/// Longest single wait of the fault-expiry timer before it looks again.
const MAX_FAULT_WAIT: Duration = Duration::from_secs(3_600);

/// The control plane: cheap to clone, shared by the three services.
#[derive(Clone)]
pub struct ControlPlane {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("version", &*self.inner.version.borrow())
            .finish_non_exhaustive()
    }
}

struct Inner {
    backend: Arc<dyn Backend>,
    /// Replaced as a whole by `ReloadCa`; a Certify in flight keeps the one it started with.
    ca: Mutex<Arc<CaMaterial>>,
    /// Where `ReloadCa` reads the CA from (`None`: the CA is fixed for this process).
    ca_store: OnceLock<CaStore>,
    leaf_lifetime: Duration,
    splits: Mutex<BTreeMap<String, SplitWeights>>,
    /// Rollout header routes (`canary start --match-header`), per service.
    canary_routes: Mutex<CanaryRoutes>,
    version: watch::Sender<u64>,
    proxies: Mutex<HashMap<String, ProxyState>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Live faults by service (`meshctl fault inject`), persisted by the backend.
    faults: Mutex<BTreeMap<String, LiveFault>>,
    /// Wakes [`ControlPlane::expire_faults`] when the faults change.
    faults_changed: tokio::sync::Notify,
    /// Live mirrors by service (`meshctl canary mirror`), persisted by the backend. Each
    /// carries its expiry to the proxies, which stop mirroring on time by themselves.
    mirrors: Mutex<BTreeMap<String, LiveMirror>>,
}

#[derive(Debug, Default, Clone)]
struct ProxyState {
    streams: u32,
    acked: u64,
    last_error: String,
    leaf_serial: String,
    leaf_not_after: i64,
    certificate: Option<pb::CertificateReport>,
}

/// The CA the control plane signs with and the bundle it pushes, with their fingerprints.
struct CaMaterial {
    issuer: SigningCa,
    bundle_pem: String,
    issuer_fingerprint: String,
    bundle_fingerprints: Vec<String>,
}

impl CaMaterial {
    fn new(issuer: SigningCa, bundle_pem: String) -> Self {
        // Both were parsed already (SigningCa::from_pem, the store); an unparsable bundle
        // yields no fingerprints and is rejected by every proxy, never silently trusted.
        let issuer_fingerprint = pem::first_cert(&issuer.cert_pem)
            .map(|der| pem::fingerprint(&der))
            .unwrap_or_default();
        let bundle_fingerprints = pem::certs(&bundle_pem)
            .map(|ders| ders.iter().map(|d| pem::fingerprint(d)).collect())
            .unwrap_or_default();
        CaMaterial {
            issuer,
            bundle_pem,
            issuer_fingerprint,
            bundle_fingerprints,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl ControlPlane {
    pub fn new(
        backend: Arc<dyn Backend>,
        issuer: SigningCa,
        bundle_pem: String,
        leaf_lifetime: Duration,
    ) -> Result<Self, StateFileError> {
        // A bad state file stops the control plane (logged by its caller) rather than being
        // replaced by defaults: the next save would overwrite what the operator set.
        let splits = backend.load_splits()?;
        let now = now_unix_ms();
        let mut faults = backend.load_faults()?;
        faults.retain(|_, f| f.in_force(now));
        let canary_routes = backend.load_canary_routes()?;
        let mut mirrors = backend.load_mirrors()?;
        mirrors.retain(|_, m| m.in_force(now));
        // Versions start from the wall clock so they keep increasing across restarts: a
        // reconnecting proxy never sees a version lower than one it already applied.
        let start = pem::unix_seconds(SystemTime::now()).max(0) as u64 * 1_000;
        let (version, _) = watch::channel(start);
        Ok(ControlPlane {
            inner: Arc::new(Inner {
                backend,
                ca: Mutex::new(Arc::new(CaMaterial::new(issuer, bundle_pem))),
                ca_store: OnceLock::new(),
                leaf_lifetime,
                splits: Mutex::new(splits),
                canary_routes: Mutex::new(canary_routes),
                version,
                proxies: Mutex::new(HashMap::new()),
                buckets: Mutex::new(HashMap::new()),
                faults: Mutex::new(faults),
                faults_changed: tokio::sync::Notify::new(),
                mirrors: Mutex::new(mirrors),
            }),
        })
    }

    /// Lets `Admin.ReloadCa` re-read the issuer and bundle from `store` (the state dir stays
    /// the single source of truth; the CLI writes it, the control plane follows).
    /// Set once, at start-up; a second call keeps the first store.
    pub fn reloads_from(self, store: CaStore) -> Self {
        let _ = self.inner.ca_store.set(store);
        self
    }

    fn ca(&self) -> Arc<CaMaterial> {
        lock(&self.inner.ca).clone()
    }

    /// Signs with `issuer` and pushes `bundle_pem` from now on: every proxy gets a new
    /// configuration version carrying the bundle and the issuer's fingerprint (a proxy whose
    /// leaf is from another issuer renews at once). Returns that version. The cluster
    /// controller calls it when the issuer Secret changes; `Admin.ReloadCa` after re-reading
    /// the state dir.
    pub fn replace_ca(&self, issuer: SigningCa, bundle_pem: String) -> u64 {
        let ca = CaMaterial::new(issuer, bundle_pem);
        let (issuer, anchors) = (ca.issuer_fingerprint.clone(), ca.bundle_fingerprints.len());
        *lock(&self.inner.ca) = Arc::new(ca);
        let version = self.bump_version();
        tracing::info!(version, %issuer, anchors, "reloaded the CA");
        version
    }

    /// The certificate (and chain) of the issuer leaves are signed with now, PEM.
    pub fn issuer_pem(&self) -> String {
        self.ca().issuer.cert_pem.clone()
    }

    /// Announces that the backend's catalog changed: every proxy gets its configuration
    /// anew (those it does not affect receive the same content under a new version).
    pub fn catalog_changed(&self) -> u64 {
        self.bump_version()
    }

    /// The configuration version proxies are sent now.
    pub fn config_version(&self) -> u64 {
        *self.inner.version.borrow()
    }

    /// Every workload's proxy as the control plane sees it (connected, acknowledged version,
    /// last error, leaf) and the version proxies are sent now: what `Admin.Status` answers,
    /// and the cluster controller's `/status`.
    pub fn status_snapshot(&self) -> pb::StatusResponse {
        let proxies = lock(&self.inner.proxies);
        let list = self
            .inner
            .backend
            .workloads()
            .into_iter()
            .map(|w| {
                let st = proxies.get(&w.instance).cloned().unwrap_or_default();
                pb::ProxyStatus {
                    instance: w.instance.clone(),
                    spiffe_id: w.spiffe_id,
                    service: w.service,
                    instance_version: w.version.unwrap_or_default(),
                    connected: st.streams > 0,
                    acked_version: st.acked,
                    last_error: st.last_error,
                    leaf_serial: st.leaf_serial,
                    leaf_not_after_unix: st.leaf_not_after,
                    certificate: st.certificate,
                }
            })
            .collect();
        pb::StatusResponse {
            version: *self.inner.version.borrow(),
            proxies: list,
            server_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    fn bump_version(&self) -> u64 {
        let mut version = 0;
        self.inner.version.send_modify(|v| {
            *v += 1;
            version = *v;
        });
        version
    }

    async fn attest<T: Sync>(&self, req: &Request<T>) -> Result<Workload, Status> {
        let token = bearer(req)?;
        self.inner
            .backend
            .attest(token)
            .await
            .ok_or_else(|| Status::unauthenticated("unknown token"))
    }

    fn admin<T>(&self, req: &Request<T>) -> Result<(), Status> {
        let token = bearer(req)?;
        if self.inner.backend.is_admin(token) {
            Ok(())
        } else {
            Err(Status::permission_denied("admin token required"))
        }
    }

    /// Takes one certificate from `instance`'s bucket if it has one.
    fn take_cert_token(&self, instance: &str) -> bool {
        let mut buckets = lock(&self.inner.buckets);
        let now = Instant::now();
        let b = buckets.entry(instance.to_string()).or_insert(Bucket {
            tokens: CERT_BURST,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * CERT_REFILL_PER_SEC)
            .min(CERT_BURST);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn config_for(&self, who: &Workload, version: u64) -> pb::ProxyConfig {
        let splits = lock(&self.inner.splits);
        let mut config = self.inner.backend.proxy_config(who, &splits, version);
        drop(splits);
        let now = now_unix_ms();
        let faults = lock(&self.inner.faults);
        for u in &mut config.upstreams {
            let key = self.inner.backend.fault_key(who, &u.service);
            if let Some(live) = faults.get(&key).filter(|f| f.in_force(now)) {
                u.live_fault = Some(live.spec.to_pb(live.expires_unix_ms));
            }
        }
        drop(faults);
        let mirrors = lock(&self.inner.mirrors);
        for u in &mut config.upstreams {
            if let Some(live) = mirrors.get(&u.service).filter(|m| m.in_force(now)) {
                u.live_mirror = Some(live.spec.to_pb(live.expires_unix_ms));
            }
        }
        drop(mirrors);
        canary_routes::apply(&mut config, &lock(&self.inner.canary_routes));
        let ca = self.ca();
        config.trust_bundle_pem = ca.bundle_pem.clone();
        config.issuer_fingerprint = ca.issuer_fingerprint.clone();
        config
    }
}

impl ControlPlane {
    /// Drops each live fault at its expiry and pushes a config without it; runs until the
    /// process ends (spawn it on the control plane's runtime). Proxies stop injecting on
    /// time by themselves too (the fault carries its expiry): this keeps the control plane's
    /// view, `faults.json` and the proxies' acknowledged versions in step.
    pub async fn expire_faults(self) {
        loop {
            let changed = self.inner.faults_changed.notified();
            let now = now_unix_ms();
            let next = {
                let mut faults = lock(&self.inner.faults);
                let before = faults.len();
                faults.retain(|_, f| f.in_force(now));
                if faults.len() != before {
                    if let Err(e) = self.inner.backend.save_faults(&faults) {
                        tracing::warn!(error = %e, "persisting faults after an expiry");
                    }
                    drop(faults);
                    let version = self.bump_version();
                    tracing::info!(version, "live fault expired");
                    continue;
                }
                faults.values().filter_map(|f| f.expires_unix_ms).min()
            };
            match next {
                Some(at) => {
                    // Re-checked at least hourly: far expiries stay within the timer's range.
                    let wait = Duration::from_millis(at.saturating_sub(now)).min(MAX_FAULT_WAIT);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// Re-reads the live faults from the backend (whose store changed: on Kubernetes the
    /// `meshctl-faults` ConfigMaps) and wakes the expiry timer; whether they differ from
    /// those in force. The caller announces a new version.
    pub fn reload_faults(&self) -> Result<bool, StateFileError> {
        let mut next = self.inner.backend.load_faults()?;
        let now = now_unix_ms();
        next.retain(|_, f| f.in_force(now));
        let mut faults = lock(&self.inner.faults);
        if *faults == next {
            return Ok(false);
        }
        *faults = next;
        drop(faults);
        self.inner.faults_changed.notify_one();
        Ok(true)
    }

    /// Checks that `service` exists in the catalog.
    fn known_service(&self, service: &str) -> Result<(), Status> {
        if self.inner.backend.versions(service).is_empty() {
            return Err(Status::invalid_argument(format!(
                "unknown service `{service}`"
            )));
        }
        Ok(())
    }

    /// Checks that `service` exists and has requests to act on (not opaque TCP: `refused`
    /// says why then).
    fn requests_service(&self, service: &str, refused: &str) -> Result<(), Status> {
        self.known_service(service)?;
        if self.inner.backend.is_opaque_tcp(service) {
            return Err(Status::invalid_argument(format!(
                "service {service}: {refused}"
            )));
        }
        Ok(())
    }

    /// Applies `change` to a copy of the live faults; when it reports a change, persists the
    /// copy, installs it and announces a new version (`None`: nothing changed).
    fn update_faults(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, LiveFault>) -> bool,
    ) -> Result<Option<u64>, Status> {
        let mut faults = lock(&self.inner.faults);
        let mut next = faults.clone();
        if !change(&mut next) {
            return Ok(None);
        }
        self.inner
            .backend
            .save_faults(&next)
            .map_err(|e| Status::internal(format!("persisting faults: {e}")))?;
        *faults = next;
        drop(faults);
        self.inner.faults_changed.notify_one();
        Ok(Some(self.bump_version()))
    }
}

impl ControlPlane {
    /// Applies `change` to a copy of the live mirrors (expired ones dropped first); when it
    /// reports a change, persists the copy, installs it and announces a new version (`None`:
    /// nothing changed).
    fn update_mirrors(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, LiveMirror>) -> bool,
    ) -> Result<Option<u64>, Status> {
        let mut mirrors = lock(&self.inner.mirrors);
        let mut next = mirrors.clone();
        if !change(&mut next) {
            return Ok(None);
        }
        let now = now_unix_ms();
        next.retain(|_, m| m.in_force(now));
        self.inner
            .backend
            .save_mirrors(&next)
            .map_err(|e| Status::failed_precondition(format!("persisting mirrors: {e}")))?;
        *mirrors = next;
        drop(mirrors);
        Ok(Some(self.bump_version()))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them inconsistent (plain data).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn bearer<T>(req: &Request<T>) -> Result<&str, Status> {
    req.metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| Status::unauthenticated("missing bearer token"))
}

#[tonic::async_trait]
impl pb::identity_server::Identity for ControlPlane {
    async fn certify(
        &self,
        req: Request<pb::CertifyRequest>,
    ) -> Result<Response<pb::CertifyResponse>, Status> {
        let who = self.attest(&req).await?;
        let req = req.into_inner();
        // Empty: whatever the token attests (a proxy in a cluster does not know its ID).
        if !req.spiffe_id.is_empty() && req.spiffe_id != who.spiffe_id {
            tracing::warn!(instance = %who.instance, asked = %req.spiffe_id, "refused a CSR for another identity");
            return Err(Status::permission_denied(format!(
                "token attests {}, not {}",
                who.spiffe_id, req.spiffe_id
            )));
        }
        if !self.take_cert_token(&who.instance) {
            return Err(Status::resource_exhausted(format!(
                "certificate rate limit for {}",
                who.spiffe_id
            )));
        }
        let id: SpiffeId = who
            .spiffe_id
            .parse()
            .map_err(|e| Status::internal(format!("{e}")))?;
        let ca = self.ca();
        let leaf = ca
            .issuer
            .sign_csr(&id, &req.csr_pem, self.inner.leaf_lifetime)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        if let Ok(der) = pem::first_cert(&leaf)
            && let Ok(parsed) = pem::parse(&der)
        {
            let mut proxies = lock(&self.inner.proxies);
            let st = proxies.entry(who.instance.clone()).or_default();
            st.leaf_serial = pem::hex_serial(parsed.raw_serial());
            st.leaf_not_after = parsed.validity().not_after.timestamp();
        }
        tracing::info!(instance = %who.instance, id = %who.spiffe_id, "issued leaf");
        Ok(Response::new(pb::CertifyResponse {
            certificate_chain_pem: format!("{leaf}{}", ca.issuer.cert_pem),
            trust_bundle_pem: ca.bundle_pem.clone(),
        }))
    }
}

type ConfigStream = Pin<Box<dyn Stream<Item = Result<pb::ProxyConfig, Status>> + Send>>;

/// Marks a proxy connected while its watch stream lives.
struct Connected {
    plane: ControlPlane,
    instance: String,
}

impl Drop for Connected {
    fn drop(&mut self) {
        let mut proxies = lock(&self.plane.inner.proxies);
        if let Some(st) = proxies.get_mut(&self.instance) {
            st.streams = st.streams.saturating_sub(1);
        }
    }
}

#[tonic::async_trait]
impl pb::discovery_server::Discovery for ControlPlane {
    type WatchStream = ConfigStream;

    async fn watch(
        &self,
        req: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let who = self.attest(&req).await?;
        lock(&self.inner.proxies)
            .entry(who.instance.clone())
            .or_default()
            .streams += 1;
        let guard = Connected {
            plane: self.clone(),
            instance: who.instance.clone(),
        };
        let rx = self.inner.version.subscribe();
        let plane = self.clone();
        let stream =
            futures_util::stream::unfold((rx, true, guard), move |(mut rx, first, guard)| {
                let plane = plane.clone();
                let who = who.clone();
                async move {
                    if !first && rx.changed().await.is_err() {
                        return None;
                    }
                    let version = *rx.borrow_and_update();
                    Some((Ok(plane.config_for(&who, version)), (rx, false, guard)))
                }
            });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn ack(&self, req: Request<pb::AckRequest>) -> Result<Response<pb::AckResponse>, Status> {
        let who = self.attest(&req).await?;
        let ack = req.into_inner();
        let mut proxies = lock(&self.inner.proxies);
        let st = proxies.entry(who.instance.clone()).or_default();
        if ack.accepted {
            st.acked = st.acked.max(ack.version);
            st.last_error.clear();
        } else {
            tracing::warn!(instance = %who.instance, version = ack.version, error = %ack.error, "proxy rejected config");
            st.last_error = ack.error;
        }
        Ok(Response::new(pb::AckResponse {}))
    }

    async fn report_certificate(
        &self,
        req: Request<pb::CertificateReport>,
    ) -> Result<Response<pb::AckResponse>, Status> {
        let who = self.attest(&req).await?;
        let report = req.into_inner();
        tracing::debug!(instance = %who.instance, serial = %report.leaf_serial, "certificate report");
        lock(&self.inner.proxies)
            .entry(who.instance)
            .or_default()
            .certificate = Some(report);
        Ok(Response::new(pb::AckResponse {}))
    }
}

#[tonic::async_trait]
impl pb::admin_server::Admin for ControlPlane {
    async fn status(
        &self,
        req: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        self.admin(&req)?;
        Ok(Response::new(self.status_snapshot()))
    }

    async fn set_split(
        &self,
        req: Request<pb::SetSplitRequest>,
    ) -> Result<Response<pb::SetSplitResponse>, Status> {
        self.admin(&req)?;
        let req = req.into_inner();
        let weights = SplitWeights(req.weights.into_iter().collect());
        check_split(self.inner.backend.as_ref(), &req.service, &weights)
            .map_err(|e| Status::invalid_argument(format!("service {}: {e}", req.service)))?;
        let mut splits = lock(&self.inner.splits);
        let mut next = splits.clone();
        next.insert(req.service.clone(), weights);
        self.inner
            .backend
            .save_splits(&next)
            .map_err(|e| Status::internal(format!("persisting splits: {e}")))?;
        *splits = next;
        drop(splits);
        let version = self.bump_version();
        tracing::info!(service = %req.service, version, "split updated");
        Ok(Response::new(pb::SetSplitResponse { version }))
    }

    async fn reload_ca(
        &self,
        req: Request<pb::ReloadCaRequest>,
    ) -> Result<Response<pb::ReloadCaResponse>, Status> {
        self.admin(&req)?;
        let store = self.inner.ca_store.get().ok_or_else(|| {
            Status::failed_precondition("this control plane has no CA directory to reload from")
        })?;
        let load = || -> Result<(SigningCa, String), crate::identity::IdentityError> {
            Ok((store.issuer()?, store.bundle_pem()?))
        };
        let (issuer, bundle) =
            load().map_err(|e| Status::failed_precondition(format!("reloading the CA: {e}")))?;
        let version = self.replace_ca(issuer, bundle);
        let ca = self.ca();
        Ok(Response::new(pb::ReloadCaResponse {
            version,
            issuer_fingerprint: ca.issuer_fingerprint.clone(),
            bundle_fingerprints: ca.bundle_fingerprints.clone(),
        }))
    }

    async fn set_canary_route(
        &self,
        req: Request<pb::CanaryRouteRequest>,
    ) -> Result<Response<pb::CanaryRouteResponse>, Status> {
        self.admin(&req)?;
        let req = req.into_inner();
        let header = req.header.unwrap_or_default();
        let route = CanaryRoute {
            version: req.version,
            header: header.name.to_ascii_lowercase(),
            value: header.value,
        };
        route
            .validate(&req.service, &self.inner.backend.versions(&req.service))
            .map_err(|e| Status::invalid_argument(format!("service {}: {e}", req.service)))?;
        let version = self.change_canary_routes(|routes| {
            routes.insert(req.service.clone(), route);
        })?;
        tracing::info!(service = %req.service, version, "canary route set");
        Ok(Response::new(pb::CanaryRouteResponse { version }))
    }

    async fn clear_canary_route(
        &self,
        req: Request<pb::CanaryClearRequest>,
    ) -> Result<Response<pb::CanaryRouteResponse>, Status> {
        self.admin(&req)?;
        let service = req.into_inner().service;
        let version = self.change_canary_routes(|routes| {
            routes.remove(&service);
        })?;
        tracing::info!(%service, version, "canary route cleared");
        Ok(Response::new(pb::CanaryRouteResponse { version }))
    }

    async fn set_fault(
        &self,
        req: Request<pb::FaultSetRequest>,
    ) -> Result<Response<pb::FaultSetResponse>, Status> {
        self.admin(&req)?;
        let req = req.into_inner();
        self.requests_service(&req.service, crate::policy::fault::TCP_FAULT_REFUSED)?;
        let spec = req
            .fault
            .as_ref()
            .ok_or(crate::policy::fault::FaultError::Empty)
            .and_then(FaultSpec::from_pb)
            .map_err(|e| Status::invalid_argument(format!("service {}: {e}", req.service)))?;
        let now = now_unix_ms();
        let live = LiveFault {
            spec,
            set_unix_ms: now,
            expires_unix_ms: (req.for_ms > 0).then(|| now.saturating_add(req.for_ms)),
        };
        let version = self
            .update_faults(|faults| {
                faults.insert(req.service.clone(), live);
                true
            })?
            .unwrap_or_default();
        tracing::info!(service = %req.service, version, expires = ?live.expires_unix_ms, "live fault set");
        Ok(Response::new(pb::FaultSetResponse {
            version,
            expires_unix_ms: live.expires_unix_ms.unwrap_or(0),
        }))
    }

    async fn clear_fault(
        &self,
        req: Request<pb::FaultClearRequest>,
    ) -> Result<Response<pb::FaultClearResponse>, Status> {
        self.admin(&req)?;
        let req = req.into_inner();
        self.known_service(&req.service)?;
        let Some(version) = self.update_faults(|faults| faults.remove(&req.service).is_some())?
        else {
            return Ok(Response::new(pb::FaultClearResponse {
                version: *self.inner.version.borrow(),
                cleared: false,
            }));
        };
        tracing::info!(service = %req.service, version, "live fault cleared");
        Ok(Response::new(pb::FaultClearResponse {
            version,
            cleared: true,
        }))
    }

    async fn set_mirror(
        &self,
        req: Request<pb::MirrorSetRequest>,
    ) -> Result<Response<pb::MirrorSetResponse>, Status> {
        self.admin(&req)?;
        let req = req.into_inner();
        self.requests_service(&req.service, crate::policy::mirror::TCP_MIRROR_REFUSED)?;
        let versions = self.inner.backend.versions(&req.service);
        let spec = req
            .mirror
            .as_ref()
            .ok_or(crate::policy::mirror::MirrorError::NoVersion)
            .and_then(MirrorSpec::from_pb)
            .and_then(|spec| spec.check_version(&req.service, &versions).map(|()| spec))
            .map_err(|e| Status::invalid_argument(format!("service {}: {e}", req.service)))?;
        let now = now_unix_ms();
        let live = LiveMirror {
            spec,
            set_unix_ms: now,
            expires_unix_ms: (req.for_ms > 0).then(|| now.saturating_add(req.for_ms)),
        };
        let expires = live.expires_unix_ms;
        let version = self.update_mirrors(|mirrors| {
            mirrors.insert(req.service.clone(), live);
            true
        })?;
        tracing::info!(service = %req.service, version, expires = ?expires, "live mirror set");
        Ok(Response::new(pb::MirrorSetResponse {
            version: version.unwrap_or_default(),
            expires_unix_ms: expires.unwrap_or(0),
        }))
    }

    async fn clear_mirror(
        &self,
        req: Request<pb::MirrorClearRequest>,
    ) -> Result<Response<pb::MirrorClearResponse>, Status> {
        self.admin(&req)?;
        let req = req.into_inner();
        self.known_service(&req.service)?;
        let now = now_unix_ms();
        // One that expired on its own is gone already as far as the proxies are concerned.
        let cleared = self.update_mirrors(|mirrors| {
            mirrors
                .remove(&req.service)
                .is_some_and(|m| m.in_force(now))
        })?;
        let Some(version) = cleared else {
            return Ok(Response::new(pb::MirrorClearResponse {
                version: *self.inner.version.borrow(),
                cleared: false,
            }));
        };
        tracing::info!(service = %req.service, version, "live mirror cleared");
        Ok(Response::new(pb::MirrorClearResponse {
            version,
            cleared: true,
        }))
    }

    async fn list_faults(
        &self,
        req: Request<pb::FaultListRequest>,
    ) -> Result<Response<pb::FaultListResponse>, Status> {
        self.admin(&req)?;
        let now = now_unix_ms();
        let faults = lock(&self.inner.faults)
            .iter()
            .filter(|(_, f)| f.in_force(now))
            .map(|(service, f)| pb::FaultLive {
                service: service.clone(),
                fault: Some(f.spec.to_pb(f.expires_unix_ms)),
                set_unix_ms: f.set_unix_ms,
            })
            .collect();
        Ok(Response::new(pb::FaultListResponse { faults }))
    }
}

impl ControlPlane {
    /// Applies `change` to the canary routes, persists them, then announces a new version.
    fn change_canary_routes(&self, change: impl FnOnce(&mut CanaryRoutes)) -> Result<u64, Status> {
        let mut routes = lock(&self.inner.canary_routes);
        let mut next = routes.clone();
        change(&mut next);
        self.inner
            .backend
            .save_canary_routes(&next)
            .map_err(|e| Status::internal(format!("persisting canary routes: {e}")))?;
        *routes = next;
        drop(routes);
        Ok(self.bump_version())
    }
}
