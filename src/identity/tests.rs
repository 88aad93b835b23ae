//! Verification tests: for every X.509-SVID rule a leaf crafted to break exactly that rule.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{
    CertificateParams, CustomExtension, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType,
};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, UnixTime};

use super::ca::{self, SigningCa};
use super::svid::SvidRule;
use super::verify::{MeshClientVerifier, MeshServerVerifier, TrustBundle, Usage, VerifyError};
use super::{SpiffeId, WorkloadIdentity, pem};

const ID: &str = "spiffe://mesh.local/ns/local/sa/api";

/// A throwaway mesh CA: bundle + issuer, all in memory.
struct TestCa {
    bundle: Arc<TrustBundle>,
    issuer: SigningCa,
}

impl TestCa {
    fn new() -> Self {
        let anchor = ca::new_anchor("mesh.local", Duration::from_secs(86_400 * 10)).unwrap();
        let anchor_ca = SigningCa::from_pem(&anchor.cert_pem, &anchor.key_pem).unwrap();
        let issuer = anchor_ca
            .sign_issuer("mesh.local", Duration::from_secs(86_400 * 5))
            .unwrap();
        TestCa {
            bundle: Arc::new(TrustBundle::from_pem(&anchor.cert_pem).unwrap()),
            issuer: SigningCa::from_pem(&issuer.cert_pem, &issuer.key_pem).unwrap(),
        }
    }

    /// Signs a leaf built from valid SVID params after `tweak` breaks whatever it breaks.
    fn leaf(
        &self,
        tweak: impl FnOnce(&mut CertificateParams),
    ) -> (Vec<CertificateDer<'static>>, String) {
        let (chain, _, key) = self.leaf_with_pem(tweak);
        (chain, key)
    }

    /// Like [`TestCa::leaf`], also returning the PEM chain (leaf + issuer).
    fn leaf_with_pem(
        &self,
        tweak: impl FnOnce(&mut CertificateParams),
    ) -> (Vec<CertificateDer<'static>>, String, String) {
        let id: SpiffeId = ID.parse().unwrap();
        let mut params =
            ca::leaf_params(&id, SystemTime::now(), Duration::from_secs(3_600)).unwrap();
        tweak(&mut params);
        let key = ca::new_key().unwrap();
        let cert = params
            .signed_by(&key, &self.issuer.issuer().unwrap())
            .unwrap();
        let chain = vec![
            cert.der().clone(),
            pem::first_cert(&self.issuer.cert_pem).unwrap(),
        ];
        let chain_pem = format!("{}{}", cert.pem(), self.issuer.cert_pem);
        (chain, chain_pem, key.serialize_pem())
    }

