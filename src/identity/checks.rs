//! Certificate health checks for `meshctl check`: a data-driven list, each check a pure
//! function of the gathered [`Facts`] returning √ / ‼ / × with a hint.

use std::time::Duration;

use serde::Serialize;

use super::rotation::ProxyView;

/// Anchor or issuer closer than this to expiry: warning.
pub const WARN_WITHIN: Duration = Duration::from_secs(60 * 86_400);
/// Anchor, issuer or leaf closer than this to expiry: error.
pub const ERROR_WITHIN: Duration = Duration::from_secs(7 * 86_400);

/// Everything the checks look at, gathered once (by the caller) before any check runs.
#[derive(Debug, Clone)]
pub struct Facts {
    pub now_unix: i64,
    pub anchor_not_after_unix: i64,
    pub issuer_not_after_unix: i64,
    /// Whether the issuer's signature verifies under an anchor of the bundle.
    pub issuer_chains_to_bundle: bool,
    /// Fingerprints of the bundle in the state dir (what proxies should hold).
    pub bundle: Vec<String>,
    /// `None` when no mesh is running.
    pub proxies: Option<Vec<ProxyView>>,
    /// An anchor rotation is unfinished (its checkpoint exists).
    pub rotation_in_progress: bool,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Warning,
    Error,
}

/// One check in the list.
#[derive(Debug)]
pub struct Check {
    /// Stable, for `check -o json` consumers: `category.name`.
    pub id: &'static str,
    pub category: &'static str,
    pub description: &'static str,
    /// What to do when it does not pass.
    pub hint: &'static str,
    run: fn(&Facts) -> (Severity, String),
}

/// A check's result, as rendered and as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub category: &'static str,
    pub description: &'static str,
    pub status: Severity,
    pub detail: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub hint: &'static str,
}

impl Outcome {
    /// An outcome whose hint shows only when the check did not pass.
    pub fn new(
        category: &'static str,
        description: &'static str,
        status: Severity,
        detail: String,
        hint: &'static str,
    ) -> Self {
        Outcome {
            category,
            description,
            status,
            detail,
            hint: if status == Severity::Ok { "" } else { hint },
        }
    }
}

/// The certificate checks, in the order they are shown.
pub const CHECKS: &[Check] = &[
    Check {
        id: "identity.anchor-valid",
        category: "identity",
        description: "trust anchor is valid for more than 60 days",
        hint: "rotate it: meshctl certs rotate anchor",
        run: |f| expiry("trust anchor", f.anchor_not_after_unix, f.now_unix),
    },
    Check {
        id: "identity.issuer-valid",
        category: "identity",
        description: "issuer is valid for more than 60 days",
        hint: "rotate it: meshctl certs rotate issuer",
        run: |f| expiry("issuer", f.issuer_not_after_unix, f.now_unix),
    },
    Check {
        id: "identity.issuer-chains",
        category: "identity",
        description: "issuer chains to the trust bundle",
        hint: "the issuer was replaced by hand: meshctl certs rotate issuer issues a valid one",
        run: |f| {
            if f.issuer_chains_to_bundle {
                (Severity::Ok, String::new())
            } else {
                (
                    Severity::Error,
                    "no anchor in bundle.crt signed issuer.crt".into(),
                )
            }
        },
    },
    Check {
        id: "identity.rotation-finished",
        category: "identity",
        description: "no anchor rotation is left unfinished",
        hint: "finish it: meshctl certs rotate anchor --resume",
        run: |f| {
            if f.rotation_in_progress {
                (
                    Severity::Warning,
                    "a checkpoint exists in .meshctl/rotation.json".into(),
                )
            } else {
                (Severity::Ok, String::new())
            }
        },
    },
    Check {
        id: "proxies.leaf-valid",
        category: "proxies",
        description: "every proxy serves a valid leaf",
        hint: "a proxy that never reported or holds an expired leaf cannot renew: see `meshctl status`",
        run: leaves,
    },
    Check {
        id: "proxies.bundle-current",
        category: "proxies",
        description: "every proxy holds the current trust bundle",
        hint: "a stale bundle fails handshakes after the next rotation step: see `meshctl status`, then `meshctl certs rotate anchor --resume`",
        run: bundles,
    },
];

impl Check {
    pub fn run(&self, facts: &Facts) -> Outcome {
        let (status, detail) = (self.run)(facts);
        Outcome {
            category: self.category,
            description: self.description,
            status,
            detail,
            hint: if status == Severity::Ok {
                ""
            } else {
                self.hint
            },
        }
    }
}

/// Runs every check.
pub fn run_all(facts: &Facts) -> Vec<Outcome> {
    CHECKS.iter().map(|c| c.run(facts)).collect()
}

