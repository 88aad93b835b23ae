//! Bearer tokens: what every control-plane call and every tap request carries. Only their
//! SHA-256 is ever stored or handed to a proxy.

/// Why no token could be made.
#[derive(Debug, thiserror::Error)]
#[error("no system randomness to make a token from")]
pub struct NoRandomness;

/// Hex SHA-256 of a token: what the plan stores instead of the token itself.
pub fn token_hash(token: &str) -> String {
    crate::identity::pem::fingerprint(token.as_bytes())
}

/// A new random bearer token (256 bits, hex).
pub fn new_token() -> Result<String, NoRandomness> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| NoRandomness)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