    fn verify(&self, chain: &[CertificateDer<'static>]) -> Result<SpiffeId, VerifyError> {
        self.bundle
            .verify(&chain[0], &chain[1..], Usage::Client, UnixTime::now())
    }
}

/// A change to valid leaf parameters that breaks one rule.
type Tweak = Box<dyn FnOnce(&mut CertificateParams)>;

fn broken_rule(result: Result<SpiffeId, VerifyError>) -> SvidRule {
    match result {
        Err(VerifyError::Svid(v)) => v.rule,
        other => panic!("expected an SVID rule violation, got {other:?}"),
    }
}

#[test]
fn positive_control_passes_for_both_usages() {
    let ca = TestCa::new();
    let (chain, _) = ca.leaf(|_| {});
    assert_eq!(ca.verify(&chain).unwrap().as_str(), ID);
    assert!(
        ca.bundle
            .verify(&chain[0], &chain[1..], Usage::Server, UnixTime::now())
            .is_ok()
    );
}

#[test]
fn each_svid_rule_is_enforced_and_named() {
    let ca = TestCa::new();
    let uri = |s: &str| SanType::URI(s.try_into().unwrap());
    let cases: Vec<(SvidRule, Tweak)> = vec![
        (
            SvidRule::OneUriSan,
            Box::new(move |p| {
                p.subject_alt_names
                    .push(uri("spiffe://mesh.local/ns/local/sa/other"))
            }),
        ),
        (
            SvidRule::OneUriSan,
            Box::new(|p| {
                p.subject_alt_names = vec![SanType::DnsName("api.local".try_into().unwrap())]
            }),
        ),
        (
            SvidRule::SpiffeId,
            Box::new(move |p| {
                p.subject_alt_names = vec![uri("https://mesh.local/ns/local/sa/api")]
            }),
        ),
        (
            SvidRule::SpiffeId,
            Box::new(move |p| p.subject_alt_names = vec![uri("spiffe://mesh.local")]),
        ),
        (
            SvidRule::NotCa,
            Box::new(|p| p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained)),
        ),
        (
            SvidRule::KeyUsageCritical,
            Box::new(|p| {
                // keyUsage (2.5.29.15) = BIT STRING digitalSignature, marked NOT critical.
                p.key_usages.clear();
                let mut ext = CustomExtension::from_oid_content(
                    &[2, 5, 29, 15],
                    vec![0x03, 0x02, 0x07, 0x80],
                );
                ext.set_criticality(false);
                p.custom_extensions.push(ext);
            }),
        ),
        (
            SvidRule::KeyUsageCritical,
            Box::new(|p| p.key_usages.clear()),
        ),
        (
            SvidRule::KeyUsageDigitalSignature,
            Box::new(|p| p.key_usages = vec![KeyUsagePurpose::KeyEncipherment]),
        ),
        (
            SvidRule::KeyUsageNoCertSign,
            Box::new(|p| {
                p.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyCertSign,
                ]
            }),
        ),
        (
            SvidRule::KeyUsageNoCertSign,
            Box::new(|p| {
                p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign]
            }),
        ),
        (
            SvidRule::ExtendedKeyUsage,
            Box::new(|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]),
        ),
        (
            SvidRule::ExtendedKeyUsage,
            Box::new(|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth]),
        ),
    ];
    for (rule, tweak) in cases {
        let (chain, _) = ca.leaf(tweak);
        let got = broken_rule(ca.verify(&chain));
        assert_eq!(
            got, rule,
            "leaf crafted to break {rule} was reported as breaking {got}"
        );
        // The message names the rule, so an operator reading a log knows what to fix.
        let message = ca.verify(&chain).unwrap_err().to_string();
        assert!(message.contains(rule.name()), "{message}");
    }
}

#[test]
fn eku_may_be_absent() {
    let ca = TestCa::new();
    let (chain, _) = ca.leaf(|p| p.extended_key_usages.clear());
    assert!(ca.verify(&chain).is_ok());
}

#[test]
fn expired_and_not_yet_valid_leaves_are_rejected() {
    let ca = TestCa::new();
    let (expired, _) = ca.leaf(|p| {
        p.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(2);
        p.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    });
    assert_eq!(ca.verify(&expired), Err(VerifyError::Expired));
    let (future, _) = ca.leaf(|p| {
        p.not_before = time::OffsetDateTime::now_utc() + time::Duration::days(1);
        p.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(2);
    });
    assert_eq!(ca.verify(&future), Err(VerifyError::NotYetValid));
}

#[test]
fn leaf_from_an_unrelated_ca_with_the_same_identity_is_rejected() {
    let ours = TestCa::new();
    let theirs = TestCa::new();
    let (chain, _) = theirs.leaf(|_| {});
    assert_eq!(ours.verify(&chain), Err(VerifyError::UnknownIssuer));
}

/// A Subject Alternative Name extension holding one URI, with the given criticality.
fn uri_san_extension(uri: &str, critical: bool) -> CustomExtension {
    // SEQUENCE { [6] IA5String uri } — short lengths only (the URIs here are < 128 bytes).
    let mut content = vec![0x30, (uri.len() + 2) as u8, 0x86, uri.len() as u8];
    content.extend_from_slice(uri.as_bytes());
    let mut ext = CustomExtension::from_oid_content(&[2, 5, 29, 17], content);
    ext.set_criticality(critical);
    ext
}

#[test]
fn an_empty_subject_needs_a_critical_san() {
    let ca = TestCa::new();
    let without_subject = |critical| {
        move |p: &mut CertificateParams| {
            p.distinguished_name = rcgen::DistinguishedName::new();
            p.subject_alt_names.clear();
            p.custom_extensions.push(uri_san_extension(ID, critical));
        }
    };
    let (lax, _) = ca.leaf(without_subject(false));
    assert_eq!(
        broken_rule(ca.verify(&lax)),
        SvidRule::SanCriticalWithoutSubject
    );
    // Refused for the server role too, not only for clients.
    let server = ca
        .bundle
        .verify(&lax[0], &lax[1..], Usage::Server, UnixTime::now());
    assert_eq!(broken_rule(server), SvidRule::SanCriticalWithoutSubject);
    let (strict, _) = ca.leaf(without_subject(true));
    assert_eq!(ca.verify(&strict).unwrap().as_str(), ID);
}

