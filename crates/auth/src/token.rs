//! Access tokens: JWTs signed with HS256 that carry who the caller is and what it was granted.
//!
//! A signature and an expiry are all an instance needs to accept a token, so tokens stay valid
//! across restarts and on every instance sharing the signing secret. Revocation is layered on
//! top by the core (per principal and per token family), from its in-memory snapshot.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Prefix of refresh tokens (opaque, stored hashed); makes leaked ones easy to scan for.
pub const REFRESH_TOKEN_PREFIX: &str = "dnxr_";
/// Prefix of integration client secrets (stored hashed).
pub const CLIENT_SECRET_PREFIX: &str = "dnxs_";
/// The `iss` claim of every dynex token.
const ISSUER: &str = "dynex";

/// Whether a token was issued to a dynex user or to an integration client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// A dynex user (password grant).
    User,
    /// An integration client (client credentials grant).
    Client,
}

/// The claims of a dynex access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Always `dynex`.
    pub iss: String,
    /// The user name or client id.
    pub sub: String,
    /// What `sub` names.
    pub knd: PrincipalKind,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// Issue time, seconds since the epoch.
    pub iat: u64,
    /// Issue time in milliseconds, compared with revocations made in the same second.
    pub iat_ms: i64,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// The token's own id.
    pub jti: String,
    /// The token family: the id shared by every token issued from one login, so that revoking
    /// a refresh token also revokes the access tokens issued with it.
    pub fam: String,
}

impl AccessClaims {
    /// Claims for a token issued at `now_ms` (milliseconds since the epoch) that lives
    /// `lifetime_secs`; a new `jti`, and a new family unless `family` continues one.
    pub fn new(
        sub: &str,
        knd: PrincipalKind,
        scope: String,
        now_ms: i64,
        lifetime_secs: u64,
        family: Option<String>,
    ) -> AccessClaims {
        let iat = u64::try_from(now_ms / 1000).unwrap_or(0);
        let jti = crate::generate_secret("");
        AccessClaims {
            iss: ISSUER.to_string(),
            sub: sub.to_string(),
            knd,
            scope,
            iat,
            iat_ms: now_ms,
            exp: iat + lifetime_secs,
            fam: family.unwrap_or_else(|| jti.clone()),
            jti,
        }
    }
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Malformed, signed with another secret, or not a dynex token.
    #[error("invalid access token")]
    Invalid,
    /// Its `exp` has passed.
    #[error("the access token has expired")]
    Expired,
    /// Revoked, or its user or client is gone or had its tokens revoked.
    #[error("the access token has been revoked")]
    Revoked,
}

/// Signs and verifies access tokens with one HS256 secret.
#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// The claims of tokens whose signature was checked, by token (see [`VERIFIED_KEPT`]).
    verified: Arc<Mutex<HashMap<String, AccessClaims>>>,
}

/// How many verified tokens a signer remembers. A client sends the same token with every
/// request until it expires; checking its HMAC, decoding its base64 and parsing its claims
/// each time cost a read by id 70,000 instructions, half of it. Only a token that passed the
/// check is kept, under its exact text, so no other text finds its claims; its expiry is still
/// checked on every use, and revocations by the core, which come after, too. About 500 bytes
/// each: at most half a megabyte.
pub const VERIFIED_KEPT: usize = 1024;

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never prints the secret.
        f.write_str("TokenSigner(HS256)")
    }
}

impl TokenSigner {
    /// A signer for `secret`; check configured secrets with [`check_signing_secret`] first.
    pub fn new(secret: &[u8]) -> TokenSigner {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        // jsonwebtoken accepts a token during its `exp` second (`exp < now` is expired); the
        // expiry is checked in `verify_at`, refused from that second on.
        validation.validate_exp = false;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        TokenSigner {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            verified: Arc::default(),
        }
    }

    /// Signs `claims` into a compact JWT.
    pub fn sign(&self, claims: &AccessClaims) -> String {
        // HMAC signing of serialisable claims cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .unwrap_or_default()
    }

