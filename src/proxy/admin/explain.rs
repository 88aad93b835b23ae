//! The admin listener's `/explain` and `/explain/inbound`: a dry run of one request through
//! this proxy's live configuration — the routes, split, circuits, retry budget and faults of
//! the caller's side, or the authorization of the destination's side. The same decision
//! functions the data path runs, on the same objects, so the answer is what a request sent now
//! would meet; nothing is sent and nothing is counted. Schema: [`crate::api::explain`].

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use crate::api::explain::{
    EndpointState, InboundExplanation, OutboundExplanation, RetryExplanation, VersionChoice,
    VersionShare,
};
use crate::proxy::admin::dump::{ConfigDump, Listener};
use crate::proxy::outbound::breaker::CircuitView;
use crate::proxy::outbound::peer::Peer;
use crate::proxy::outbound::retry::may_retry;
use crate::proxy::outbound::route::Route;

/// Most `header=` parameters one question may carry.
const MAX_HEADERS: usize = 64;

/// Why a question cannot be answered (400, the message as the body).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExplainError {
    #[error("give {0}=")]
    Missing(&'static str),
    #[error("invalid method `{0}`")]
    Method(String),
    #[error("invalid url `{0}`: give http://SERVICE/PATH")]
    Url(String),
    #[error("invalid header `{0}`: give NAME:VALUE")]
    Header(String),
    #[error("more than {MAX_HEADERS} headers")]
    TooManyHeaders,
    #[error("{service} is not an upstream of this proxy ({known})")]
    UnknownService { service: String, known: String },
    #[error("this proxy has no inbound listener")]
    NoInbound,
}

/// One request, as the query names it.
#[derive(Debug)]
struct Question {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    peer: Option<String>,
}

impl ConfigDump {
    /// `GET /explain?method=&url=&header=…`: the caller's side.
    pub fn explain_outbound(&self, query: &str) -> Result<OutboundExplanation, ExplainError> {
        let q = Question::parse(query)?;
        let service = q
            .uri
            .host()
            .ok_or_else(|| ExplainError::Url(q.uri.to_string()))?
            .to_string();
        let route = self.route_to(&service)?;
        Ok(self.outbound_answer(&q, service, &route))
    }

    /// `GET /explain/inbound?peer=&method=&url=&header=…`: the destination's side.
    pub fn explain_inbound(&self, query: &str) -> Result<InboundExplanation, ExplainError> {
        let q = Question::parse(query)?;
        let peer = q.peer.as_deref().ok_or(ExplainError::Missing("peer"))?;
        let authz = self
            .listeners()
            .iter()
            .find_map(|l| match l {
                Listener::Inbound { authz, .. } => Some(authz.clone()),
                _ => None,
            })
            .ok_or(ExplainError::NoInbound)?;
        let mut answer = authz.now().explain(peer, &q.method, &q.uri, &q.headers);
        answer.identity = self.identity();
        answer.config_version = self.config_version();
        Ok(answer)
    }

    /// The live route to `service`: an outbound listener's, or the HTTP-proxy table's.
    fn route_to(&self, service: &str) -> Result<Arc<Route<Arc<Peer>>>, ExplainError> {
        let listeners = self.listeners();
        let mut known = Vec::new();
        for l in listeners.iter() {
            match l {
                Listener::Outbound {
                    service: s, route, ..
                } => {
                    if s == service {
                        return Ok(route.load_full());
                    }
                    known.push(s.clone());
                }
                Listener::HttpProxy { table, .. } => {
                    let table = table.load();
                    if let Some(cell) = table.get(service) {
                        return Ok(cell.load_full());
                    }
                    known.extend(table.keys().cloned());
                }
                Listener::Inbound { .. } => {}
            }
        }
        known.sort();
        known.dedup();
        Err(ExplainError::UnknownService {
            service: service.to_string(),
            known: if known.is_empty() {
                "it has none".into()
            } else {
                format!("its upstreams: {}", known.join(", "))
            },
        })
    }

