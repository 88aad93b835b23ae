//! The proxy's side of the control plane: get a certificate for its own key, renew it, and
//! follow the config watch stream (acknowledging each version) — reconnecting with backoff.
//! Over either transport (a Unix socket, or https in a cluster), with a token fixed at start
//! or re-read from its file for every call (a projected service-account token the kubelet
//! rewrites), asking for a known identity or adopting the one the control plane assigns.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use tonic::transport::Channel;

use crate::api::proto::control as pb;
use crate::api::transport::{ControlPlaneAddr, authed};
use crate::identity::{SpiffeId, TrustBundle, WorkloadIdentity, ca};

/// Renew when this fraction of the remaining lifetime has passed.
pub const RENEW_AT_FRACTION: f64 = 0.7;
/// Never wait less than this before renewing (a very short leaf must not spin).
pub const RENEW_FLOOR: Duration = Duration::from_secs(10);
/// Renewal times are spread by ± this fraction so proxies do not renew in lockstep.
pub const RENEW_JITTER: f64 = 0.1;
/// Reconnect backoff: first delay, cap.
pub const BACKOFF_START: Duration = Duration::from_millis(100);
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How often a configuration refused for a cause that may pass ([`Refused::retry`]) is
/// applied again while no newer one arrives.
pub const RETRY_REFUSED: Duration = Duration::from_secs(1);

/// Why a proxy refused a configuration (acknowledged as not accepted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub message: String,
    /// The cause may pass — a port another process holds right now — so the same
    /// configuration is applied again every [`RETRY_REFUSED`] (and acknowledged once it is
    /// accepted). An invalid configuration is never retried.
    pub retry: bool,
}

impl From<String> for Refused {
    /// A refusal that retrying cannot fix.
    fn from(message: String) -> Self {
        Refused {
            message,
            retry: false,
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("control plane refused: {0}")]
    Refused(String),
    #[error("control plane unreachable: {0}")]
    Unreachable(String),
    #[error("the issued certificate failed verification: {0}")]
    BadCertificate(String),
    #[error("bootstrap token {0}")]
    Token(String),
}

impl From<tonic::Status> for AgentError {
    fn from(s: tonic::Status) -> Self {
        match s.code() {
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled => {
                AgentError::Unreachable(s.message().to_string())
            }
            _ => AgentError::Refused(format!("{:?}: {}", s.code(), s.message())),
        }
    }
}

/// Where a proxy's bearer token comes from.
#[derive(Clone)]
pub enum TokenSource {
    /// Read once at start (local mode: `meshctl up` writes it once).
    Fixed(Arc<str>),
    /// Read anew for every call (cluster mode: the kubelet rewrites a projected
    /// service-account token about hourly). A missing or empty file fails that call, to be
    /// retried like an unreachable control plane; each new problem is logged once.
    File(Arc<TokenFile>),
}

impl std::fmt::Debug for TokenSource {
    // The token is a credential: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Fixed(_) => f.write_str("Fixed(<redacted>)"),
            TokenSource::File(file) => write!(f, "File({})", file.path.display()),
        }
    }
}

impl TokenSource {
    /// A token read from `path` at every call.
    pub fn file(path: PathBuf) -> Self {
        TokenSource::File(Arc::new(TokenFile {
            path,
            seen: Mutex::new(TokenSeen::default()),
        }))
    }

    /// The token to present now.
    pub fn current(&self) -> Result<Arc<str>, AgentError> {
        match self {
            TokenSource::Fixed(token) => Ok(token.clone()),
            TokenSource::File(file) => file.read(),
        }
    }
}

/// A token file and what was last seen in it (for logging changes once).
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
    seen: Mutex<TokenSeen>,
}

#[derive(Debug, Default)]
struct TokenSeen {
    /// SHA-256 of the last token read (never the token itself).
    hash: Option<String>,
    /// The problem last logged, until the file is good again.
    problem: Option<String>,
}

