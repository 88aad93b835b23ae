//! The gateway: the mesh's north-south entry. A caller's proxy (identity `…/sa/gateway`)
//! with an external front — a listener for outside clients (HTTP/1.1 and HTTP/2; TLS with a
//! user certificate, or plaintext) whose requests are matched to mesh services by host,
//! path, method and headers, checked for an API key and a rate limit, cleaned of headers an
//! outsider must not set, and then sent exactly as an east-west caller's request: through
//! the outbound's `forward_http` (split, header routes, retries, timeout, metrics, tap).
//!
//! Per request: strip hop-by-hop and `x-meshctl-*` headers → normalise the path (the
//! authorization normaliser) → first matching route (404 when none) → API key (401 missing,
//! 403 unknown or revoked; the key is removed, its *name* passed on in
//! [`KEY_NAME_HEADER`]) → token bucket (429 with `Retry-After` and `RateLimit` headers) →
//! `X-Forwarded-For`, `Forwarded`, `X-Forwarded-Host/Proto`, `X-Request-Id` → prefix rewrite →
//! the outbound.
//!
//! The configuration file (`--gateway FILE`, JSON of [`GatewaySpec`]), the key file and the
//! certificate are re-read when they change; a bad new version is logged and the current one
//! kept. Open connections are never dropped by a reload.

mod counters;
mod limit;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};
use http::header::{HOST, WWW_AUTHENTICATE};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::Either;
use tokio::net::{TcpListener, TcpStream};

pub use self::counters::GatewayCounters;
use self::counters::Outcome;
use self::limit::Limiter;
use crate::api::api_keys::{KeyFile, KeySet, Lookup};
use crate::policy::gateway::{GatewaySpec, Incoming, KEY_NAME_HEADER, KeyLocation, Matcher};
use crate::policy::normalize::{decode_form_value, normalize_path};
use crate::proxy::outbound::{Outbound, OutboundAnswer};
use crate::proxy::protocol::cork::{Corked, Driven};
use crate::proxy::protocol::detect::{self, Detected};
use crate::proxy::protocol::drain::DrainWatch;
use crate::proxy::protocol::h1::server::{self as h1server, AppBody};
use crate::proxy::protocol::h2::server as h2server;
use crate::proxy::protocol::h2::stream::H2Body;
use crate::proxy::protocol::http::{self as proxy_http, ProxyBody, Streamed};
use crate::proxy::protocol::io::MeteredIo;
use crate::proxy::telemetry::metrics::Direction;
use crate::proxy::{ProxyError, Shared, bind};

/// Where the gateway's configuration comes from (`meshctl proxy --gateway FILE`).
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    pub file: PathBuf,
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("gateway configuration {}: {why}", path.display())]
    Config { path: PathBuf, why: String },
    #[error("gateway key file: {0}")]
    Keys(#[from] crate::api::api_keys::KeyFileError),
    #[error("gateway TLS: {0}")]
    Tls(String),
}

/// The answer the gateway writes itself, or the outbound's.
pub type GatewayBody<B> = Either<B, ProxyBody>;

const FORWARDED: HeaderName = HeaderName::from_static("forwarded");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const RETRY_AFTER: HeaderName = HeaderName::from_static("retry-after");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// The gateway's route for a request, on the answer (what `curl -i` shows).
const ROUTE_HEADER: HeaderName = HeaderName::from_static("x-meshctl-gateway-route");

/// One route, ready to match.
#[derive(Debug)]
struct Compiled {
    name: Arc<str>,
    matcher: Matcher,
    /// The service, as the outbound routes on it (`http://SERVICE/…`).
    service: Authority,
    rewrite: Option<(String, String)>,
    api_key: Option<KeyLocation>,
    limit: Option<Limiter>,
}

/// A configuration in force.
#[derive(Debug)]
struct State {
    spec: GatewaySpec,
    routes: Vec<Compiled>,
}

impl State {
    fn compile(spec: GatewaySpec) -> Result<State, String> {
        spec.check(|_| true).map_err(|i| i.to_string())?;
        let mut routes = Vec::with_capacity(spec.routes.len());
        for r in &spec.routes {
            let matcher = Matcher::new(r).map_err(|(k, _, m)| format!("{}.{k}: {m}", r.name))?;
            let service = Authority::try_from(r.service.as_str())
                .map_err(|e| format!("{}.service: {e}", r.name))?;
            let rewrite = match (matcher.prefix(), &r.rewrite_prefix) {
                (Some(p), Some(to)) => Some((p.to_string(), to.clone())),
                _ => None,
            };
            let limit = r
                .rate_limit
                .as_ref()
                .map(|l| Limiter::new(&r.name, l, r.api_key.is_some()));
            routes.push(Compiled {
                name: Arc::from(r.name.as_str()),
                matcher,
                service,
                rewrite,
                api_key: r.api_key.clone(),
                limit,
            });
        }
        Ok(State { spec, routes })
    }
}

