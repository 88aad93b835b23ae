//! `meshctl explain`: what the mesh would do with one request, and why — asked of the running
//! proxies, not worked out here. The caller's proxy answers for its side (routes, version,
//! timeout, retries, circuits, faults: its admin `/explain`), and one proxy of every version
//! the request may reach answers for the destination's side (authorization: `/explain/inbound`).
//! Both run the decision functions their data path runs, on the configuration they hold now;
//! this module only picks whom to ask and combines the answers into a prediction.

use std::net::SocketAddr;

use serde::Serialize;

use crate::api::admin_http::{AdminClient, AdminError};
use crate::api::explain::{
    INBOUND_PATH, InboundExplanation, OUTBOUND_PATH, OutboundExplanation, VersionChoice,
};
use crate::control::plan::{MeshPlan, ProxyPlan};

/// The request to explain, as the command line gives it.
#[derive(Debug, Clone)]
pub struct Question {
    /// SERVICE or SERVICE/VERSION: whose proxy sends the request.
    pub caller: String,
    pub method: String,
    /// `http://SERVICE/PATH?QUERY` (`http://` may be left out).
    pub url: String,
    /// `NAME: VALUE` pairs, in order.
    pub headers: Vec<(String, String)>,
}

/// Why a request cannot be explained.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// The question is wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A proxy could not be asked (exit 1).
    #[error(transparent)]
    Proxy(#[from] AdminError),
}

/// The whole answer: both sides and what follows from them.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The caller's proxy asked (its instance name, e.g. `web` or `api.v2`).
    pub caller_proxy: String,
    pub outbound: OutboundExplanation,
    /// One destination proxy per version the request may reach.
    pub inbound: Vec<InboundSide>,
    /// What happens to the request, by chance (sums to 1).
    pub prediction: Vec<Outcome>,
}

/// The destination's side at one version.
#[derive(Debug, Clone, Serialize)]
pub struct InboundSide {
    pub version: String,
    /// The proxy asked (instance name).
    pub proxy: String,
    pub answer: InboundExplanation,
}

/// One way the request can end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// Chance, 0-1.
    pub probability: f64,
    /// `forwarded` (the app answers), `aborted` (an injected fault), `no_endpoint`, `denied`
    /// or `bad_path` (the destination's authorization), `not_configured`.
    pub result: String,
    /// The status the proxies answer with (absent: the app's).
    pub status: Option<u16>,
    /// The version that gets it, when one does.
    pub version: Option<String>,
    /// Delay injected before it, in ms, when the fault's delay applies to all.
    pub delayed_ms: Option<u64>,
}

/// Asks the mesh. `Usage` errors come before any proxy is contacted.
pub async fn explain(plan: &MeshPlan, q: &Question) -> Result<Explanation, ExplainError> {
    let caller = caller_proxy(plan, &q.caller)?;
    let url = absolute_url(&q.url)?;
    let service = url_service(&url)?;
    if !caller.upstreams.iter().any(|u| u.service == service) {
        let mut known: Vec<&str> = caller
            .upstreams
            .iter()
            .map(|u| u.service.as_str())
            .collect();
        known.sort_unstable();
        return Err(ExplainError::Usage(format!(
            "{service} is not an upstream of {} ({}); add it to services.{}.upstreams in mesh.yaml",
            caller.service,
            if known.is_empty() {
                "it has none".to_string()
            } else {
                format!("its upstreams: {}", known.join(", "))
            },
            caller.service
        )));
    }
    let client = AdminClient::local()?;
    let mut query = vec![("method", q.method.clone()), ("url", url.clone())];
    query.extend(
        q.headers
            .iter()
            .map(|(n, v)| ("header", format!("{n}:{v}"))),
    );
    let outbound: OutboundExplanation = ask(client, caller.admin, OUTBOUND_PATH, &query).await?;
    let peer = outbound
        .caller
        .clone()
        .unwrap_or_else(|| caller.spiffe_id.clone());
    query.push(("peer", peer));
    let mut inbound = Vec::new();
    for version in reachable_versions(&outbound.version) {
        let Some(proxy) = plan.proxies.iter().find(|p| {
            p.service == service && p.version.as_deref().unwrap_or("") == version.as_str()
        }) else {
            continue;
        };
        let answer = ask(client, proxy.admin, INBOUND_PATH, &query).await?;
        inbound.push(InboundSide {
            version,
            proxy: proxy.name.clone(),
            answer,
        });
    }
    let prediction = predict(&outbound, &inbound);
    Ok(Explanation {
        caller_proxy: caller.name.clone(),
        outbound,
        inbound,
        prediction,
    })
}

