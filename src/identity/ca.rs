//! The mesh CA: creating the trust anchor and issuer, and issuing X.509-SVID workload leaves.

use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};
use time::OffsetDateTime;

use super::IdentityError;
use super::spiffe::SpiffeId;

/// How far a new certificate's notBefore is backdated, to tolerate clock skew between hosts.
pub const BACKDATE: Duration = Duration::from_secs(20);
/// Default trust anchor lifetime.
pub const DEFAULT_ANCHOR_LIFETIME: Duration = Duration::from_secs(365 * 86_400);
/// Default issuer lifetime.
pub const DEFAULT_ISSUER_LIFETIME: Duration = Duration::from_secs(90 * 86_400);
/// The shortest leaf `meshctl certs issue` writes: one that expires before it can be put in
/// place (copied, mounted, reloaded) is a mistake, not a certificate.
pub const MIN_ISSUED_LIFETIME: Duration = Duration::from_secs(60);
/// Default workload leaf lifetime.
pub const DEFAULT_LEAF_LIFETIME: Duration = Duration::from_secs(24 * 3_600);
/// Organisation name in the subject of every certificate meshctl creates.
pub const ORGANIZATION: &str = "meshctl";

/// A freshly generated certificate and its private key, both PEM.
pub struct GeneratedCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for GeneratedCert {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedCert")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A CA that can sign: its certificate (PEM) and key.
pub struct SigningCa {
    pub cert_pem: String,
    key: KeyPair,
    not_after: SystemTime,
}

impl std::fmt::Debug for SigningCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCa")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl SigningCa {
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, IdentityError> {
        let key = KeyPair::from_pem(key_pem).map_err(|e| IdentityError::Key(e.to_string()))?;
        let der = super::pem::first_cert(cert_pem)?;
        let not_after = super::pem::not_after(&der)?;
        Ok(SigningCa {
            cert_pem: cert_pem.to_string(),
            key,
            not_after,
        })
    }

    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    pub(super) fn issuer(&self) -> Result<Issuer<'static, &KeyPair>, IdentityError> {
        Issuer::from_ca_cert_pem(&self.cert_pem, &self.key)
            .map_err(|e| IdentityError::Generate(e.to_string()))
    }

    /// A certificate signed now for `lifetime` must not outlive this CA.
    fn check_outlives(&self, now: SystemTime, lifetime: Duration) -> Result<(), IdentityError> {
        if now + lifetime > self.not_after {
            return Err(IdentityError::LifetimeBeyondIssuer {
                requested: crate::duration::format_compact(lifetime.as_secs() as i64),
                left: crate::duration::format_compact(
                    self.not_after
                        .duration_since(now)
                        .unwrap_or_default()
                        .as_secs() as i64,
                ),
            });
        }
        Ok(())
    }

    /// Issues an X.509-SVID leaf for `id` over `public_key`, valid for `lifetime`.
    ///
    /// Refuses a lifetime that would outlive this CA: a leaf must never be valid when its
    /// issuer is not.
    pub fn sign_leaf(
        &self,
        id: &SpiffeId,
        public_key: &impl rcgen::PublicKeyData,
        lifetime: Duration,
    ) -> Result<String, IdentityError> {
        let now = SystemTime::now();
        self.check_outlives(now, lifetime)?;
        let params = leaf_params(id, now, lifetime)?;
        let cert = params
            .signed_by(public_key, &self.issuer()?)
            .map_err(|e| IdentityError::Generate(e.to_string()))?;
        Ok(cert.pem())
    }

    /// Signs a PEM CSR for exactly `id`: the CSR's own subject and SANs are ignored, only its
    /// public key (and proof of possession, checked by rcgen) is used.
    pub fn sign_csr(
        &self,
        id: &SpiffeId,
        csr_pem: &str,
        lifetime: Duration,
    ) -> Result<String, IdentityError> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| IdentityError::Csr(e.to_string()))?;
        self.sign_leaf(id, &csr.public_key, lifetime)
    }

    /// Issues a TLS server certificate for `dns_names` and `ips` (serverAuth only, no SPIFFE
    /// ID) over a fresh key generated here, valid for `lifetime`: the controller's gRPC
    /// endpoint and its admission webhook serve with these. `cert_pem` is the chain — the
    /// leaf then this CA's certificate — so a client holding the mesh bundle can verify it.
    /// Refuses an empty name list, a name that is not a valid DNS name, and a lifetime that
    /// would outlive this CA.
    pub fn issue_serving_cert(
        &self,
        dns_names: &[String],
        ips: &[std::net::IpAddr],
        lifetime: Duration,
    ) -> Result<GeneratedCert, IdentityError> {
        if dns_names.is_empty() && ips.is_empty() {
            return Err(IdentityError::Generate(
                "a serving certificate needs at least one DNS name or IP address".into(),
            ));
        }
        let now = SystemTime::now();
        self.check_outlives(now, lifetime)?;
        let mut params = CertificateParams::default();
        let common_name = dns_names
            .first()
            .cloned()
            .or_else(|| ips.first().map(ToString::to_string))
            .unwrap_or_default();
        params.distinguished_name = subject(&common_name);
        for name in dns_names {
            rustls_pki_types::DnsName::try_from(name.as_str()).map_err(|_| {
                IdentityError::Generate(format!("`{name}` is not a valid DNS name"))
            })?;
            params.subject_alt_names.push(SanType::DnsName(
                name.as_str()
                    .try_into()
                    .map_err(|e: rcgen::Error| IdentityError::Generate(e.to_string()))?,
            ));
        }
        params
            .subject_alt_names
            .extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, now, lifetime);
        params.serial_number = Some(random_serial()?);
        let key = new_key()?;
        let cert = params
            .signed_by(&key, &self.issuer()?)
            .map_err(|e| IdentityError::Generate(e.to_string()))?;
        let mut chain = cert.pem();
        chain.push_str(&self.cert_pem);
        if !chain.ends_with('\n') {
            chain.push('\n');
        }
        Ok(GeneratedCert {
            cert_pem: chain,
            key_pem: key.serialize_pem(),
        })
    }

    /// Creates an intermediate CA (the issuer) under this CA.
    pub fn sign_issuer(
        &self,
        trust_domain: &str,
        lifetime: Duration,
    ) -> Result<GeneratedCert, IdentityError> {
        let now = SystemTime::now();
        self.check_outlives(now, lifetime)?;
        let key = new_key()?;
        let params = ca_params(&format!("{trust_domain} issuer"), 0, now, lifetime)?;
        let cert = params
            .signed_by(&key, &self.issuer()?)
            .map_err(|e| IdentityError::Generate(e.to_string()))?;
        Ok(GeneratedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Generates a self-signed trust anchor for `trust_domain`.
pub fn new_anchor(trust_domain: &str, lifetime: Duration) -> Result<GeneratedCert, IdentityError> {
    let key = new_key()?;
    // Path length 1: the anchor signs issuers, issuers sign leaves, nothing deeper.
    let params = ca_params(
        &format!("{trust_domain} trust anchor"),
        1,
        SystemTime::now(),
        lifetime,
    )?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| IdentityError::Generate(e.to_string()))?;
    Ok(GeneratedCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A new ECDSA P-256 key pair (the only key type meshctl issues).
pub fn new_key() -> Result<KeyPair, IdentityError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| IdentityError::Generate(e.to_string()))
}

/// Issues a leaf and a fresh key for `id` in one step (what `certs issue` does).
pub fn issue_with_new_key(
    ca: &SigningCa,
    id: &SpiffeId,
    lifetime: Duration,
) -> Result<GeneratedCert, IdentityError> {
    let key = new_key()?;
    let cert_pem = ca.sign_leaf(id, &key, lifetime)?;
    Ok(GeneratedCert {
        cert_pem,
        key_pem: key.serialize_pem(),
    })
}

/// Parameters for an X.509-SVID leaf. Every field is set explicitly: rcgen's defaults (no
/// KU/EKU, validity until 4096) are unsafe here.
pub fn leaf_params(
    id: &SpiffeId,
    now: SystemTime,
    lifetime: Duration,
) -> Result<CertificateParams, IdentityError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject(id.last_segment());
    params.subject_alt_names =
        vec![SanType::URI(id.as_str().try_into().map_err(
            |e: rcgen::Error| IdentityError::Generate(e.to_string()),
        )?)];
    params.is_ca = IsCa::ExplicitNoCa;
    // rcgen marks Key Usage critical whenever it emits it.
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, now, lifetime);
    params.serial_number = Some(random_serial()?);
    Ok(params)
}

fn ca_params(
    common_name: &str,
    path_len: u8,
    now: SystemTime,
    lifetime: Duration,
) -> Result<CertificateParams, IdentityError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, now, lifetime);
    params.serial_number = Some(random_serial()?);
    Ok(params)
}

fn subject(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, ORGANIZATION);
    // X.520 caps commonName at 64 characters.
    dn.push(
        DnType::CommonName,
        common_name.chars().take(64).collect::<String>(),
    );
    dn
}

fn set_validity(params: &mut CertificateParams, now: SystemTime, lifetime: Duration) {
    let now = OffsetDateTime::from(now)
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::from(now));
    params.not_before = now - BACKDATE;
    params.not_after = now + lifetime;
}

/// A random, positive 128-bit serial (RFC 5280 allows up to 20 octets).
fn random_serial() -> Result<SerialNumber, IdentityError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| IdentityError::Generate("no system randomness".into()))?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01; // never leading zero, so the DER length is stable
    Ok(SerialNumber::from_slice(&bytes))
}