#[test]
fn client_verifier_refuses_a_foreign_trust_domain_signed_by_our_issuer() {
    use rustls::server::danger::ClientCertVerifier;
    let ca = TestCa::new();
    let verifier = MeshClientVerifier::new(ca.bundle.clone(), "mesh.local");
    let (ours, _) = ca.leaf(|_| {});
    assert!(
        verifier
            .verify_client_cert(&ours[0], &ours[1..], UnixTime::now())
            .is_ok()
    );
    // Our own issuer signed it, so chain and SVID rules pass: only the trust domain is wrong.
    let foreign = "spiffe://evil.example/ns/local/sa/web";
    let (theirs, _) = ca.leaf(|p| {
        p.subject_alt_names = vec![SanType::URI(foreign.try_into().unwrap())];
    });
    assert!(ca.verify(&theirs).is_ok(), "the chain itself is valid");
    let err = verifier
        .verify_client_cert(&theirs[0], &theirs[1..], UnixTime::now())
        .unwrap_err();
    assert_eq!(
        super::verify::handshake_failure_reason(&err),
        "foreign_trust_domain"
    );
    assert!(err.to_string().contains("evil.example"), "{err}");
}

#[test]
fn server_verifier_enforces_the_expected_identity() {
    use rustls::client::danger::ServerCertVerifier;
    let ca = TestCa::new();
    let (chain, _) = ca.leaf(|_| {});
    let name = rustls_pki_types::ServerName::try_from("api").unwrap();
    let right = MeshServerVerifier::new(ca.bundle.clone(), ID.parse().unwrap());
    assert!(
        right
            .verify_server_cert(&chain[0], &chain[1..], &name, &[], UnixTime::now())
            .is_ok()
    );
    let wrong = MeshServerVerifier::new(
        ca.bundle.clone(),
        "spiffe://mesh.local/ns/local/sa/web".parse().unwrap(),
    );
    let err = wrong
        .verify_server_cert(&chain[0], &chain[1..], &name, &[], UnixTime::now())
        .unwrap_err();
    assert_eq!(
        super::verify::handshake_failure_reason(&err),
        "wrong_identity"
    );
}

#[test]
fn issued_leaves_meet_every_rule_and_are_backdated() {
    let ca = TestCa::new();
    let id: SpiffeId = ID.parse().unwrap();
    let before = pem::unix_seconds(SystemTime::now());
    let leaf = ca::issue_with_new_key(&ca.issuer, &id, Duration::from_secs(3_600)).unwrap();
    let der = pem::first_cert(&leaf.cert_pem).unwrap();
    let parsed = pem::parse(&der).unwrap();
    assert!(super::svid::leaf_rules(&parsed).iter().all(|r| r.passed));
    let nb = parsed.validity().not_before.timestamp();
    let na = parsed.validity().not_after.timestamp();
    assert!(
        (before - 21..=before - 19).contains(&nb),
        "notBefore backdated 20 s: {nb} vs {before}"
    );
    assert!(
        (na - nb - 3_620).abs() <= 1,
        "lifetime + backdate: {}",
        na - nb
    );
}

#[test]
fn leaf_cannot_outlive_its_issuer() {
    let ca = TestCa::new();
    let id: SpiffeId = ID.parse().unwrap();
    let err = ca::issue_with_new_key(&ca.issuer, &id, Duration::from_secs(86_400 * 6)).unwrap_err();
    assert!(err.to_string().contains("outlive its issuer"), "{err}");
}

#[test]
fn workload_identity_checks_key_and_leaf_belong_together() {
    let ca = TestCa::new();
    let (_, full, key) = ca.leaf_with_pem(|_| {});
    let ok = WorkloadIdentity::from_parts(&full, &key, ca.bundle.clone()).unwrap();
    assert_eq!(ok.id.as_str(), ID);
    let other_key = ca::new_key().unwrap().serialize_pem();
    let err = WorkloadIdentity::from_parts(&full, &other_key, ca.bundle.clone()).unwrap_err();
    assert!(err.to_string().contains("does not belong"), "{err}");
    // Debug output never shows key material.
    assert!(!format!("{ok:?}").contains("PRIVATE"));
}