/// The running gateway: its configuration, keys and certificate (each swapped whole on
/// reload) and the outbound it sends through.
#[derive(Debug)]
pub struct Gateway {
    outbound: Arc<Outbound>,
    shared: Arc<Shared>,
    file: PathBuf,
    state: ArcSwap<State>,
    keys: ArcSwap<KeySet>,
    tls: ArcSwapOption<rustls::ServerConfig>,
    counters: Arc<GatewayCounters>,
}

/// Reads and compiles the configuration file.
fn load_state(file: &Path) -> Result<State, GatewayError> {
    let config = |why: String| GatewayError::Config {
        path: file.to_path_buf(),
        why,
    };
    let text = std::fs::read(file).map_err(|e| config(e.to_string()))?;
    let spec: GatewaySpec = serde_json::from_slice(&text).map_err(|e| config(e.to_string()))?;
    State::compile(spec).map_err(config)
}

fn server_tls(
    files: &crate::policy::gateway::TlsFiles,
) -> Result<rustls::ServerConfig, GatewayError> {
    crate::identity::server_tls::server_config(&files.cert, &files.key).map_err(GatewayError::Tls)
}

fn load_keys(spec: &GatewaySpec) -> Result<KeySet, GatewayError> {
    Ok(match &spec.keys_file {
        Some(path) => KeyFile::load(path)?.key_set(),
        None => KeySet::default(),
    })
}

impl Gateway {
    /// Loads everything and binds the listener (nothing is served until [`Gateway::serve`]).
    pub async fn bind(
        options: &GatewayOptions,
        outbound: Arc<Outbound>,
        shared: Arc<Shared>,
    ) -> Result<(TcpListener, Arc<Gateway>), ProxyError> {
        let failed = |e: GatewayError| ProxyError::Gateway(e.to_string());
        let state = load_state(&options.file).map_err(failed)?;
        let keys = load_keys(&state.spec).map_err(failed)?;
        let tls = match &state.spec.tls {
            Some(files) => Some(Arc::new(server_tls(files).map_err(failed)?)),
            None => None,
        };
        let listener = bind(state.spec.listen, "gateway").await?;
        let counters = shared.metrics.gateway.clone();
        counters.enable();
        let gateway = Gateway {
            outbound,
            shared,
            file: options.file.clone(),
            state: ArcSwap::from_pointee(state),
            keys: ArcSwap::from_pointee(keys),
            tls: ArcSwapOption::new(tls),
            counters,
        };
        Ok((listener, Arc::new(gateway)))
    }