/// Runs every check, each with its stable ID.
pub fn run_all_with_ids(facts: &Facts) -> Vec<(&'static str, Outcome)> {
    CHECKS.iter().map(|c| (c.id, c.run(facts))).collect()
}

fn expiry(what: &str, not_after: i64, now: i64) -> (Severity, String) {
    let left = not_after - now;
    let detail = if left <= 0 {
        format!(
            "{what} expired {} ago",
            crate::duration::format_compact(-left)
        )
    } else {
        format!(
            "{what} expires in {}",
            crate::duration::format_compact(left)
        )
    };
    let severity = if left < ERROR_WITHIN.as_secs() as i64 {
        Severity::Error
    } else if left < WARN_WITHIN.as_secs() as i64 {
        Severity::Warning
    } else {
        Severity::Ok
    };
    (severity, detail)
}

fn leaves(f: &Facts) -> (Severity, String) {
    let Some(proxies) = &f.proxies else {
        return (Severity::Ok, "no mesh running".into());
    };
    let bad: Vec<String> = proxies
        .iter()
        .filter_map(|p| match &p.report {
            None => Some(format!("{} (never reported)", p.instance)),
            Some(c) if c.not_after_unix <= f.now_unix => Some(format!("{} (expired)", p.instance)),
            Some(_) => None,
        })
        .collect();
    if bad.is_empty() {
        (Severity::Ok, format!("{} proxies", proxies.len()))
    } else {
        (Severity::Error, bad.join(", "))
    }
}

fn bundles(f: &Facts) -> (Severity, String) {
    let Some(proxies) = &f.proxies else {
        return (Severity::Ok, "no mesh running".into());
    };
    let stale: Vec<&str> = proxies
        .iter()
        .filter(|p| p.report.as_ref().is_some_and(|c| c.bundle != f.bundle))
        .map(|p| p.instance.as_str())
        .collect();
    if stale.is_empty() {
        (Severity::Ok, format!("{} proxies", proxies.len()))
    } else {
        (
            Severity::Error,
            format!("stale bundle: {}", stale.join(", ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::rotation::CertView;

    const DAY: i64 = 86_400;

    fn facts() -> Facts {
        Facts {
            now_unix: 1_000 * DAY,
            anchor_not_after_unix: 1_300 * DAY,
            issuer_not_after_unix: 1_090 * DAY,
            issuer_chains_to_bundle: true,
            bundle: vec!["A".into()],
            proxies: Some(vec![ProxyView {
                instance: "web".into(),
                connected: true,
                report: Some(CertView {
                    serial: "01".into(),
                    not_after_unix: 1_001 * DAY,
                    issuer: "I".into(),
                    bundle: vec!["A".into()],
                }),
            }]),
            rotation_in_progress: false,
        }
    }

    fn worst(f: &Facts) -> Severity {
        run_all(f)
            .iter()
            .map(|o| o.status)
            .max()
            .unwrap_or(Severity::Ok)
    }

    #[test]
    fn a_healthy_mesh_passes_every_check_without_hints() {
        let outcomes = run_all(&facts());
        assert_eq!(outcomes.len(), CHECKS.len());
        assert!(
            outcomes
                .iter()
                .all(|o| o.status == Severity::Ok && o.hint.is_empty())
        );
    }

    #[test]
    fn anchor_and_issuer_warn_under_60_days_and_fail_under_7() {
        let mut f = facts();
        f.issuer_not_after_unix = f.now_unix + 59 * DAY;
        assert_eq!(worst(&f), Severity::Warning);
        f.anchor_not_after_unix = f.now_unix + 6 * DAY;
        let outcomes = run_all(&f);
        assert_eq!(outcomes[0].status, Severity::Error);
        assert_eq!(outcomes[0].hint, "rotate it: meshctl certs rotate anchor");
        assert_eq!(outcomes[1].status, Severity::Warning);
        f.anchor_not_after_unix = f.now_unix - 3 * DAY;
        assert_eq!(run_all(&f)[0].detail, "trust anchor expired 3d ago");
    }

    #[test]
    fn a_stale_bundle_or_a_silent_proxy_is_an_error() {
        let mut f = facts();
        f.bundle = vec!["A".into(), "B".into()];
        let outcomes = run_all(&f);
        assert_eq!(outcomes[5].status, Severity::Error);
        assert_eq!(outcomes[5].detail, "stale bundle: web");
        let mut f = facts();
        if let Some(p) = f.proxies.as_mut() {
            p[0].report = None;
        }
        assert_eq!(run_all(&f)[4].detail, "web (never reported)");
    }

    #[test]
    fn without_a_mesh_only_the_ca_is_checked() {
        let mut f = facts();
        f.proxies = None;
        f.rotation_in_progress = true;
        let outcomes = run_all(&f);
        assert_eq!(outcomes[4].detail, "no mesh running");
        assert_eq!(outcomes[3].status, Severity::Warning);
    }
}
