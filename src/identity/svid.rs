//! The X.509-SVID rules webpki does not check, evaluated one by one so each can be named.

use std::fmt;

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use super::spiffe::SpiffeId;

/// One rule of the X.509-SVID specification that a leaf (or signing) certificate must meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SvidRule {
    /// A leaf carries exactly one URI SAN: its SPIFFE ID.
    OneUriSan,
    /// That URI is a valid SPIFFE ID with a non-root path.
    SpiffeId,
    /// With an empty subject, the Subject Alternative Name extension is marked critical
    /// (RFC 5280 §4.2.1.6, required by X.509-SVID).
    SanCriticalWithoutSubject,
    /// A leaf is not a CA: basicConstraints cA=false (or absent).
    NotCa,
    /// The Key Usage extension is present and marked critical.
    KeyUsageCritical,
    /// Key Usage includes digitalSignature.
    KeyUsageDigitalSignature,
    /// A leaf's Key Usage has neither keyCertSign nor cRLSign.
    KeyUsageNoCertSign,
    /// Extended Key Usage, when present, includes both serverAuth and clientAuth.
    ExtendedKeyUsage,
    /// A signing certificate is a CA: basicConstraints cA=true.
    IsCa,
    /// A signing certificate's Key Usage includes keyCertSign.
    KeyUsageCertSign,
}

impl SvidRule {
    pub fn name(self) -> &'static str {
        match self {
            SvidRule::OneUriSan => "one-uri-san",
            SvidRule::SpiffeId => "spiffe-id",
            SvidRule::SanCriticalWithoutSubject => "san-critical-without-subject",
            SvidRule::NotCa => "not-ca",
            SvidRule::KeyUsageCritical => "key-usage-critical",
            SvidRule::KeyUsageDigitalSignature => "key-usage-digital-signature",
            SvidRule::KeyUsageNoCertSign => "key-usage-no-cert-sign",
            SvidRule::ExtendedKeyUsage => "eku-server-and-client",
            SvidRule::IsCa => "is-ca",
            SvidRule::KeyUsageCertSign => "key-usage-cert-sign",
        }
    }
}

impl fmt::Display for SvidRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The verdict on one rule, with what was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleOutcome {
    pub rule: SvidRule,
    pub passed: bool,
    pub detail: String,
}

/// A leaf that breaks an SVID rule.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("X.509-SVID rule {rule} failed: {detail}")]
pub struct SvidViolation {
    pub rule: SvidRule,
    pub detail: String,
}

/// Whether the certificate claims to be a CA.
pub fn is_ca(cert: &X509Certificate<'_>) -> bool {
    matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca)
}