    /// Whether it terminates TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.load().is_some()
    }

    /// The files whose change triggers [`Gateway::reload`].
    pub fn watched_files(&self) -> Vec<PathBuf> {
        let state = self.state.load();
        let mut files = vec![self.file.clone()];
        files.extend(state.spec.keys_file.clone());
        if let Some(t) = &state.spec.tls {
            files.push(t.cert.clone());
            files.push(t.key.clone());
        }
        files
    }

    /// Re-reads the configuration, the key file and the certificate; each part that fails
    /// keeps its current version (logged). The listen address is fixed at start-up.
    pub fn reload(&self) {
        match load_state(&self.file) {
            Ok(state) => {
                let listen = self.state.load().spec.listen;
                if state.spec.listen != listen {
                    tracing::warn!(configured = %state.spec.listen, %listen, "gateway listen address changes need a restart; keeping the listener");
                }
                self.state.store(Arc::new(state));
            }
            Err(e) => {
                tracing::warn!(error = %e, "gateway configuration refused; keeping the current one")
            }
        }
        let state = self.state.load();
        match load_keys(&state.spec) {
            Ok(keys) => self.keys.store(Arc::new(keys)),
            Err(e) => {
                tracing::warn!(error = %e, "gateway key file refused; keeping the current keys")
            }
        }
        if let Some(files) = &state.spec.tls {
            match server_tls(files) {
                Ok(config) => self.tls.store(Some(Arc::new(config))),
                Err(e) => {
                    tracing::warn!(error = %e, "gateway certificate refused; keeping the current one")
                }
            }
        }
        tracing::info!(
            routes = state.routes.len(),
            keys = self.keys.load().len(),
            "gateway configuration loaded"
        );
    }

    pub async fn serve(self: Arc<Self>, listener: TcpListener, watch: DrainWatch) {
        let shared = self.shared.clone();
        let handle = move |stream, remote, watch| self.clone().connection(stream, remote, watch);
        shared
            .accept(listener, Direction::Outbound, watch, handle)
            .await;
    }

    async fn connection(self: Arc<Self>, stream: TcpStream, remote: SocketAddr, watch: DrainWatch) {
        let accepted = tokio::time::Instant::now();
        let metrics = self.shared.metrics.clone();
        let _open = metrics.connection_opened(Direction::Outbound);
        let _ = stream.set_nodelay(true);
        let io = MeteredIo::new(stream, metrics.clone(), Direction::Outbound);
        let timeout = self.shared.limits.header_read_timeout;
        let result = match self.tls.load_full() {
            Some(config) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                let tls = match tokio::time::timeout(timeout, acceptor.accept(io)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(%remote, error = %e, "gateway TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%remote, "gateway TLS handshake timed out");
                        return;
                    }
                };
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                if h2 {
                    self.clone().h2(tls, remote, watch, accepted, true).await
                } else {
                    let io = h1server::Io::Tls(Box::new(tls));
                    self.clone().h1(io, remote, watch, accepted, true).await
                }
            }
            None => match detect::detect(io, timeout).await {
                Ok((Detected::Http1, io)) => {
                    (self
                        .clone()
                        .h1(h1server::Io::Plain(io), remote, watch, accepted, false))
                    .await
                }
                Ok((Detected::H2c, io)) => {
                    self.clone().h2(io, remote, watch, accepted, false).await
                }
                Ok((Detected::Opaque, _)) => {
                    tracing::debug!(%remote, "closed a gateway connection that sent no HTTP request");
                    Ok(())
                }
                Err(e) => Err(e.into()),
            },
        };
        if let Err(e) = result {
            tracing::debug!(%remote, error = %e, "gateway connection ended with an error");
        }
    }

    async fn h1(
        self: Arc<Self>,
        io: h1server::Io,
        remote: SocketAddr,
        watch: DrainWatch,
        accepted: tokio::time::Instant,
        https: bool,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let this = &self;
        let forward = |req: Request<AppBody>| {
            this.clone()
                .handle(req.map(Either::Right), true, remote, https)
        };
        h1server::serve(io, &self.shared.http1, &watch, accepted, forward).await?;
        Ok(())
    }

    async fn h2<T>(
        self: Arc<Self>,
        io: T,
        remote: SocketAddr,
        mut watch: DrainWatch,
        accepted: tokio::time::Instant,
        https: bool,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let this = &self;
        let forward = |req: Request<H2Body>| {
            this.clone()
                .handle(req.map(Either::Left), false, remote, https)
        };
        let conn = (Direction::Outbound, accepted);
        let served = h2server::serve(
            Corked::new(io),
            &self.shared.http2,
            &mut watch,
            conn,
            forward,
        );
        Box::pin(Driven::new(served)).await?;
        Ok(())
    }

    /// Answers one external request: refused here, or forwarded through the outbound.
    async fn handle(
        self: Arc<Self>,
        mut req: Request<Streamed>,
        from_http1: bool,
        remote: SocketAddr,
        https: bool,
    ) -> Response<GatewayBody<OutboundAnswer>> {
        let state = self.state.load_full();
        let decided = self.admit(&state, &mut req, remote, https);
        let (route, limit_headers) = match decided {
            Ok(admitted) => admitted,
            Err(refusal) => return refusal.map(Either::Right),
        };
        let mut response = self
            .outbound
            .clone()
            .forward_http(req, from_http1, remote)
            .await;
        let headers = response.headers_mut();
        if let Ok(name) = HeaderValue::from_str(&route) {
            headers.insert(ROUTE_HEADER, name);
        }
        for (name, value) in limit_headers {
            headers.insert(name, value);
        }
        response.map(Either::Left)
    }

    /// Everything before forwarding: `Ok` with the route's name and the rate-limit headers
    /// for the answer, the request made ready to forward; `Err` with the answer instead.
    fn admit(
        &self,
        state: &State,
        req: &mut Request<Streamed>,
        remote: SocketAddr,
        https: bool,
    ) -> Result<(Arc<str>, limit::Fields), Box<Response<ProxyBody>>> {
        let count = |route: &str, key: &str, outcome| self.counters.count(route, key, outcome);
        let headers = req.headers_mut();
        proxy_http::strip_hop_by_hop(headers);
        strip_mesh_headers(headers);
        let host = request_host(req);
        let path = req.uri().path().to_string();
        let Ok(path) = normalize_path(&path) else {
            count("", "", Outcome::BadRequest);
            return Err(refuse(StatusCode::BAD_REQUEST, "invalid request path"));
        };
        let incoming = Incoming {
            host: &host,
            path: &path,
            method: req.method(),
            headers: req.headers(),
        };
        let Some(route) = state.routes.iter().find(|r| r.matcher.matches(&incoming)) else {
            count("", "", Outcome::NoRoute);
            return Err(refuse(StatusCode::NOT_FOUND, "no gateway route"));
        };
        let mut query = req.uri().query().map(str::to_string);
        // The key's name: what the service, the metrics and the bucket see of it.
        let mut key_name: Option<String> = None;
        if let Some(location) = &route.api_key {
            let presented = match location {
                KeyLocation::Header(h) => {
                    let value = req.headers_mut().remove(h.as_str());
                    value.and_then(|v| v.to_str().ok().map(str::to_string))
                }
                KeyLocation::Query(param) => take_query_param(&mut query, param),
            };
            let Some(presented) = presented.filter(|k| !k.is_empty()) else {
                count(&route.name, "", Outcome::NoKey);
                let mut answer = refuse(StatusCode::UNAUTHORIZED, "API key required");
                let challenge = match location {
                    KeyLocation::Header(h) => format!("ApiKey header=\"{h}\""),
                    KeyLocation::Query(q) => format!("ApiKey query=\"{q}\""),
                };
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    answer.headers_mut().insert(WWW_AUTHENTICATE, v);
                }
                return Err(answer);
            };
            let keys = self.keys.load();
            match keys.lookup(&presented) {
                Lookup::Valid(name) => key_name = Some(name.to_string()),
                Lookup::Revoked(name) => {
                    count(&route.name, name, Outcome::RevokedKey);
                    return Err(refuse(StatusCode::FORBIDDEN, "API key revoked"));
                }
                Lookup::Unknown => {
                    count(&route.name, "", Outcome::UnknownKey);
                    return Err(refuse(StatusCode::FORBIDDEN, "API key not recognised"));
                }
            }
        }
        let client = client_ip(req, remote, state.spec.trust_forwarded);
        let mut limit_headers = Vec::new();
        if let Some(limiter) = &route.limit {
            let bucket_key = limiter.bucket_key(key_name.as_deref(), client, req.headers());
            match limiter.check(&bucket_key) {
                Ok(headers) => limit_headers = headers,
                Err(mut headers) => {
                    count(
                        &route.name,
                        key_name.as_deref().unwrap_or(""),
                        Outcome::Limited,
                    );
                    let mut answer = refuse(StatusCode::TOO_MANY_REQUESTS, "rate limited");
                    for (name, value) in headers.drain(..) {
                        answer.headers_mut().insert(name, value);
                    }
                    return Err(answer);
                }
            }
        }
        count(
            &route.name,
            key_name.as_deref().unwrap_or(""),
            Outcome::Forwarded,
        );
        let headers = req.headers_mut();
        if let Some(name) = &key_name
            && let Ok(v) = HeaderValue::from_str(name)
        {
            headers.insert(KEY_NAME_HEADER, v);
        }
        set_forwarding(
            headers,
            client,
            remote,
            &host,
            https,
            state.spec.trust_forwarded,
        );
        let path = match &route.rewrite {
            Some((prefix, to)) => crate::policy::gateway::rewrite(&path, prefix, to),
            None => path,
        };
        let target = match &query {
            Some(q) if !q.is_empty() => format!("{path}?{q}"),
            _ => path,
        };
        let Ok(path_and_query) = PathAndQuery::try_from(target) else {
            return Err(refuse(StatusCode::BAD_REQUEST, "invalid request target"));
        };
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(Scheme::HTTP);
        parts.authority = Some(route.service.clone());
        parts.path_and_query = Some(path_and_query);
        match Uri::from_parts(parts) {
            Ok(uri) => *req.uri_mut() = uri,
            Err(_) => return Err(refuse(StatusCode::BAD_REQUEST, "invalid request target")),
        }
        // The service sees its own name as the host (as an east-west caller sends it); the
        // external one is in X-Forwarded-Host.
        req.headers_mut().remove(HOST);
        Ok((route.name.clone(), limit_headers))
    }
}