#[test]
fn a_bundle_with_two_anchors_trusts_both_chains_and_a_bundle_must_keep_the_own_leaf_valid() {
    // Both anchors (and both issuers) carry the same names, as during a real rotation.
    let (old, new) = (TestCa::new(), TestCa::new());
    let both =
        TrustBundle::from_ders([old.bundle.certificates(), new.bundle.certificates()].concat())
            .unwrap();
    assert_eq!(both.fingerprints().len(), 2);
    for ca in [&old, &new] {
        let (chain, _) = ca.leaf(|_| {});
        for usage in [Usage::Client, Usage::Server] {
            both.verify(&chain[0], &chain[1..], usage, UnixTime::now())
                .unwrap();
        }
    }

    let (_, full, key) = old.leaf_with_pem(|_| {});
    let me = WorkloadIdentity::from_parts(&full, &key, old.bundle.clone()).unwrap();
    assert_eq!(
        me.issuer_fingerprint(),
        pem::fingerprint(&pem::first_cert(&old.issuer.cert_pem).unwrap())
    );
    let widened = me.with_bundle(Arc::new(both)).unwrap();
    assert_eq!(widened.serial, me.serial);
    assert_eq!(widened.bundle.fingerprints().len(), 2);
    // Dropping the anchor our own leaf chains to is refused.
    assert!(me.with_bundle(new.bundle.clone()).is_err());
}

#[test]
fn a_serving_certificate_verifies_for_each_of_its_names_and_no_other() {
    use rustls::client::danger::ServerCertVerifier;
    use rustls_pki_types::ServerName;
    let anchor = ca::new_anchor("mesh.local", Duration::from_secs(86_400 * 10)).unwrap();
    let anchor_ca = SigningCa::from_pem(&anchor.cert_pem, &anchor.key_pem).unwrap();
    let issuer = anchor_ca
        .sign_issuer("mesh.local", Duration::from_secs(86_400 * 5))
        .unwrap();
    let issuer = SigningCa::from_pem(&issuer.cert_pem, &issuer.key_pem).unwrap();
    let names = vec![
        "meshctl-controller.meshctl.svc".to_string(),
        "meshctl-controller.meshctl.svc.cluster.local".to_string(),
    ];
    let ip: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let served = issuer
        .issue_serving_cert(&names, &[ip], Duration::from_secs(3_600))
        .unwrap();
    let chain = pem::certs(&served.cert_pem).unwrap();
    assert_eq!(chain.len(), 2, "leaf then issuer");
    rustls_pki_types::PrivateKeyDer::from_pem_slice(served.key_pem.as_bytes()).unwrap();

    let mut roots = rustls::RootCertStore::empty();
    for der in pem::certs(&anchor.cert_pem).unwrap() {
        roots.add(der).unwrap();
    }
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .unwrap();
    let verify = |name: &str| {
        verifier.verify_server_cert(
            &chain[0],
            &chain[1..],
            &ServerName::try_from(name.to_string()).unwrap(),
            &[],
            UnixTime::now(),
        )
    };
    for name in names.iter().map(String::as_str).chain(["127.0.0.1"]) {
        verify(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for other in ["meshctl-webhook.meshctl.svc", "127.0.0.2"] {
        let err = verify(other).unwrap_err();
        assert!(
            matches!(
                err,
                rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
                    | rustls::Error::InvalidCertificate(
                        rustls::CertificateError::NotValidForNameContext { .. }
                    )
            ),
            "{other}: {err}"
        );
    }
    // Another mesh's bundle does not trust it.
    let foreign = ca::new_anchor("mesh.local", Duration::from_secs(86_400)).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(pem::first_cert(&foreign.cert_pem).unwrap())
        .unwrap();
    let foreign = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .unwrap();
    assert!(
        foreign
            .verify_server_cert(
                &chain[0],
                &chain[1..],
                &ServerName::try_from(names[0].clone()).unwrap(),
                &[],
                UnixTime::now(),
            )
            .is_err()
    );
    // No names at all, or a name that is not one, is refused.
    assert!(
        issuer
            .issue_serving_cert(&[], &[], Duration::from_secs(60))
            .is_err()
    );
    assert!(
        issuer
            .issue_serving_cert(&["not a name".into()], &[], Duration::from_secs(60))
            .is_err()
    );
    // Not beyond the issuer's own lifetime.
    assert!(
        issuer
            .issue_serving_cert(&names, &[], Duration::from_secs(86_400 * 6))
            .is_err()
    );
}