/// The first proxy of `caller` (SERVICE or SERVICE/VERSION).
fn caller_proxy<'a>(plan: &'a MeshPlan, caller: &str) -> Result<&'a ProxyPlan, ExplainError> {
    let (service, version) = match caller.split_once('/') {
        Some((s, v)) => (s, Some(v)),
        None => (caller, None),
    };
    plan.proxies
        .iter()
        .find(|p| p.service == service && version.is_none_or(|v| p.version.as_deref() == Some(v)))
        .ok_or_else(|| {
            let mut services: Vec<&str> = plan.proxies.iter().map(|p| p.service.as_str()).collect();
            services.sort_unstable();
            services.dedup();
            ExplainError::Usage(format!(
                "no service `{caller}` in the mesh (services: {})",
                services.join(", ")
            ))
        })
}

/// `api/hello` → `http://api/hello`; only plain `http://` URLs (the caller's app speaks
/// plaintext to its proxy; the mesh adds TLS).
fn absolute_url(url: &str) -> Result<String, ExplainError> {
    let url = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    if !url.starts_with("http://") {
        return Err(ExplainError::Usage(format!(
            "URL `{url}`: give http://SERVICE/PATH (the app calls its proxy in plaintext)"
        )));
    }
    let parsed = url
        .parse::<http::Uri>()
        .map_err(|e| ExplainError::Usage(format!("URL `{url}`: {e}")))?;
    if parsed.host().is_none() {
        return Err(ExplainError::Usage(format!(
            "URL `{url}`: no service: give http://SERVICE/PATH"
        )));
    }
    Ok(url)
}

fn url_service(url: &str) -> Result<String, ExplainError> {
    let parsed = url
        .parse::<http::Uri>()
        .map_err(|e| ExplainError::Usage(format!("URL `{url}`: {e}")))?;
    Ok(parsed.host().unwrap_or_default().to_string())
}

async fn ask<T: serde::de::DeserializeOwned>(
    client: &AdminClient,
    admin: SocketAddr,
    path: &str,
    query: &[(&str, String)],
) -> Result<T, ExplainError> {
    let encoded: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let base = AdminClient::local_base(admin)?;
    Ok(client.get_json(&base, &format!("{path}?{encoded}")).await?)
}

/// The versions a request may reach: the pinned one, or those with a chance under the split.
fn reachable_versions(choice: &VersionChoice) -> Vec<String> {
    match choice {
        VersionChoice::Route { version, .. } => vec![version.clone()],
        VersionChoice::Split { shares } => shares
            .iter()
            .filter(|s| s.probability > 0.0)
            .map(|s| s.version.clone())
            .collect(),
    }
}

