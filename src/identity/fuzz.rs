//! Fuzz targets (docs/fuzzing.md): SPIFFE ID parsing, and the X.509-SVID rules plus the
//! verifier on mutated leaf DER.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use proptest::prelude::*;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use rustls::client::danger::ServerCertVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName, UnixTime};

use super::ca::{self, SigningCa};
use super::spiffe::{MAX_SPIFFE_ID_LEN, SpiffeId, validate_trust_domain};
use super::verify::{MeshClientVerifier, MeshServerVerifier, TrustBundle, Usage};
use super::{pem, svid};
use crate::fuzzing::config;

const ID: &str = "spiffe://mesh.local/ns/local/sa/api";

/// Text that looks like a SPIFFE ID often and like anything else sometimes.
fn id_like() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        "[a-zA-Z0-9._-]{1,12}",
        Just(".".to_string()),
        Just("..".to_string()),
        Just(String::new()),
        "[ -~]{0,6}",
        "\\PC{0,4}",
    ];
    let domain = prop_oneof![
        "[a-z0-9.-]{1,20}",
        Just("mesh.local".to_string()),
        "[ -~]{0,12}",
        "[a-z]{250,260}",
    ];
    let scheme = prop_oneof![
        4 => Just("spiffe://".to_string()),
        1 => "[a-zA-Z:/]{0,10}",
    ];
    (scheme, domain, prop::collection::vec(segment, 0..6)).prop_map(|(s, d, segs)| {
        let mut out = s + &d;
        for seg in segs {
            out.push('/');
            out.push_str(&seg);
        }
        out
    })
}

proptest! {
    #![proptest_config(config(512))]

    /// Any text: parsing never panics, and what parses keeps the spec's guarantees.
    #[test]
    fn spiffe_id_parse(text in prop_oneof![id_like(), "\\PC{0,40}".prop_map(String::from)]) {
        if let Ok(id) = text.parse::<SpiffeId>() {
            prop_assert_eq!(id.as_str(), text.as_str());
            prop_assert!(id.as_str().len() <= MAX_SPIFFE_ID_LEN);
            prop_assert!(validate_trust_domain(id.trust_domain()).is_ok());
            prop_assert_eq!(
                format!("spiffe://{}{}", id.trust_domain(), id.path()),
                id.as_str()
            );
            prop_assert!(id.path().starts_with('/') && id.path().len() > 1);
            for segment in id.path()[1..].split('/') {
                prop_assert!(!segment.is_empty() && segment != "." && segment != "..");
            }
            prop_assert!(!id.last_segment().is_empty());
            prop_assert_eq!(id.to_string().parse::<SpiffeId>(), Ok(id));
        }
    }

    /// Every well-formed workload ID is accepted, with its parts where they belong.
    #[test]
    fn spiffe_id_for_workload(
        td in "[a-z0-9][a-z0-9._-]{0,30}",
        ns in "[a-zA-Z0-9_-][a-zA-Z0-9._-]{0,15}",
        sa in "[a-zA-Z0-9_-][a-zA-Z0-9._-]{0,15}",
    ) {
        let id = SpiffeId::for_workload(&td, &ns, &sa).unwrap();
        prop_assert_eq!(id.trust_domain(), td.as_str());
        prop_assert_eq!(id.path(), format!("/ns/{ns}/sa/{sa}"));
        prop_assert_eq!(id.last_segment(), sa.as_str());
    }
}

/// A throwaway mesh CA and one valid leaf for [`ID`], made once for all cases.
struct Fixture {
    bundle: Arc<TrustBundle>,
    issuer_der: CertificateDer<'static>,
    issuer_key: EcdsaKeyPair,
    leaf: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let anchor = ca::new_anchor("mesh.local", Duration::from_secs(86_400 * 10)).unwrap();
        let anchor_ca = SigningCa::from_pem(&anchor.cert_pem, &anchor.key_pem).unwrap();
        let issuer = anchor_ca
            .sign_issuer("mesh.local", Duration::from_secs(86_400 * 5))
            .unwrap();
        let issuer_ca = SigningCa::from_pem(&issuer.cert_pem, &issuer.key_pem).unwrap();
        let leaf =
            ca::issue_with_new_key(&issuer_ca, &ID.parse().unwrap(), Duration::from_secs(3_600))
                .unwrap();
        let pkcs8 = PrivatePkcs8KeyDer::from_pem_slice(issuer.key_pem.as_bytes()).unwrap();
        let issuer_key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            pkcs8.secret_pkcs8_der(),
            &SystemRandom::new(),
        )
        .unwrap();
        Fixture {
            bundle: Arc::new(TrustBundle::from_pem(&anchor.cert_pem).unwrap()),
            issuer_der: pem::first_cert(&issuer.cert_pem).unwrap(),
            issuer_key,
            leaf: pem::first_cert(&leaf.cert_pem).unwrap().to_vec(),
        }
    })
}

/// One edit of a DER byte string: overwrite, flip a bit, insert, delete, truncate.
#[derive(Debug, Clone)]
enum Edit {
    Set(prop::sample::Index, u8),
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Remove(prop::sample::Index),
    Truncate(prop::sample::Index),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        4 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        4 => (any::<prop::sample::Index>(), 0..8u8).prop_map(|(i, b)| Edit::Flip(i, b)),
        1 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        1 => any::<prop::sample::Index>().prop_map(Edit::Remove),
        1 => any::<prop::sample::Index>().prop_map(Edit::Truncate),
    ];
    prop::collection::vec(edit, 1..5)
}