/// URI SANs of a certificate, in order.
pub fn uri_sans<'a>(cert: &'a X509Certificate<'a>) -> Vec<&'a str> {
    match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::URI(u) => Some(*u),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Evaluates every leaf rule, in a fixed order, and reports each one.
pub fn leaf_rules(cert: &X509Certificate<'_>) -> Vec<RuleOutcome> {
    let mut out = Vec::with_capacity(9);
    let mut push = |rule, passed, detail: String| {
        out.push(RuleOutcome {
            rule,
            passed,
            detail,
        })
    };

    let uris = uri_sans(cert);
    push(
        SvidRule::OneUriSan,
        uris.len() == 1,
        format!("{} URI SAN(s)", uris.len()),
    );
    match uris.as_slice() {
        [one] => match one.parse::<SpiffeId>() {
            Ok(id) => push(SvidRule::SpiffeId, true, id.to_string()),
            Err(e) => push(SvidRule::SpiffeId, false, e.to_string()),
        },
        _ => push(
            SvidRule::SpiffeId,
            false,
            "no single URI SAN to check".into(),
        ),
    }

    let subject_empty = cert.subject().iter().next().is_none();
    match (subject_empty, cert.subject_alternative_name()) {
        (false, _) => push(
            SvidRule::SanCriticalWithoutSubject,
            true,
            "subject is not empty".into(),
        ),
        (true, Ok(Some(san))) => push(
            SvidRule::SanCriticalWithoutSubject,
            san.critical,
            format!("empty subject, SAN critical={}", san.critical),
        ),
        (true, Ok(None)) => push(
            SvidRule::SanCriticalWithoutSubject,
            false,
            "empty subject and no SAN extension".into(),
        ),
        (true, Err(e)) => push(
            SvidRule::SanCriticalWithoutSubject,
            false,
            format!("unreadable SAN extension: {e}"),
        ),
    }

    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => {
            push(SvidRule::NotCa, false, "basicConstraints cA=true".into())
        }
        Ok(Some(_)) => push(SvidRule::NotCa, true, "basicConstraints cA=false".into()),
        Ok(None) => push(
            SvidRule::NotCa,
            true,
            "no basicConstraints (cA defaults to false)".into(),
        ),
        Err(e) => push(
            SvidRule::NotCa,
            false,
            format!("unreadable basicConstraints: {e}"),
        ),
    }

    match cert.key_usage() {
        Ok(Some(ku)) => {
            push(
                SvidRule::KeyUsageCritical,
                ku.critical,
                format!("critical={}", ku.critical),
            );
            push(
                SvidRule::KeyUsageDigitalSignature,
                ku.value.digital_signature(),
                format!("digitalSignature={}", ku.value.digital_signature()),
            );
            let signs = ku.value.key_cert_sign() || ku.value.crl_sign();
            push(
                SvidRule::KeyUsageNoCertSign,
                !signs,
                format!(
                    "keyCertSign={} cRLSign={}",
                    ku.value.key_cert_sign(),
                    ku.value.crl_sign()
                ),
            );
        }
        Ok(None) => {
            push(
                SvidRule::KeyUsageCritical,
                false,
                "no Key Usage extension".into(),
            );
            push(
                SvidRule::KeyUsageDigitalSignature,
                false,
                "no Key Usage extension".into(),
            );
            push(
                SvidRule::KeyUsageNoCertSign,
                true,
                "no Key Usage extension".into(),
            );
        }
        Err(e) => {
            for rule in [
                SvidRule::KeyUsageCritical,
                SvidRule::KeyUsageDigitalSignature,
                SvidRule::KeyUsageNoCertSign,
            ] {
                push(rule, false, format!("unreadable Key Usage: {e}"));
            }
        }
    }

    match cert.extended_key_usage() {
        Ok(Some(eku)) => {
            let ok = eku.value.server_auth && eku.value.client_auth;
            push(
                SvidRule::ExtendedKeyUsage,
                ok,
                format!(
                    "serverAuth={} clientAuth={}",
                    eku.value.server_auth, eku.value.client_auth
                ),
            );
        }
        Ok(None) => push(
            SvidRule::ExtendedKeyUsage,
            true,
            "no Extended Key Usage (allowed)".into(),
        ),
        Err(e) => push(
            SvidRule::ExtendedKeyUsage,
            false,
            format!("unreadable Extended Key Usage: {e}"),
        ),
    }
    out
}

/// Evaluates the rules for a signing (CA) certificate in an SVID chain.
pub fn signing_rules(cert: &X509Certificate<'_>) -> Vec<RuleOutcome> {
    let ca = is_ca(cert);
    let cert_sign = matches!(cert.key_usage(), Ok(Some(ku)) if ku.value.key_cert_sign());
    vec![
        RuleOutcome {
            rule: SvidRule::IsCa,
            passed: ca,
            detail: format!("basicConstraints cA={ca}"),
        },
        RuleOutcome {
            rule: SvidRule::KeyUsageCertSign,
            passed: cert_sign,
            detail: format!("keyCertSign={cert_sign}"),
        },
    ]
}

/// Checks a leaf against every SVID rule and returns its SPIFFE ID, or the first broken rule.
pub fn check_leaf(cert: &X509Certificate<'_>) -> Result<SpiffeId, SvidViolation> {
    if let Some(bad) = leaf_rules(cert).into_iter().find(|o| !o.passed) {
        return Err(SvidViolation {
            rule: bad.rule,
            detail: bad.detail,
        });
    }
    // Both rules above passed, so there is exactly one URI and it parses.
    uri_sans(cert)
        .first()
        .and_then(|u| u.parse().ok())
        .ok_or(SvidViolation {
            rule: SvidRule::SpiffeId,
            detail: "no SPIFFE ID".into(),
        })
}