/// The ways the request ends, by chance: an abort first (the caller's proxy answers before
/// choosing an endpoint), then per version reached the destination's authorization.
pub fn predict(outbound: &OutboundExplanation, inbound: &[InboundSide]) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let fault = outbound.fault.as_ref();
    let delayed_ms = fault
        .filter(|f| f.delay_percent == Some(100.0))
        .and_then(|f| f.delay_ms);
    let aborted = fault
        .and_then(|f| Some((f.abort_status?, f.abort_percent? / 100.0)))
        .filter(|(_, p)| *p > 0.0);
    let mut rest = 1.0;
    if let Some((status, p)) = aborted {
        outcomes.push(Outcome {
            probability: p,
            result: "aborted".into(),
            status: Some(status),
            version: None,
            delayed_ms,
        });
        rest -= p;
    }
    if rest <= 0.0 {
        return outcomes;
    }
    let shares: Vec<(String, f64)> = match &outbound.version {
        VersionChoice::Route {
            version,
            admitted_endpoints,
            ..
        } => vec![(
            version.clone(),
            if *admitted_endpoints > 0 { 1.0 } else { 0.0 },
        )],
        VersionChoice::Split { shares } => shares
            .iter()
            .map(|s| (s.version.clone(), s.probability))
            .collect(),
    };
    let reached: f64 = shares.iter().map(|(_, p)| p).sum();
    if reached < 1.0 - 1e-9 {
        outcomes.push(Outcome {
            probability: rest * (1.0 - reached),
            result: "no_endpoint".into(),
            status: Some(503),
            version: None,
            delayed_ms,
        });
    }
    for (version, p) in shares.into_iter().filter(|(_, p)| *p > 0.0) {
        let decision = inbound
            .iter()
            .find(|s| s.version == version)
            .map(|s| &s.answer.decision);
        let (result, status) = match decision {
            Some(d) if !d.allowed => (
                match (d.reason.as_deref(), d.status) {
                    (Some("bad_path"), _) => "bad_path",
                    (None, Some(503)) => "not_configured",
                    _ => "denied",
                },
                d.status,
            ),
            _ => ("forwarded", None),
        };
        outcomes.push(Outcome {
            probability: rest * p,
            result: result.into(),
            status,
            version: Some(version),
            delayed_ms,
        });
    }
    outcomes
}

