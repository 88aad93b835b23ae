//! Chain + SVID verification, and the rustls verifiers the proxy plugs into both TLS sides.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};

use super::pem;
use super::spiffe::SpiffeId;
use super::svid::{self, SvidViolation};

/// Which side of a TLS connection a leaf authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Server,
    Client,
}

/// Why a peer's certificate was not accepted. Each variant names the rule that failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("certificate could not be parsed: {0}")]
    Malformed(String),
    #[error(transparent)]
    Svid(#[from] SvidViolation),
    #[error("certificate has expired")]
    Expired,
    #[error("certificate is not valid yet")]
    NotYetValid,
    #[error("certificate does not chain to the mesh trust bundle (unknown or foreign CA)")]
    UnknownIssuer,
    #[error("certificate chain is invalid: {0}")]
    Chain(String),
    #[error("peer identity is {got}, expected {expected}")]
    WrongIdentity { expected: String, got: String },
    #[error("peer identity {got} is not in this mesh's trust domain {expected}")]
    ForeignTrustDomain { expected: String, got: String },
}

impl VerifyError {
    /// A short, stable label for metrics (`reason="…"`).
    pub fn reason(&self) -> &'static str {
        match self {
            VerifyError::Malformed(_) => "malformed_certificate",
            VerifyError::Svid(_) => "svid_rule",
            VerifyError::Expired => "expired",
            VerifyError::NotYetValid => "not_yet_valid",
            VerifyError::UnknownIssuer => "unknown_ca",
            VerifyError::Chain(_) => "bad_chain",
            VerifyError::WrongIdentity { .. } => "wrong_identity",
            VerifyError::ForeignTrustDomain { .. } => "foreign_trust_domain",
        }
    }
}

/// The set of trust anchors a workload accepts. May hold several anchors (during rotation).
#[derive(Debug, Clone)]
pub struct TrustBundle {
    anchors: Vec<TrustAnchor<'static>>,
    ders: Vec<CertificateDer<'static>>,
    subjects: Vec<DistinguishedName>,
}

impl TrustBundle {
    pub fn from_pem(text: &str) -> Result<Self, super::IdentityError> {
        Self::from_ders(pem::certs(text)?)
    }

    pub fn from_ders(ders: Vec<CertificateDer<'static>>) -> Result<Self, super::IdentityError> {
        let mut anchors = Vec::with_capacity(ders.len());
        let mut subjects = Vec::with_capacity(ders.len());
        for der in &ders {
            let anchor = webpki::anchor_from_trusted_cert(der)
                .map_err(|e| super::IdentityError::Pem(format!("not a usable trust anchor: {e}")))?
                .to_owned();
            // webpki keeps the Name's contents; TLS CertificateRequest needs the whole DER SEQUENCE
            // (OpenSSL clients reject the handshake otherwise).
            subjects.push(DistinguishedName::in_sequence(anchor.subject.as_ref()));
            anchors.push(anchor);
        }
        Ok(TrustBundle {
            anchors,
            ders,
            subjects,
        })
    }

    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.ders
    }

    /// SHA-256 fingerprints of the anchors, in bundle order.
    pub fn fingerprints(&self) -> Vec<String> {
        self.ders.iter().map(|d| pem::fingerprint(d)).collect()
    }

    /// Verifies `leaf` (+ `intermediates`) for `usage` at `now`: SVID rules first (so a broken
    /// rule is named even when webpki would also object), then the chain to an anchor and
    /// the validity period. Returns the leaf's SPIFFE ID.
    pub fn verify(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        usage: Usage,
        now: UnixTime,
    ) -> Result<SpiffeId, VerifyError> {
        let parsed = pem::parse(leaf).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        let id = svid::check_leaf(&parsed)?;
        let end_entity = webpki::EndEntityCert::try_from(leaf)
            .map_err(|e| VerifyError::Malformed(e.to_string()))?;
        let eku = match usage {
            Usage::Server => webpki::KeyUsage::server_auth(),
            Usage::Client => webpki::KeyUsage::client_auth(),
        };
        end_entity
            .verify_for_usage(
                algorithms().all,
                &self.anchors,
                intermediates,
                now,
                eku,
                None,
                None,
            )
            .map_err(|e| match e {
                webpki::Error::CertExpired { .. } => VerifyError::Expired,
                webpki::Error::CertNotValidYet { .. } => VerifyError::NotYetValid,
                // A foreign CA that happens to share our CA's name fails on the signature.
                webpki::Error::UnknownIssuer | webpki::Error::InvalidSignatureForPublicKey => {
                    VerifyError::UnknownIssuer
                }
                other => VerifyError::Chain(format!("{other:?}")),
            })?;
        Ok(id)
    }
}

fn algorithms() -> WebPkiSupportedAlgorithms {
    rustls::crypto::ring::default_provider().signature_verification_algorithms
}