    fn outbound_answer(
        &self,
        q: &Question,
        service: String,
        route: &Route<Arc<Peer>>,
    ) -> OutboundExplanation {
        let now = Instant::now();
        let path = q.uri.path();
        let rules = route.rules();
        let selected = route.select(&q.method, path, &q.headers);
        let breaker = rules.breaker_failures();
        // As `retry::send` admits an endpoint, without taking a probe.
        let admits = |p: &Arc<Peer>| breaker.is_none() || p.breaker().would_admit(now);
        let routes = rules.explain(&q.method, path, &q.headers);
        let version = match (selected.version, routes.iter().find(|r| r.matched)) {
            (Some(v), Some(matched)) => VersionChoice::Route {
                route: matched.index,
                version: v.to_string(),
                admitted_endpoints: (route.backends().iter())
                    .filter(|b| b.version == v)
                    .flat_map(|b| &b.endpoints)
                    .filter(|p| admits(p))
                    .count(),
            },
            _ => {
                let shares = route.shares(admits);
                VersionChoice::Split {
                    shares: (route.backends().iter().zip(shares))
                        .map(|(b, probability)| VersionShare {
                            version: b.version.clone(),
                            weight: b.weight,
                            probability,
                            endpoints: b.endpoints.len(),
                            admitted_endpoints: b.endpoints.iter().filter(|p| admits(p)).count(),
                        })
                        .collect(),
                }
            }
        };
        let retry = rules.retry().map(|policy| {
            let applies = may_retry(&selected, &q.method);
            RetryExplanation {
                attempts: policy.attempts,
                on: policy.on.iter().map(ToString::to_string).collect(),
                backoff_ms: policy.backoff.as_millis() as u64,
                applies,
                because: if selected.retryable {
                    "the matched route is retryable".into()
                } else if applies {
                    format!("{} is idempotent", q.method)
                } else {
                    format!(
                        "{} is not idempotent and no retryable route matched",
                        q.method
                    )
                },
                budget: rules.budget().state(now),
            }
        });
        let endpoints = (route.backends().iter())
            .flat_map(|b| b.endpoints.iter().map(move |p| (b, p)))
            .map(|(b, p)| endpoint_state(&b.version, p, now, admits(p)))
            .collect();
        OutboundExplanation {
            caller: self.identity(),
            config_version: self.config_version(),
            service,
            method: q.method.to_string(),
            path: path.to_string(),
            routes,
            version,
            timeout_ms: selected.timeout.map(|t| t.as_millis() as u64),
            retry,
            breaker_failures: breaker,
            endpoints,
            fault: rules.explain_fault(&q.method, path, &q.headers),
        }
    }
}

fn endpoint_state(version: &str, p: &Peer, now: Instant, admits: bool) -> EndpointState {
    let (circuit, failures, probe_in_ms) = match p.breaker().view(now) {
        CircuitView::Closed { failures } => ("closed", Some(failures), None),
        CircuitView::Open { probe_in_ms, .. } => ("open", None, Some(probe_in_ms)),
        CircuitView::Probing { .. } => ("probing", None, None),
    };
    EndpointState {
        version: version.to_string(),
        address: p.addr().to_string(),
        identity: p.id().to_string(),
        circuit: circuit.into(),
        failures,
        probe_in_ms,
        admits,
    }
}

impl Question {
    fn parse(query: &str) -> Result<Question, ExplainError> {
        let mut method = None;
        let mut url = None;
        let mut headers = HeaderMap::new();
        let mut peer = None;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "method" => {
                    method = Some(
                        Method::from_bytes(value.as_bytes())
                            .map_err(|_| ExplainError::Method(value.to_string()))?,
                    )
                }
                "url" => {
                    url = Some(
                        value
                            .parse::<Uri>()
                            .map_err(|_| ExplainError::Url(value.to_string()))?,
                    )
                }
                "header" => {
                    if headers.len() >= MAX_HEADERS {
                        return Err(ExplainError::TooManyHeaders);
                    }
                    let bad = || ExplainError::Header(value.to_string());
                    let (name, v) = value.split_once(':').ok_or_else(bad)?;
                    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
                    let v = HeaderValue::from_str(v.trim()).map_err(|_| bad())?;
                    headers.append(name, v);
                }
                "peer" => peer = Some(value.to_string()),
                _ => {}
            }
        }
        let uri = url.ok_or(ExplainError::Missing("url"))?;
        if uri.path_and_query().is_none() && uri.host().is_none() {
            return Err(ExplainError::Url(uri.to_string()));
        }
        Ok(Question {
            method: method.unwrap_or(Method::GET),
            uri,
            headers,
            peer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_parses_its_method_url_and_repeated_headers() {
        let q = Question::parse(
            "method=POST&url=http%3A%2F%2Fapi%2Fa%3Fb%3D1&header=x-canary%3A%201&header=x-a:2&peer=spiffe%3A%2F%2Ft%2Fx",
        )
        .unwrap();
        assert_eq!(q.method, Method::POST);
        assert_eq!(q.uri.host(), Some("api"));
        assert_eq!(q.uri.path(), "/a");
        assert_eq!(q.headers["x-canary"], "1");
        assert_eq!(q.headers["x-a"], "2");
        assert_eq!(q.peer.as_deref(), Some("spiffe://t/x"));
    }

    #[test]
    fn bad_questions_say_what_is_wrong() {
        assert_eq!(
            Question::parse("method=GET").unwrap_err(),
            ExplainError::Missing("url")
        );
        assert_eq!(
            Question::parse("url=http://api/&method=G%20T").unwrap_err(),
            ExplainError::Method("G T".into())
        );
        assert_eq!(
            Question::parse("url=http://api/&header=nocolon").unwrap_err(),
            ExplainError::Header("nocolon".into())
        );
        assert_eq!(
            Question::parse("url=http://api/&header=bad%20name:1").unwrap_err(),
            ExplainError::Header("bad name:1".into())
        );
        let many = "&header=a:1".repeat(MAX_HEADERS + 1);
        assert_eq!(
            Question::parse(&format!("url=/{many}")).unwrap_err(),
            ExplainError::TooManyHeaders
        );
    }
}
