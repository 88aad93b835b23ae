//! Mesh identity: SPIFFE IDs, the CA (anchor → issuer → leaf), X.509-SVID rules and verification.

pub mod ca;
pub mod checks;
pub mod pem;
pub mod rotation;
pub mod server_tls;
pub mod spiffe;
pub mod store;
pub mod svid;
pub mod verify;
pub mod workload;

pub use spiffe::SpiffeId;
pub use verify::TrustBundle;
pub use workload::WorkloadIdentity;

use std::path::PathBuf;

/// What can go wrong creating, loading or checking certificates.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("invalid PEM: {0}")]
    Pem(String),
    #[error("invalid private key: {0}")]
    Key(String),
    #[error("invalid certificate signing request: {0}")]
    Csr(String),
    #[error("generating certificate: {0}")]
    Generate(String),
    #[error("a leaf valid for {requested} would outlive its issuer, which expires in {left}")]
    LifetimeBeyondIssuer { requested: String, left: String },
    #[error(transparent)]
    SpiffeId(#[from] spiffe::SpiffeIdError),
    #[error("trust domain `{got}` is not this mesh's (`{mesh}`)")]
    ForeignTrustDomain { got: String, mesh: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {why}", path.display())]
    File { path: PathBuf, why: String },
    #[error("no mesh CA in {}: run `meshctl certs init` first", dir.display())]
    NotInitialised { dir: PathBuf },
    #[error("a mesh CA already exists in {}: pass --force to replace it (every issued leaf stops verifying)", dir.display())]
    AlreadyInitialised { dir: PathBuf },
    #[error(transparent)]
    Verify(#[from] verify::VerifyError),
}

impl IdentityError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IdentityError::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