    /// Verifies the signature, issuer and expiry of `token` now and returns its claims.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.verify_at(token, system_now_ms())
    }

    /// Verifies the signature, issuer and expiry of `token` at `now_ms` (milliseconds since
    /// the epoch): a token is refused from its `exp` second on, without leeway.
    pub fn verify_at(&self, token: &str, now_ms: i64) -> Result<AccessClaims, TokenError> {
        let claims = self.verify_ignoring_expiry(token)?;
        let exp_ms = i64::try_from(claims.exp)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000);
        if now_ms >= exp_ms {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Verifies the signature and issuer of `token` but not its expiry, for revocation: an
    /// expired token may still name a family whose refresh token must go.
    pub fn verify_ignoring_expiry(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let lock = || self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(claims) = lock().get(token) {
            return Ok(claims.clone());
        }
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid)?;
        let mut verified = lock();
        if verified.len() >= VERIFIED_KEPT {
            let now = u64::try_from(system_now_ms() / 1000).unwrap_or(0);
            verified.retain(|_, c| c.exp > now);
            if verified.len() >= VERIFIED_KEPT {
                verified.clear();
            }
        }
        verified.insert(token.to_string(), claims.clone());
        Ok(claims)
    }
}

/// Milliseconds since the epoch by the system clock.
fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Well-known placeholder secrets from examples and tutorials, refused whatever their length.
const PLACEHOLDER_SECRETS: &[&str] = &[
    "secret",
    "changeme",
    "change-me",
    "change_me",
    "your-256-bit-secret",
    "your-secret-key",
    "jwt-secret",
    "dynex",
    "replace-me",
    "replace-with",
];

/// Checks that a configured signing secret is strong.
///
/// It needs at least 32 bytes and 10 distinct characters, and must not be a well-known
/// placeholder (`changeme…`, `your-256-bit-secret`). The error says why and never contains the
/// secret.
pub fn check_signing_secret(secret: &str) -> Result<(), WeakSecret> {
    if secret.len() < 32 {
        return Err(WeakSecret::TooShort);
    }
    if crate::distinct_chars(secret) < 10 {
        return Err(WeakSecret::TooSimple);
    }
    let lower = secret.to_lowercase();
    if PLACEHOLDER_SECRETS.iter().any(|p| lower.starts_with(p)) {
        return Err(WeakSecret::Placeholder);
    }
    Ok(())
}

