//! Writers: registration, authentication and cookies.
//!
//! ctlstore stores a writer's secret as the lower-case hex SHA-256 of the secret (unsalted) in
//! `mutators.secret`. We read that form forever (existing writers keep working), and can store
//! new writers as argon2id PHC strings instead. The default stays ctlstore's form while a fleet
//! may still roll back to ctlstore's executive, which could not verify argon2 hashes; see
//! docs/decisions/0003-writer-secrets.md.

use base64::Engine;
use ctlstore_schema::limits::MAX_COOKIE_BYTES;
use ctlstore_schema::{WriterName, WriterSecret};
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row};

use crate::classify::DbResult;
use crate::error::is_unique_violation;
use crate::{Ctldb, CtldbError, on_pool};

/// How a newly registered writer's secret is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretHashScheme {
    /// ctlstore's: hex SHA-256. ctlstore's executive can verify it.
    #[default]
    Sha256Hex,
    /// argon2id, salted, memory-hard. Only our executive can verify it.
    Argon2id,
}

impl SecretHashScheme {
    pub fn parse(s: &str) -> Option<SecretHashScheme> {
        match s.to_ascii_lowercase().as_str() {
            "sha256" | "sha256-hex" => Some(SecretHashScheme::Sha256Hex),
            "argon2" | "argon2id" => Some(SecretHashScheme::Argon2id),
            _ => None,
        }
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without an early exit, so timing does not reveal how much of a secret matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hash_secret(secret: &WriterSecret, scheme: SecretHashScheme) -> Result<String, CtldbError> {
    match scheme {
        SecretHashScheme::Sha256Hex => Ok(hex(&sha256(secret.expose().as_bytes()))),
        SecretHashScheme::Argon2id => {
            use argon2::password_hash::{PasswordHasher, SaltString};
            let mut salt = [0u8; 16];
            getrandom::fill(&mut salt).map_err(|e| CtldbError::Unsupported {
                field: "secret".into(),
                reason: e.to_string(),
            })?;
            let salt = SaltString::encode_b64(&salt).map_err(|e| CtldbError::Unsupported {
                field: "secret".into(),
                reason: e.to_string(),
            })?;
            argon2::Argon2::default()
                .hash_password(secret.expose().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| CtldbError::Unsupported {
                    field: "secret".into(),
                    reason: e.to_string(),
                })
        }
    }
}

/// Verifies `secret` against a stored hash of either scheme.
pub(crate) fn verify_secret(stored: &str, secret: &str) -> bool {
    if stored.starts_with("$argon2") {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        return PasswordHash::new(stored)
            .map(|h| {
                argon2::Argon2::default()
                    .verify_password(secret.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
    }
    let computed = hex(&sha256(secret.as_bytes()));
    constant_time_eq(stored.to_ascii_lowercase().as_bytes(), computed.as_bytes())
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&sha256(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// The cookie a writer starts with, as ctlstore computes it: the ASCII text of
/// `base64(name ‖ HMAC-SHA256(key, ""))` (ctlstore appends the HMAC of the empty message to the
/// name; we reproduce the quirk so cookies read back identically).
pub fn initial_cookie(writer: &WriterName) -> Vec<u8> {
    let mut raw = writer.as_str().as_bytes().to_vec();
    raw.extend_from_slice(&hmac_sha256(b"143zGC4aYAXdKBs9ZhcxgVcfCCv", b""));
    base64::engine::general_purpose::STANDARD
        .encode(raw)
        .into_bytes()
}

impl Ctldb {
    /// Registers a writer. Idempotent for the same secret; another secret is `WriterExists`.
    pub async fn register_writer(
        &self,
        writer: &WriterName,
        secret: &WriterSecret,
        scheme: SecretHashScheme,
    ) -> Result<(), CtldbError> {
        if let Some(stored) = self.stored_secret(writer).await? {
            return self.check_existing(&stored, secret);
        }
        let hash = hash_secret(secret, scheme)?;
        let sql =
            self.sql("INSERT INTO mutators (writer, secret, cookie, clock) VALUES (?, ?, ?, 0)");
        let inserted = on_pool!(self.pool(), p => {
            sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(writer.as_str())
                .bind(hash.as_str())
                .bind(initial_cookie(writer))
                .execute(p)
                .await
                .map(|_| ())
        });
        match inserted {
            // Another executive registered it at the same moment: same rules as above.
            Err(e) if is_unique_violation(&e) => match self.stored_secret(writer).await? {
                Some(stored) => self.check_existing(&stored, secret),
                None => Err(crate::classify::classify(e)),
            },
            other => Ok(other.db()?),
        }
    }

    fn check_existing(&self, stored: &str, secret: &WriterSecret) -> Result<(), CtldbError> {
        if verify_secret(stored, secret.expose()) {
            Ok(())
        } else {
            Err(CtldbError::WriterExists)
        }
    }

    async fn stored_secret(&self, writer: &WriterName) -> Result<Option<String>, CtldbError> {
        let sql = self.sql("SELECT secret FROM mutators WHERE writer = ?");
        Ok(on_pool!(self.pool(), p => {
            match sqlx::query(AssertSqlSafe(sql.as_str())).bind(writer.as_str()).fetch_optional(p).await.db()? {
                Some(row) => row.try_get::<Option<String>, _>(0).db()?,
                None => None,
            }
        }))
    }

    /// Checks a writer's secret. `WriterNotFound` for an unknown writer or a wrong secret alike,
    /// so the answer does not reveal which writers exist.
    pub async fn authenticate(&self, writer: &WriterName, secret: &str) -> Result<(), CtldbError> {
        let digest = sha256(secret.as_bytes());
        let known = self
            .inner
            .verified_writers
            .read()
            .ok()
            .and_then(|m| m.get(writer.as_str()).copied());
        if known.is_some_and(|d| constant_time_eq(&d, &digest)) {
            return Ok(());
        }
        let stored = self
            .stored_secret(writer)
            .await?
            .ok_or(CtldbError::WriterNotFound)?;
        if !verify_secret(&stored, secret) {
            return Err(CtldbError::WriterNotFound);
        }
        if let Ok(mut m) = self.inner.verified_writers.write() {
            m.insert(writer.as_str().to_string(), digest);
        }
        Ok(())
    }

    /// Whether `writer` authenticated successfully through this handle.
    pub(crate) fn is_verified(&self, writer: &str) -> bool {
        self.inner
            .verified_writers
            .read()
            .is_ok_and(|m| m.contains_key(writer))
    }

    /// The writer's cookie.
    pub async fn cookie(&self, writer: &WriterName) -> Result<Vec<u8>, CtldbError> {
        let sql = self.sql("SELECT cookie FROM mutators WHERE writer = ?");
        let cookie: Option<Option<Vec<u8>>> = on_pool!(self.pool(), p => {
            match sqlx::query(AssertSqlSafe(sql.as_str())).bind(writer.as_str()).fetch_optional(p).await.db()? {
                Some(row) => Some(row.try_get::<Option<Vec<u8>>, _>(0).db()?),
                None => None,
            }
        });
        cookie
            .map(Option::unwrap_or_default)
            .ok_or(CtldbError::WriterNotFound)
    }

    /// Every writer's name, sorted (never the secrets).
    pub async fn writers(&self) -> Result<Vec<String>, CtldbError> {
        Ok(on_pool!(self.pool(), p => {
            sqlx::query("SELECT writer FROM mutators ORDER BY writer")
                .fetch_all(p)
                .await.db()?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<Vec<_>, _>>().db()?
        }))
    }

    /// Removes a writer, its rate-limit override and its usage counters, in one transaction.
    /// `WriterNotFound` when there is no such writer. Its verified secret is forgotten by this
    /// handle; another executive on the same ctldb that already verified it keeps accepting
    /// its writes until it restarts (its cache of verified secrets is not shared).
    pub async fn delete_writer(&self, writer: &WriterName) -> Result<(), CtldbError> {
        let statements = [
            self.sql("DELETE FROM max_writer_rates WHERE writer_name = ?"),
            self.sql("DELETE FROM writer_usage WHERE writer_name = ?"),
            self.sql("DELETE FROM mutators WHERE writer = ?"),
        ];
        let deleted = on_pool!(self.pool(), p => {
            let mut tx = p.begin().await.db()?;
            let mut deleted = 0;
            for sql in &statements {
                deleted = sqlx::query(AssertSqlSafe(sql.as_str()))
                    .bind(writer.as_str())
                    .execute(&mut *tx)
                    .await
                    .db()?
                    .rows_affected();
            }
            if deleted > 0 {
                // Durable once this commits: the writer, its limit and its usage go together.
                tx.commit().await.db()?;
            }
            deleted
        });
        if let Ok(mut m) = self.inner.verified_writers.write() {
            m.remove(writer.as_str());
        }
        if deleted == 0 {
            return Err(CtldbError::WriterNotFound);
        }
        Ok(())
    }

    /// Sets the writer's cookie unconditionally.
    pub async fn set_cookie(&self, writer: &WriterName, cookie: &[u8]) -> Result<(), CtldbError> {
        if cookie.len() > MAX_COOKIE_BYTES {
            return Err(CtldbError::CookieTooLong);
        }
        let sql = self.sql("UPDATE mutators SET cookie = ?, clock = clock + 1 WHERE writer = ?");
        let updated = on_pool!(self.pool(), p => {
            sqlx::query(AssertSqlSafe(sql.as_str())).bind(cookie).bind(writer.as_str()).execute(p).await.db()?.rows_affected()
        });
        if updated == 0 {
            Err(CtldbError::WriterNotFound)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctlstores_initial_cookies() {
        let c = |w: &str| {
            String::from_utf8(initial_cookie(&WriterName::new(w).expect("valid"))).expect("ascii")
        };
        assert_eq!(
            c("writer1"),
            "d3JpdGVyMWvvyLhIjKvjOx0M5y3UgjITxDifKeSscYpRbLUKk7iS"
        );
        assert_eq!(
            c("heartbeat"),
            "aGVhcnRiZWF0a+/IuEiMq+M7HQznLdSCMhPEOJ8p5KxxilFstQqTuJI="
        );
    }

    #[test]
    fn both_hash_schemes_verify() {
        let secret = WriterSecret::new("s3cret!").expect("valid");
        for scheme in [SecretHashScheme::Sha256Hex, SecretHashScheme::Argon2id] {
            let stored = hash_secret(&secret, scheme).expect("hash");
            assert!(verify_secret(&stored, "s3cret!"), "{scheme:?}");
            assert!(!verify_secret(&stored, "s3cret?"), "{scheme:?}");
        }
        // ctlstore's stored form for the secret "secret".
        assert!(verify_secret(
            "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b",
            "secret"
        ));
        assert!(!verify_secret("not-a-hash", "secret"));
    }
}