impl TokenFile {
    fn read(&self) -> Result<Arc<str>, AgentError> {
        let result = match std::fs::read_to_string(&self.path) {
            Ok(text) if text.trim().is_empty() => Err("is empty".to_string()),
            Ok(text) => Ok(text.trim().to_string()),
            Err(e) => Err(e.to_string()),
        };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(token) => {
                let hash = crate::api::token::token_hash(&token);
                if seen.problem.take().is_some() {
                    tracing::info!(file = %self.path.display(), "bootstrap token file readable again");
                }
                if seen.hash.as_ref().is_some_and(|h| *h != hash) {
                    tracing::info!(file = %self.path.display(), "bootstrap token file changed; using the new token");
                }
                seen.hash = Some(hash);
                Ok(Arc::from(token))
            }
            Err(problem) => {
                let problem = format!("{}: {problem}", self.path.display());
                if seen.problem.as_ref() != Some(&problem) {
                    tracing::warn!(error = %problem, "cannot read the bootstrap token; retrying");
                    seen.problem = Some(problem.clone());
                }
                Err(AgentError::Token(problem))
            }
        }
    }
}

/// A connection to the control plane on behalf of one proxy.
#[derive(Clone)]
pub struct Agent {
    channel: Channel,
    token: TokenSource,
    /// The identity asked for: known from the start (local mode), or adopted from the first
    /// leaf the control plane issues (cluster mode), then asked for at every renewal.
    id: Arc<Mutex<Option<SpiffeId>>>,
}

impl std::fmt::Debug for Agent {
    // The token is a credential: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// An agent on the control plane's Unix socket with a fixed token and a known identity.
    pub fn new(socket: &Path, token: &str, id: SpiffeId) -> Self {
        Agent::connect(
            &ControlPlaneAddr::Socket(socket.to_path_buf()),
            TokenSource::Fixed(Arc::from(token)),
            Some(id),
        )
    }

    /// An agent on either transport. `id`: `None` asks for whatever identity the token
    /// attests and adopts it from the first issued leaf.
    pub fn connect(addr: &ControlPlaneAddr, token: TokenSource, id: Option<SpiffeId>) -> Self {
        Agent {
            // No deadline: the config watch waits on purpose, and every call is retried.
            channel: addr.channel(None),
            token,
            id: Arc::new(Mutex::new(id)),
        }
    }