/// Why a configured signing secret is refused; the message never contains the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeakSecret {
    /// Fewer than 32 bytes.
    #[error(
        "the token signing secret is too short: it needs at least 32 bytes \
         (generate one with `openssl rand -base64 48`)"
    )]
    TooShort,
    /// Fewer than 10 distinct characters.
    #[error("the token signing secret is too simple: it needs at least 10 different characters")]
    TooSimple,
    /// A well-known placeholder (`changeme…`, `your-256-bit-secret`).
    #[error(
        "the token signing secret is a well-known placeholder; generate a random \
         one (`openssl rand -base64 48`)"
    )]
    Placeholder,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(lifetime: u64, now_ms: i64) -> AccessClaims {
        AccessClaims::new(
            "alice",
            PrincipalKind::User,
            "dynamic-entity:read".into(),
            now_ms,
            lifetime,
            None,
        )
    }

    fn now_ms() -> i64 {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap()
    }

    /// A token checked once is taken at its word afterwards, until it expires; another text,
    /// even one that differs in its signature only, is checked again and refused; the kept
    /// tokens never exceed their bound.
    #[test]
    fn verified_tokens_are_kept_until_they_expire() {
        let signer = TokenSigner::new(b"0123456789abcdefghijklmnopqrstuvwxyz");
        let issued = now_ms();
        let c = claims(60, issued);
        let token = signer.sign(&c);
        assert_eq!(signer.verify_at(&token, issued), Ok(c.clone()));
        assert_eq!(signer.verify_at(&token, issued + 1000), Ok(c.clone()));
        let exp_ms = i64::try_from(c.exp).unwrap() * 1000;
        assert_eq!(
            signer.verify_at(&token, exp_ms),
            Err(TokenError::Expired),
            "a kept token still expires"
        );
        // A character inside the signature (the last one holds padding bits as well).
        let at = token.len() - 10;
        let was = &token[at..=at];
        let forged = format!(
            "{}{}{}",
            &token[..at],
            if was == "A" { "B" } else { "A" },
            &token[at + 1..]
        );
        assert_eq!(signer.verify_at(&forged, issued), Err(TokenError::Invalid));
        let other = TokenSigner::new(b"another-secret-0123456789abcdefghij");
        assert_eq!(other.verify_at(&token, issued), Err(TokenError::Invalid));
        for i in 0..VERIFIED_KEPT + 10 {
            let mut c = claims(60, issued);
            c.sub = format!("user{i}");
            signer.verify_at(&signer.sign(&c), issued).unwrap();
        }
        assert!(signer.verified.lock().unwrap().len() <= VERIFIED_KEPT);
        assert_eq!(signer.verify_at(&token, issued), Ok(c));
    }

    #[test]
    fn tokens_round_trip_and_refuse_tampering() {
        let signer = TokenSigner::new(b"0123456789abcdefghijklmnopqrstuvwxyz");
        let c = claims(60, now_ms());
        assert_eq!(c.fam, c.jti, "a first token starts its own family");
        let token = signer.sign(&c);
        assert_eq!(signer.verify(&token).unwrap(), c);
        let other = TokenSigner::new(b"another secret of enough length, 1234567");
        assert_eq!(other.verify(&token), Err(TokenError::Invalid));
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1].insert(3, 'x');
        assert_eq!(signer.verify(&parts.join(".")), Err(TokenError::Invalid));
        assert_eq!(signer.verify("garbage"), Err(TokenError::Invalid));
        assert_eq!(signer.verify(""), Err(TokenError::Invalid));
        assert!(!format!("{signer:?}").contains("0123"));
    }

    #[test]
    fn expired_tokens_are_refused_without_leeway() {
        let signer = TokenSigner::new(b"0123456789abcdefghijklmnopqrstuvwxyz");
        let token = signer.sign(&claims(1, now_ms() - 2_000));
        assert_eq!(signer.verify(&token), Err(TokenError::Expired));
        assert_eq!(signer.verify_ignoring_expiry(&token).unwrap().sub, "alice");
    }

    /// Refused from the `exp` second on: its first millisecond is too late, the one before is
    /// not (jsonwebtoken accepted the whole `exp` second).
    #[test]
    fn a_token_is_refused_from_its_exp_second() {
        let signer = TokenSigner::new(b"0123456789abcdefghijklmnopqrstuvwxyz");
        let issued = 1_800_000_000_250;
        let c = claims(60, issued);
        let exp_ms = i64::try_from(c.exp).unwrap() * 1000;
        assert_eq!(exp_ms, 1_800_000_060_000);
        let token = signer.sign(&c);
        assert_eq!(signer.verify_at(&token, issued), Ok(c.clone()));
        assert_eq!(signer.verify_at(&token, exp_ms - 1), Ok(c));
        for late in [exp_ms, exp_ms + 999, exp_ms + 1000] {
            assert_eq!(
                signer.verify_at(&token, late),
                Err(TokenError::Expired),
                "{late}"
            );
        }
    }

    #[test]
    fn weak_signing_secrets_are_refused() {
        assert!(check_signing_secret("kP4vR9sT2wX7zB1nM6qL3jH8gF5dC0aE").is_ok());
        assert!(
            check_signing_secret("short")
                .unwrap_err()
                .to_string()
                .contains("32 bytes")
        );
        assert!(
            check_signing_secret(&"ab".repeat(20))
                .unwrap_err()
                .to_string()
                .contains("10 different")
        );
        let placeholder = "changeme-0123456789-abcdefghijklmnop";
        let err = check_signing_secret(placeholder).unwrap_err().to_string();
        assert!(err.contains("placeholder") && !err.contains(placeholder));
    }
}