fn refuse(status: StatusCode, reason: &'static str) -> Box<Response<ProxyBody>> {
    Box::new(proxy_http::error_response(status, reason))
}

/// Removes every `x-meshctl-*` request header: those are the mesh's to set (identity,
/// fault markers, the key name), never an outside client's.
fn strip_mesh_headers(headers: &mut http::HeaderMap) {
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|n| n.as_str().starts_with("x-meshctl-"))
        .cloned()
        .collect();
    for n in names {
        headers.remove(n);
    }
}

/// The request's host, lower-case, without a port: `:authority`, else `Host`.
fn request_host<B>(req: &Request<B>) -> String {
    let raw = req
        .uri()
        .authority()
        .map(|a| a.host().to_string())
        .or_else(|| {
            let value = req.headers().get(HOST)?.to_str().ok()?;
            Authority::try_from(value)
                .ok()
                .map(|a| a.host().to_string())
        })
        .unwrap_or_default();
    raw.to_ascii_lowercase()
}

/// Removes every `param` from the query and returns the first one's value, percent-decoded
/// (`None` as well when that is malformed: the key counts as missing).
fn take_query_param(query: &mut Option<String>, param: &str) -> Option<String> {
    let q = query.as_deref()?;
    let mut found: Option<Option<String>> = None;
    let mut kept = Vec::new();
    for pair in q.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name == param {
            if found.is_none() {
                found = Some(decode_form_value(value));
            }
        } else if !pair.is_empty() {
            kept.push(pair);
        }
    }
    *query = Some(kept.join("&"));
    found.flatten()
}