fn mutate(bytes: &mut Vec<u8>, edits: &[Edit]) {
    for edit in edits {
        if bytes.is_empty() {
            return;
        }
        match edit {
            Edit::Set(i, b) => {
                let i = i.index(bytes.len());
                bytes[i] = *b;
            }
            Edit::Flip(i, bit) => {
                let i = i.index(bytes.len());
                bytes[i] ^= 1 << bit;
            }
            Edit::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), *b),
            Edit::Remove(i) => {
                bytes.remove(i.index(bytes.len()));
            }
            Edit::Truncate(i) => bytes.truncate(i.index(bytes.len())),
        }
    }
}

/// DER tag-length header: (header length, content length), for the element at `der[0..]`.
fn der_header(der: &[u8]) -> Option<(usize, usize)> {
    let first = *der.get(1)?;
    if first < 0x80 {
        return Some((2, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    let len = der
        .get(2..2 + n)?
        .iter()
        .fold(0usize, |acc, b| acc << 8 | usize::from(*b));
    Some((2 + n, len))
}

fn der_element(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// The leaf with its to-be-signed part edited and signed again by the real issuer: the
/// signature holds, so only the SVID rules and webpki's own checks stand in the way.
fn resigned(leaf: &[u8], edits: &[Edit]) -> Vec<u8> {
    let f = fixture();
    let (outer, _) = der_header(leaf).unwrap();
    let body = &leaf[outer..];
    let (tbs_head, tbs_len) = der_header(body).unwrap();
    let tbs_end = tbs_head + tbs_len;
    let (alg_head, alg_len) = der_header(&body[tbs_end..]).unwrap();
    let alg = &body[tbs_end..tbs_end + alg_head + alg_len];
    let mut tbs = body[tbs_head..tbs_end].to_vec();
    mutate(&mut tbs, edits);
    let tbs = der_element(0x30, &tbs);
    let sig = f.issuer_key.sign(&SystemRandom::new(), &tbs).unwrap();
    let mut bits = vec![0u8];
    bits.extend_from_slice(sig.as_ref());
    let mut content = tbs;
    content.extend_from_slice(alg);
    content.extend(der_element(0x03, &bits));
    der_element(0x30, &content)
}

/// Runs every rule and the verifier on `der`; the verifier's answer.
fn evaluate(der: &[u8]) -> Result<SpiffeId, super::verify::VerifyError> {
    let f = fixture();
    if let Ok(cert) = pem::parse(der) {
        let rules = svid::leaf_rules(&cert);
        let checked = svid::check_leaf(&cert);
        assert_eq!(checked.is_ok(), rules.iter().all(|r| r.passed));
        svid::signing_rules(&cert);
        svid::is_ca(&cert);
        if let Ok(id) = &checked {
            assert_eq!(svid::uri_sans(&cert), vec![id.as_str()]);
        }
    }
    let leaf = CertificateDer::from(der.to_vec());
    let chain = [leaf.clone(), f.issuer_der.clone()];
    assert_eq!(
        super::verify::peer_id(&chain).is_some(),
        pem::parse(der).is_ok_and(|c| svid::uri_sans(&c)
            .first()
            .is_some_and(|u| u.parse::<SpiffeId>().is_ok()))
    );
    let client = f
        .bundle
        .verify(&leaf, &chain[1..], Usage::Client, UnixTime::now());
    let server = f
        .bundle
        .verify(&leaf, &chain[1..], Usage::Server, UnixTime::now());
    // The usages may differ (an EKU naming only one of them), never the identity.
    if let (Ok(c), Ok(s)) = (&client, &server) {
        assert_eq!(c, s);
    }
    // What the TLS handshakes use: the inbound side takes callers of the mesh's trust domain
    // only, the outbound side exactly the identity it dials.
    let now = UnixTime::now();
    let inbound = MeshClientVerifier::new(f.bundle.clone(), "mesh.local")
        .verify_client_cert(&leaf, &chain[1..], now)
        .is_ok();
    assert_eq!(
        inbound,
        client
            .as_ref()
            .is_ok_and(|id| id.trust_domain() == "mesh.local")
    );
    let expected: SpiffeId = ID.parse().unwrap();
    let name = ServerName::try_from("api").unwrap();
    let outbound = MeshServerVerifier::new(f.bundle.clone(), expected.clone())
        .verify_server_cert(&leaf, &chain[1..], &name, &[], now)
        .is_ok();
    assert_eq!(outbound, server.as_ref().ok() == Some(&expected));
    client.or(server)
}

proptest! {
    #![proptest_config(config(256))]

    /// Raw edits break the signature: nothing panics, and whatever still verifies is the
    /// original identity (an edit that changed nothing).
    #[test]
    fn svid_mutated_der(edits in edits()) {
        let f = fixture();
        let mut der = f.leaf.clone();
        mutate(&mut der, &edits);
        if let Ok(id) = evaluate(&der) {
            prop_assert_eq!(id.as_str(), ID);
            prop_assert_eq!(&der, &f.leaf);
        }
    }

    /// Edits re-signed by the issuer reach every rule: whatever verifies (for either usage)
    /// passed every SVID rule and is the identity its single URI SAN names; the handshake
    /// verifiers accept it only in the mesh's trust domain, or as exactly the one dialled.
    #[test]
    fn svid_mutated_and_resigned(edits in edits()) {
        let der = resigned(&fixture().leaf, &edits);
        if let Ok(id) = evaluate(&der) {
            let cert = pem::parse(&der).unwrap();
            prop_assert!(svid::leaf_rules(&cert).iter().all(|r| r.passed));
            prop_assert_eq!(svid::uri_sans(&cert), vec![id.as_str()]);
        }
    }
}

#[test]
fn the_fixture_leaf_verifies_and_resigning_without_edits_keeps_it_valid() {
    let f = fixture();
    assert_eq!(evaluate(&f.leaf).unwrap().as_str(), ID);
    assert_eq!(evaluate(&resigned(&f.leaf, &[])).unwrap().as_str(), ID);
}