fn to_rustls(e: VerifyError) -> rustls::Error {
    let cert_error = match e {
        VerifyError::Expired => CertificateError::Expired,
        VerifyError::NotYetValid => CertificateError::NotValidYet,
        VerifyError::UnknownIssuer => CertificateError::UnknownIssuer,
        other => CertificateError::Other(OtherError(Arc::new(other))),
    };
    rustls::Error::InvalidCertificate(cert_error)
}

/// Client-side verifier: the server must chain to the bundle, meet the SVID rules and present
/// exactly `expected` (secure naming). The TLS server name is not used.
#[derive(Debug)]
pub struct MeshServerVerifier {
    bundle: Arc<TrustBundle>,
    expected: SpiffeId,
}

impl MeshServerVerifier {
    pub fn new(bundle: Arc<TrustBundle>, expected: SpiffeId) -> Self {
        MeshServerVerifier { bundle, expected }
    }
}

impl ServerCertVerifier for MeshServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = self
            .bundle
            .verify(end_entity, intermediates, Usage::Server, now)
            .map_err(to_rustls)?;
        if got != self.expected {
            return Err(to_rustls(VerifyError::WrongIdentity {
                expected: self.expected.to_string(),
                got: got.to_string(),
            }));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        algorithms().supported_schemes()
    }
}

/// Server-side verifier: a client certificate is mandatory, must chain to the bundle, meet
/// the SVID rules and name an identity in this mesh's trust domain (an issuer the bundle
/// trusts can still sign any URI; a foreign trust domain is never a mesh member). Which
/// identities may do what is authorization's job, not this one's — except for a listener
/// only one identity may use at all ([`MeshClientVerifier::exactly`], the cluster tap).
#[derive(Debug)]
pub struct MeshClientVerifier {
    bundle: Arc<TrustBundle>,
    trust_domain: String,
    /// When set, the only identity accepted.
    only: Option<SpiffeId>,
}

impl MeshClientVerifier {
    /// `trust_domain`: the mesh's, i.e. that of the workload this verifier serves.
    pub fn new(bundle: Arc<TrustBundle>, trust_domain: &str) -> Self {
        MeshClientVerifier {
            bundle,
            trust_domain: trust_domain.to_string(),
            only: None,
        }
    }

    /// Accepts exactly `client` (which also fixes the trust domain), nobody else.
    pub fn exactly(bundle: Arc<TrustBundle>, client: SpiffeId) -> Self {
        MeshClientVerifier {
            bundle,
            trust_domain: client.trust_domain().to_string(),
            only: Some(client),
        }
    }
}

impl ClientCertVerifier for MeshClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.bundle.subjects
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let got = self
            .bundle
            .verify(end_entity, intermediates, Usage::Client, now)
            .map_err(to_rustls)?;
        if got.trust_domain() != self.trust_domain {
            return Err(to_rustls(VerifyError::ForeignTrustDomain {
                expected: self.trust_domain.clone(),
                got: got.to_string(),
            }));
        }
        if let Some(only) = &self.only
            && got != *only
        {
            return Err(to_rustls(VerifyError::WrongIdentity {
                expected: only.to_string(),
                got: got.to_string(),
            }));
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        algorithms().supported_schemes()
    }
}

/// The SPIFFE ID of an already-verified peer chain (the first URI SAN of its leaf).
pub fn peer_id(chain: &[CertificateDer<'_>]) -> Option<SpiffeId> {
    let leaf = pem::parse(chain.first()?).ok()?;
    svid::uri_sans(&leaf).first()?.parse().ok()
}

/// Why a rustls handshake failed, as a metrics label.
pub fn handshake_failure_reason(e: &rustls::Error) -> &'static str {
    use rustls::{AlertDescription as A, PeerIncompatible, PeerMisbehaved};
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => other
            .0
            .downcast_ref::<VerifyError>()
            .map_or("bad_certificate", VerifyError::reason),
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => "unknown_ca",
        rustls::Error::InvalidCertificate(CertificateError::Expired) => "expired",
        rustls::Error::InvalidCertificate(CertificateError::NotValidYet) => "not_yet_valid",
        rustls::Error::InvalidCertificate(_) => "bad_certificate",
        rustls::Error::NoCertificatesPresented => "no_client_certificate",
        rustls::Error::PeerIncompatible(PeerIncompatible::Tls12NotOfferedOrEnabled)
        | rustls::Error::PeerIncompatible(PeerIncompatible::SupportedVersionsExtensionRequired) => {
            "protocol_version"
        }
        rustls::Error::PeerIncompatible(_) => "incompatible_peer",
        rustls::Error::AlertReceived(A::UnknownCA | A::BadCertificate | A::CertificateRequired) => {
            "peer_rejected_certificate"
        }
        rustls::Error::AlertReceived(_) => "alert_received",
        rustls::Error::InvalidMessage(_) => "not_tls",
        rustls::Error::PeerMisbehaved(PeerMisbehaved::IllegalMiddleboxChangeCipherSpec) => {
            "not_tls"
        }
        rustls::Error::PeerMisbehaved(_) => "peer_misbehaved",
        _ => "other",
    }
}