    /// The identity this agent asks for (`None` until the first leaf in cluster mode).
    pub fn id(&self) -> Option<SpiffeId> {
        self.id.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn authed<T>(&self, message: T) -> Result<tonic::Request<T>, AgentError> {
        Ok(authed(message, &self.token.current()?))
    }

    /// Generates a fresh key, sends a CSR and verifies what comes back against the returned
    /// bundle and our own identity before returning it. The key never leaves this process.
    pub async fn certify(&self) -> Result<WorkloadIdentity, AgentError> {
        let key = ca::new_key().map_err(|e| AgentError::BadCertificate(e.to_string()))?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr = params
            .serialize_request(&key)
            .map_err(|e| AgentError::BadCertificate(e.to_string()))?;
        let csr_pem = csr
            .pem()
            .map_err(|e| AgentError::BadCertificate(e.to_string()))?;
        let wanted = self.id();
        let request = self.authed(pb::CertifyRequest {
            csr_pem,
            spiffe_id: wanted.as_ref().map(ToString::to_string).unwrap_or_default(),
        })?;
        let mut client = pb::identity_client::IdentityClient::new(self.channel.clone());
        let resp = client.certify(request).await?.into_inner();
        let bundle = TrustBundle::from_pem(&resp.trust_bundle_pem)
            .map_err(|e| AgentError::BadCertificate(e.to_string()))?;
        let identity = WorkloadIdentity::from_parts(
            &resp.certificate_chain_pem,
            &key.serialize_pem(),
            Arc::new(bundle),
        )
        .map_err(|e| AgentError::BadCertificate(e.to_string()))?;
        // The leaf verified against the returned bundle (above): its URI SAN is the identity.
        let mut id = self.id.lock().unwrap_or_else(|p| p.into_inner());
        match &*id {
            Some(expected) if identity.id != *expected => {
                return Err(AgentError::BadCertificate(format!(
                    "issued for {}, expected {expected}",
                    identity.id
                )));
            }
            Some(_) => {}
            None => {
                tracing::info!(identity = %identity.id, "the control plane assigned this proxy's identity");
                *id = Some(identity.id.clone());
            }
        }
        Ok(identity)
    }

    /// Keeps `current` holding a valid leaf: renews at 70% of the remaining lifetime (floor
    /// 10 s, jittered), retries with backoff on failure, and never installs a leaf that
    /// failed verification. Renews at once when `issuer` (the fingerprint the control plane
    /// signs with now) names another issuer than the current leaf's: forced renewal during
    /// rotation. Runs until `current` has no receivers.
    pub async fn renew_forever(
        self,
        current: watch::Sender<Arc<WorkloadIdentity>>,
        mut issuer: watch::Receiver<String>,
    ) {
        let mut due = Instant::now() + renew_delay(current.borrow().not_after, SystemTime::now());
        let mut backoff = Backoff::default();
        let mut issuer_open = true;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(due.into()) => {}
                changed = issuer.changed(), if issuer_open => {
                    issuer_open = changed.is_ok();
                    let wanted = issuer.borrow_and_update().clone();
                    if wanted.is_empty() || wanted == current.borrow().issuer_fingerprint() {
                        continue;
                    }
                    tracing::info!(issuer = %wanted, "the control plane signs with a new issuer; renewing now");
                }
            }
            if current.is_closed() {
                return;
            }
            match self.certify().await {
                Ok(identity) => {
                    tracing::info!(serial = %identity.serial, "renewed workload certificate");
                    due = Instant::now() + renew_delay(identity.not_after, SystemTime::now());
                    backoff.reset();
                    current.send_replace(Arc::new(identity));
                }
                Err(e) => {
                    let delay = backoff.next_delay();
                    due = Instant::now() + delay;
                    tracing::warn!(error = %e, retry_in = ?delay, "certificate renewal failed; keeping the current one");
                }
            }
        }
    }

    /// Tells the control plane what this proxy serves with now.
    pub async fn report(&self, report: pb::CertificateReport) -> Result<(), AgentError> {
        let mut client = pb::discovery_client::DiscoveryClient::new(self.channel.clone());
        client.report_certificate(self.authed(report)?).await?;
        Ok(())
    }

    /// Follows the watch stream forever: each config is handed to `apply`, and the result is
    /// acknowledged. A config refused with [`Refused::retry`] is applied again every
    /// [`RETRY_REFUSED`] until it is accepted (then acknowledged as accepted) or a newer one
    /// arrives. On disconnect the last applied config stays in force (no idle eviction) and
    /// the stream is re-established with backoff.
    pub async fn watch_forever<F>(self, mut apply: F)
    where
        F: FnMut(&pb::ProxyConfig) -> Result<(), Refused> + Send,
    {
        let mut client = pb::discovery_client::DiscoveryClient::new(self.channel.clone());
        let mut backoff = Backoff::default();
        loop {
            let request = match self.authed(pb::WatchRequest {}) {
                Ok(request) => request,
                Err(e) => {
                    // Logged by the token source, once per problem.
                    let delay = backoff.next_delay();
                    tracing::debug!(error = %e, retry_in = ?delay, "no token for the watch");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            };
            match client.watch(request).await {
                Ok(resp) => {
                    let mut stream = resp.into_inner();
                    // The last config, while it waits to be applied again.
                    let mut pending: Option<pb::ProxyConfig> = None;
                    loop {
                        let retry = tokio::time::sleep(RETRY_REFUSED);
                        let message = tokio::select! {
                            message = stream.message() => message,
                            () = retry, if pending.is_some() => {
                                if let Some(config) = pending.take() {
                                    pending = self.apply_and_ack(&mut client, &mut apply, config, true).await;
                                }
                                continue;
                            }
                        };
                        match message {
                            Ok(Some(config)) => {
                                backoff.reset();
                                pending = self
                                    .apply_and_ack(&mut client, &mut apply, config, false)
                                    .await;
                            }
                            Ok(None) => break,
                            Err(e) => {
                                tracing::debug!(error = %e, "watch stream ended");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "control plane unreachable"),
            }
            let delay = backoff.next_delay();
            tracing::info!(retry_in = ?delay, "lost the control plane; serving with the last good config");
            tokio::time::sleep(delay).await;
        }
    }

    /// Applies `config` and acknowledges the result; returns it back when it is to be tried
    /// again. A retry (`again`) that fails again is neither logged above debug nor
    /// acknowledged a second time.
    async fn apply_and_ack<F>(
        &self,
        client: &mut pb::discovery_client::DiscoveryClient<Channel>,
        apply: &mut F,
        config: pb::ProxyConfig,
        again: bool,
    ) -> Option<pb::ProxyConfig>
    where
        F: FnMut(&pb::ProxyConfig) -> Result<(), Refused> + Send,
    {
        let version = config.version;
        let result = apply(&config);
        match &result {
            Ok(()) if again => tracing::info!(version, "applied config on a retry"),
            Ok(()) => {}
            Err(e) if again => tracing::debug!(version, error = %e, "config still refused"),
            Err(e) if e.retry => {
                tracing::warn!(version, error = %e, retry_every = ?RETRY_REFUSED, "refused config for now; keeping the last good one and retrying")
            }
            Err(e) => {
                tracing::warn!(version, error = %e, "rejected config; keeping the last good one")
            }
        }
        let retry = matches!(&result, Err(e) if e.retry);
        if !(again && retry) {
            let ack = pb::AckRequest {
                version,
                accepted: result.is_ok(),
                error: result.err().map(|e| e.message).unwrap_or_default(),
            };
            let sent = match self.authed(ack) {
                Ok(request) => client.ack(request).await.map_err(AgentError::from),
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                tracing::debug!(error = %e, "ack failed");
            }
        }
        retry.then_some(config)
    }
}

/// When to renew a leaf expiring at `not_after`, seen at `now`.
pub fn renew_delay(not_after: SystemTime, now: SystemTime) -> Duration {
    let remaining = not_after.duration_since(now).unwrap_or_default();
    let base = remaining.mul_f64(RENEW_AT_FRACTION);
    let jittered = base.mul_f64(1.0 + RENEW_JITTER * (2.0 * random_unit() - 1.0));
    jittered.max(RENEW_FLOOR).min(remaining.max(RENEW_FLOOR))
}

/// Exponential backoff with full jitter between `BACKOFF_START` and `BACKOFF_MAX`.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: BACKOFF_START,
        }
    }
}

impl Backoff {
    fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        d.mul_f64(0.5 + 0.5 * random_unit())
    }

    fn reset(&mut self) {
        self.next = BACKOFF_START;
    }
}

/// A uniform number in [0, 1) from the system RNG.
fn random_unit() -> f64 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 4];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renews_at_seventy_percent_with_jitter_and_a_floor() {
        let now = SystemTime::now();
        for _ in 0..100 {
            let d = renew_delay(now + Duration::from_secs(1_000), now).as_secs_f64();
            assert!((630.0..=770.0).contains(&d), "{d}");
        }
        assert_eq!(renew_delay(now + Duration::from_secs(5), now), RENEW_FLOOR);
        assert_eq!(renew_delay(now - Duration::from_secs(5), now), RENEW_FLOOR);
    }

    #[test]
    fn backoff_grows_to_the_cap() {
        let mut b = Backoff::default();
        let delays: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        assert!(delays[0] <= BACKOFF_START);
        assert!(delays.iter().all(|d| *d <= BACKOFF_MAX));
        assert!(delays[9] >= BACKOFF_MAX / 2);
        b.reset();
        assert!(b.next_delay() <= BACKOFF_START);
    }
}