/// The client's address: the TCP peer's, or — when a proxy in front is trusted — the last
/// `X-Forwarded-For` entry (the one that proxy appended).
fn client_ip<B>(req: &Request<B>, remote: SocketAddr, trust_forwarded: bool) -> IpAddr {
    if trust_forwarded
        && let Some(ip) = req
            .headers()
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|s| s.trim().parse().ok())
    {
        return ip;
    }
    remote.ip()
}

fn set_forwarding(
    headers: &mut http::HeaderMap,
    client: IpAddr,
    remote: SocketAddr,
    host: &str,
    https: bool,
    trust_forwarded: bool,
) {
    let proto = if https { "https" } else { "http" };
    let peer = remote.ip();
    // Without a trusted proxy in front, whatever the client wrote is discarded.
    let xff = match (trust_forwarded, headers.get(X_FORWARDED_FOR)) {
        (true, Some(prior)) => format!("{}, {peer}", prior.to_str().unwrap_or_default()),
        _ => peer.to_string(),
    };
    if !trust_forwarded {
        headers.remove(FORWARDED);
        headers.remove(X_FORWARDED_HOST);
        headers.remove(X_FORWARDED_PROTO);
        headers.remove(X_REQUEST_ID);
    }
    let for_ = match client {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("\"[{ip}]\""),
    };
    let forwarded = format!("for={for_};proto={proto}");
    let set = |headers: &mut http::HeaderMap, name: HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set(headers, X_FORWARDED_FOR, &xff);
    if !headers.contains_key(FORWARDED) {
        set(headers, FORWARDED, &forwarded);
    }
    if !host.is_empty() && !headers.contains_key(X_FORWARDED_HOST) {
        set(headers, X_FORWARDED_HOST, host);
    }
    if !headers.contains_key(X_FORWARDED_PROTO) {
        set(headers, X_FORWARDED_PROTO, proto);
    }
    if !headers.contains_key(X_REQUEST_ID)
        && let Ok(id) = crate::api::token::new_token()
    {
        set(headers, X_REQUEST_ID, &id[..32]);
    }
}

/// Watches the gateway's files and reloads on change (debounced like the identity reload).
/// The returned watcher keeps it going.
pub fn watch(gateway: Arc<Gateway>) -> notify::Result<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    let (changed, mut events) = tokio::sync::mpsc::unbounded_channel();
    let files = gateway.watched_files();
    let names: Vec<std::ffi::OsString> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_os_string()))
        .collect();
    let mut watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
        if let Ok(event) = result
            && matches!(
                event.kind,
                EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
            )
            && event
                .paths
                .iter()
                .any(|p| p.file_name().is_some_and(|n| names.iter().any(|w| w == n)))
        {
            let _ = changed.send(());
        }
    })?;
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in &dirs {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir.as_path()
        };
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    tokio::spawn(async move {
        while events.recv().await.is_some() {
            // Coalesce a burst (an editor's write, a rename) into one reload.
            tokio::time::sleep(crate::proxy::limits::RELOAD_DEBOUNCE).await;
            while events.try_recv().is_ok() {}
            let g = gateway.clone();
            let _ = tokio::task::spawn_blocking(move || g.reload()).await;
        }
    });
    Ok(watcher)
}

#[cfg(test)]
mod tests;