/// The explanation as text, for a terminal.
pub fn text(e: &Explanation) -> String {
    use std::fmt::Write as _;
    let o = &e.outbound;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} → {}  {} {}  (caller proxy {}{}{})",
        caller_service(e),
        o.service,
        o.method,
        o.path,
        e.caller_proxy,
        o.caller
            .as_deref()
            .map(|id| format!(", {id}"))
            .unwrap_or_default(),
        o.config_version
            .map(|v| format!(", config v{v}"))
            .unwrap_or_default(),
    );
    let _ = writeln!(s, "\nRoutes of {} (tried in order):", o.service);
    if o.routes.is_empty() {
        let _ = writeln!(s, "  none: the weighted split decides");
    }
    for r in &o.routes {
        let name = r
            .name
            .as_deref()
            .map(|n| format!(" {n}"))
            .unwrap_or_default();
        let to = r.version.as_deref().unwrap_or("the split");
        match &r.mismatch {
            None => {
                let _ = writeln!(s, "  #{}{name} → {to}: matched", r.index);
            }
            Some(why) => {
                let _ = writeln!(s, "  #{}{name} → {to}: not matched ({why})", r.index);
            }
        }
    }
    let _ = writeln!(s, "\nVersion:");
    match &o.version {
        VersionChoice::Route {
            route,
            version,
            admitted_endpoints,
        } => {
            let _ = writeln!(
                s,
                "  {version}, pinned by route #{route} ({admitted_endpoints} endpoint(s) admit requests{})",
                if *admitted_endpoints == 0 {
                    ": answered 503, a pinned version never falls back"
                } else {
                    ""
                }
            );
        }
        VersionChoice::Split { shares } => {
            for v in shares {
                let _ = writeln!(
                    s,
                    "  {:<8} {:>5.1}%  (weight {}, {}/{} endpoints admit requests)",
                    version_label(&v.version),
                    v.probability * 100.0,
                    v.weight,
                    v.admitted_endpoints,
                    v.endpoints
                );
            }
        }
    }
    let _ = writeln!(s, "\nEndpoints:");
    for p in &o.endpoints {
        let circuit = match (p.circuit.as_str(), p.failures, p.probe_in_ms) {
            ("closed", Some(f), _) => format!("closed ({f} failures in a row)"),
            ("open", _, Some(ms)) => format!("open: ejected, probe in {ms} ms"),
            (c, _, _) => c.to_string(),
        };
        let _ = writeln!(
            s,
            "  {:<8} {:<21} {circuit}",
            version_label(&p.version),
            p.address
        );
    }
    let _ = writeln!(s, "\nPolicy:");
    let _ = writeln!(
        s,
        "  timeout   {}",
        o.timeout_ms.map_or("none".to_string(), |ms| format!(
            "{ms} ms to the response head"
        ))
    );
    match &o.retry {
        None => {
            let _ = writeln!(s, "  retries   none (no retry policy)");
        }
        Some(r) => {
            let _ = writeln!(
                s,
                "  retries   {} attempts on {} ({} ms backoff): {} — {}; budget {} of {:.1} retries used over the window{}",
                r.attempts,
                r.on.join(", "),
                r.backoff_ms,
                if r.applies { "apply" } else { "do not apply" },
                r.because,
                r.budget.retries,
                r.budget.allowed,
                if r.budget.available {
                    ""
                } else {
                    " (exhausted)"
                }
            );
        }
    }
    let _ = writeln!(
        s,
        "  circuit   {}",
        o.breaker_failures
            .map_or("no circuit breaking".to_string(), |n| {
                format!("eject an endpoint after {n} failures in a row")
            })
    );
    match &o.fault {
        None => {
            let _ = writeln!(s, "  fault     none");
        }
        Some(f) => {
            let mut parts = Vec::new();
            if let (Some(st), Some(p)) = (f.abort_status, f.abort_percent) {
                parts.push(format!("abort {st} at {p}%"));
            }
            if let (Some(ms), Some(p)) = (f.delay_ms, f.delay_percent) {
                parts.push(format!("delay {ms} ms at {p}%"));
            }
            let _ = writeln!(s, "  fault     {} ({})", parts.join(", "), f.source);
        }
    }
    for side in &e.inbound {
        let a = &side.answer;
        let _ = writeln!(
            s,
            "\nAuthorization at {} {} (proxy {}):",
            o.service,
            version_label(&side.version),
            side.proxy
        );
        let _ = writeln!(s, "  {}", authz_line(a));
    }
    let _ = writeln!(s, "\nPrediction:");
    for p in &e.prediction {
        let what = match (p.result.as_str(), &p.version, p.status) {
            ("forwarded", Some(v), _) => format!("forwarded to {} {}", o.service, version_label(v)),
            ("aborted", _, Some(st)) => format!("answered {st} by an injected fault"),
            ("no_endpoint", _, _) => "answered 503: no endpoint admits requests".to_string(),
            (r, Some(v), Some(st)) => {
                format!("answered {st} by {} {} ({r})", o.service, version_label(v))
            }
            (r, _, _) => r.to_string(),
        };
        let delay = p
            .delayed_ms
            .map(|ms| format!(", after a {ms} ms injected delay"))
            .unwrap_or_default();
        let _ = writeln!(s, "  {:>5.1}%  {what}{delay}", p.probability * 100.0);
    }
    s
}

fn authz_line(a: &InboundExplanation) -> String {
    let path = a
        .normalized_path
        .as_deref()
        .map(|p| format!(" (normalised path {p})"))
        .unwrap_or_default();
    match a.mode.as_str() {
        "pending" => "no configuration yet: answered 503".to_string(),
        "open" => "no policy: every mesh identity may call".to_string(),
        _ if a.bad_path.is_some() => format!(
            "path refused: {}: answered 400",
            a.bad_path.as_deref().unwrap_or_default()
        ),
        _ if a.exempt.is_some() => format!(
            "allowed by exempt[{}] (any caller){path}",
            a.exempt.unwrap_or_default()
        ),
        _ if a.decision.allowed => format!(
            "allowed by allow[{}] for {}{path}",
            a.decision.rule.unwrap_or_default(),
            a.peer
        ),
        _ => {
            let lacks = a
                .decision
                .closest
                .and_then(|i| a.rules.iter().find(|r| r.index == i))
                .and_then(|r| Some((r.index, r.lacks.clone()?)));
            match lacks {
                Some((i, what)) => format!(
                    "denied for {}: answered 403{path}; closest rule allow[{i}] lacks a matching {what}",
                    a.peer
                ),
                None => format!("denied for {}: answered 403{path}; no allow rules", a.peer),
            }
        }
    }
}

