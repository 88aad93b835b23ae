//! Workload identity from projected service-account tokens: the API server reviews each
//! token (TokenReview, audience `meshctl`) and names the service account and the pod it was
//! issued for. Results are cached briefly by the token's hash; refusals are counted by reason.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use kube::api::{Api, PostParams};

use super::super::inject::TOKEN_AUDIENCE;
use super::lock;
use crate::api::token::token_hash;

/// How long a review result is reused. The pod is checked on every call anyway (a deleted
/// pod's token stops working at once); this only spares the API server one review per
/// acknowledgement.
pub const REVIEW_CACHE_TTL: Duration = Duration::from_secs(60);
/// Cached reviews kept at most (expired ones are dropped first when it is reached).
const MAX_CACHED: usize = 10_000;

/// The API server's extra fields naming the pod a bound token was issued for.
const POD_NAME_EXTRA: &str = "authentication.kubernetes.io/pod-name";
const POD_UID_EXTRA: &str = "authentication.kubernetes.io/pod-uid";

/// Who a valid token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewed {
    pub namespace: String,
    pub service_account: String,
    pub pod_name: String,
    pub pod_uid: String,
}

/// Why a proxy's credentials were refused (the `reason` of the refusal counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The API server does not accept the token (expired, forged, revoked).
    Unauthenticated,
    /// Valid, but not for the `meshctl` audience.
    Audience,
    /// Valid, but not a service account's, or not bound to a pod.
    NotPodBound,
    /// The pod it was issued for no longer exists, was replaced, or has finished.
    PodGone,
    /// The pod now runs under another service account.
    ServiceAccount,
    /// The review itself failed (API server unreachable); the proxy retries.
    ReviewFailed,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::Audience => "wrong_audience",
            Refusal::NotPodBound => "not_pod_bound",
            Refusal::PodGone => "pod_gone",
            Refusal::ServiceAccount => "service_account_mismatch",
            Refusal::ReviewFailed => "review_failed",
        }
    }
}

/// Reviews tokens with the API server.
#[derive(Clone)]
pub struct Reviewer {
    client: kube::Client,
    cache: Arc<Mutex<HashMap<String, (Reviewed, Instant)>>>,
    refused: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

impl std::fmt::Debug for Reviewer {
    // The cache is keyed by token hashes; nothing of it is worth printing.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reviewer").finish_non_exhaustive()
    }
}

impl Reviewer {
    pub fn new(client: kube::Client) -> Self {
        Reviewer {
            client,
            cache: Arc::default(),
            refused: Arc::default(),
        }
    }

    /// Counts a refusal decided here or by the caller (pod checks).
    pub fn count(&self, refusal: Refusal) {
        *lock(&self.refused).entry(refusal.reason()).or_default() += 1;
    }

    pub fn refusals(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.refused).clone()
    }

    /// Who `token` belongs to, from the cache or the API server.
    pub async fn review(&self, token: &str) -> Result<Reviewed, Refusal> {
        let hash = token_hash(token);
        let now = Instant::now();
        if let Some((who, at)) = lock(&self.cache).get(&hash)
            && now.duration_since(*at) < REVIEW_CACHE_TTL
        {
            return Ok(who.clone());
        }
        let result = self.ask(token).await;
        match &result {
            Ok(who) => {
                let mut cache = lock(&self.cache);
                if cache.len() >= MAX_CACHED {
                    cache.retain(|_, (_, at)| now.duration_since(*at) < REVIEW_CACHE_TTL);
                    if cache.len() >= MAX_CACHED {
                        cache.clear();
                    }
                }
                cache.insert(hash, (who.clone(), now));
            }
            Err(refusal) => {
                self.count(*refusal);
                tracing::warn!(reason = refusal.reason(), "refused a proxy's token");
            }
        }
        result
    }

    async fn ask(&self, token: &str) -> Result<Reviewed, Refusal> {
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_string()),
                audiences: Some(vec![TOKEN_AUDIENCE.to_string()]),
            },
            ..Default::default()
        };
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "TokenReview failed");
                Refusal::ReviewFailed
            })?;
        reviewed(&answer)
    }
}

/// What a TokenReview's status says about the token.
pub fn reviewed(answer: &TokenReview) -> Result<Reviewed, Refusal> {
    let status = answer.status.as_ref().ok_or(Refusal::Unauthenticated)?;
    if status.authenticated != Some(true) {
        return Err(Refusal::Unauthenticated);
    }
    // The API server lists the audiences the token is valid for among those asked.
    if !status
        .audiences
        .iter()
        .flatten()
        .any(|a| a == TOKEN_AUDIENCE)
    {
        return Err(Refusal::Audience);
    }
    let user = status.user.as_ref().ok_or(Refusal::NotPodBound)?;
    let username = user.username.as_deref().unwrap_or_default();
    let (namespace, service_account) = username
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
        .ok_or(Refusal::NotPodBound)?;
    let extra = |key: &str| {
        user.extra
            .as_ref()
            .and_then(|e| e.get(key))
            .and_then(|v| v.first())
            .cloned()
            .ok_or(Refusal::NotPodBound)
    };
    Ok(Reviewed {
        namespace: namespace.to_string(),
        service_account: service_account.to_string(),
        pod_name: extra(POD_NAME_EXTRA)?,
        pod_uid: extra(POD_UID_EXTRA)?,
    })
}