fn caller_service(e: &Explanation) -> &str {
    e.caller_proxy
        .split_once('.')
        .map_or(&e.caller_proxy, |(s, _)| s)
}

fn version_label(v: &str) -> &str {
    if v.is_empty() { "(unversioned)" } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::explain::{AuthzDecision, FaultExplanation, VersionShare};

    fn outbound(version: VersionChoice, fault: Option<FaultExplanation>) -> OutboundExplanation {
        OutboundExplanation {
            caller: None,
            config_version: None,
            service: "api".into(),
            method: "GET".into(),
            path: "/".into(),
            routes: vec![],
            version,
            timeout_ms: None,
            retry: None,
            breaker_failures: None,
            endpoints: vec![],
            fault,
        }
    }

    fn share(version: &str, probability: f64) -> VersionShare {
        VersionShare {
            version: version.into(),
            weight: 0,
            probability,
            endpoints: 1,
            admitted_endpoints: 1,
        }
    }

    fn side(version: &str, allowed: bool) -> InboundSide {
        InboundSide {
            version: version.into(),
            proxy: format!("api.{version}"),
            answer: InboundExplanation {
                identity: None,
                config_version: None,
                peer: "p".into(),
                mode: "enforce".into(),
                normalized_path: None,
                bad_path: None,
                exempt: None,
                rules: vec![],
                decision: AuthzDecision {
                    allowed,
                    status: (!allowed).then_some(403),
                    reason: (!allowed).then(|| "identity".into()),
                    rule: None,
                    closest: None,
                },
            },
        }
    }

    #[test]
    fn an_abort_comes_first_then_each_version_by_its_authorization() {
        let fault = FaultExplanation {
            source: "live".into(),
            abort_status: Some(503),
            abort_percent: Some(10.0),
            delay_ms: Some(100),
            delay_percent: Some(100.0),
            expires_unix_ms: None,
        };
        let split = VersionChoice::Split {
            shares: vec![share("v1", 0.8), share("v2", 0.2)],
        };
        let p = predict(
            &outbound(split, Some(fault)),
            &[side("v1", true), side("v2", false)],
        );
        let got: Vec<(&str, Option<u16>, Option<&str>, u64)> = p
            .iter()
            .map(|o| {
                (
                    o.result.as_str(),
                    o.status,
                    o.version.as_deref(),
                    (o.probability * 1000.0).round() as u64,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("aborted", Some(503), None, 100),
                ("forwarded", None, Some("v1"), 720),
                ("denied", Some(403), Some("v2"), 180),
            ]
        );
        assert!(p.iter().all(|o| o.delayed_ms == Some(100)));
    }

    #[test]
    fn a_pinned_version_without_endpoints_is_a_503() {
        let pinned = VersionChoice::Route {
            route: 0,
            version: "v2".into(),
            admitted_endpoints: 0,
        };
        let p = predict(&outbound(pinned, None), &[]);
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].result.as_str(), p[0].status),
            ("no_endpoint", Some(503))
        );
        assert_eq!(p[0].probability, 1.0);
    }

    #[test]
    fn urls_and_callers_are_checked_before_any_proxy_is_asked() {
        assert_eq!(absolute_url("api/x").unwrap(), "http://api/x");
        assert!(absolute_url("https://api/x").is_err());
        let mut plan = MeshPlan {
            trust_domain: "t".into(),
            control_socket: "/x".into(),
            admin_token_sha256: String::new(),
            proxies: vec![ProxyPlan::for_test("api.v2", "api", Some("v2"))],
            policies: Default::default(),
        };
        assert_eq!(caller_proxy(&plan, "api/v2").unwrap().name, "api.v2");
        let err = caller_proxy(&plan, "web").unwrap_err().to_string();
        assert_eq!(err, "no service `web` in the mesh (services: api)");
        plan.proxies.clear();
        assert!(caller_proxy(&plan, "api").is_err());
    }
}
