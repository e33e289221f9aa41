//! Password authentication, as pure functions: the MD5 answer and a SCRAM-SHA-256 client
//! (RFC 5802 / RFC 7677) without channel binding, which is what PostgreSQL offers over a
//! plain TCP connection.

use crate::SourceError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

/// The answer to `AuthenticationMD5Password`: `"md5" + md5(md5(password + user) + salt)`.
pub(crate) fn md5_password(user: &str, password: &str, salt: [u8; 4]) -> String {
    let inner = hex(&Md5::digest(
        [password.as_bytes(), user.as_bytes()].concat(),
    ));
    let outer = hex(&Md5::digest([inner.as_bytes(), &salt[..]].concat()));
    format!("md5{outer}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

/// A SCRAM-SHA-256 exchange in progress.
pub(crate) struct Scram {
    password: Vec<u8>,
    client_nonce: String,
    client_first_bare: String,
    /// Set once the server's first message is answered: what its final message must prove.
    expected_server_signature: Option<Vec<u8>>,
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>, SourceError> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .map_err(|_| SourceError::Auth("SCRAM: HMAC refused the key".to_owned()))?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac.finalize().into_bytes().to_vec())
}

impl Scram {
    /// Starts an exchange. PostgreSQL takes the user from the startup packet and ignores the
    /// SCRAM user name, so `user` is normally empty; the tests pass RFC 7677's.
    pub(crate) fn new(user: &str, password: &str, client_nonce: String) -> Scram {
        // SASLprep as PostgreSQL does it: a password that is not valid after normalisation is
        // used as raw bytes rather than refused, matching the server's own fallback.
        let password = stringprep::saslprep(password)
            .map(|p| p.into_owned())
            .unwrap_or_else(|_| password.to_owned())
            .into_bytes();
        let client_first_bare = format!("n={user},r={client_nonce}");
        Scram {
            password,
            client_nonce,
            client_first_bare,
            expected_server_signature: None,
        }
    }

    /// A fresh random nonce (printable, no commas).
    pub(crate) fn random_nonce() -> String {
        let bytes: [u8; 18] = rand::random();
        BASE64.encode(bytes)
    }

    /// `client-first-message`: GS2 header `n,,` (no channel binding) plus the bare part.
    pub(crate) fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Answers `server-first-message` with `client-final-message`.
    pub(crate) fn client_final(&mut self, server_first: &[u8]) -> Result<String, SourceError> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| scram_error("the server's first message is not UTF-8"))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for attribute in server_first.split(',') {
            match attribute.split_at_checked(2) {
                Some(("r=", v)) => nonce = Some(v),
                Some(("s=", v)) => salt = Some(v),
                Some(("i=", v)) => iterations = Some(v),
                _ => {}
            }
        }
        let nonce = nonce.ok_or_else(|| scram_error("the server sent no nonce"))?;
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(scram_error("the server's nonce does not extend ours"));
        }
        let salt = BASE64
            .decode(salt.ok_or_else(|| scram_error("the server sent no salt"))?)
            .map_err(|_| scram_error("the server's salt is not base64"))?;
        let iterations: u32 = iterations
            .and_then(|i| i.parse().ok())
            .filter(|&i| i > 0)
            .ok_or_else(|| scram_error("the server sent no valid iteration count"))?;

        let salted = self.salted_password(&salt, iterations)?;
        let client_key = hmac(&salted, &[b"Client Key"])?;
        let stored_key = Sha256::digest(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = hmac(&stored_key, &[auth_message.as_bytes()])?;
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hmac(&salted, &[b"Server Key"])?;
        self.expected_server_signature = Some(hmac(&server_key, &[auth_message.as_bytes()])?);
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)))
    }

    /// Checks `server-final-message`: the server must prove it knows the password too.
    pub(crate) fn verify_server_final(&self, server_final: &[u8]) -> Result<(), SourceError> {
        let text = std::str::from_utf8(server_final)
            .map_err(|_| scram_error("the server's final message is not UTF-8"))?;
        if let Some(error) = text.strip_prefix("e=") {
            return Err(SourceError::Auth(format!(
                "SCRAM: the server refused the proof: {error}"
            )));
        }
        let verifier = text
            .split(',')
            .find_map(|a| a.strip_prefix("v="))
            .ok_or_else(|| scram_error("the server's final message has no verifier"))?;
        let verifier = BASE64
            .decode(verifier)
            .map_err(|_| scram_error("the server's verifier is not base64"))?;
        match &self.expected_server_signature {
            Some(expected) if *expected == verifier => Ok(()),
            _ => Err(SourceError::Auth(
                "SCRAM: the server could not prove it knows the password; refusing to continue"
                    .to_owned(),
            )),
        }
    }

    /// `Hi(password, salt, i)`: PBKDF2 with HMAC-SHA-256 and one output block.
    fn salted_password(&self, salt: &[u8], iterations: u32) -> Result<Vec<u8>, SourceError> {
        let mut u = hmac(&self.password, &[salt, &1u32.to_be_bytes()])?;
        let mut result = u.clone();
        for _ in 1..iterations {
            u = hmac(&self.password, &[&u])?;
            result.iter_mut().zip(&u).for_each(|(r, x)| *r ^= x);
        }
        Ok(result)
    }
}

fn scram_error(what: &str) -> SourceError {
    SourceError::Auth(format!("SCRAM: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exchange from RFC 7677 section 3.
    #[test]
    fn matches_rfc_7677() {
        let mut scram = Scram::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO".to_owned());
        assert_eq!(scram.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        assert_eq!(
            scram.client_final(server_first).expect("valid test input"),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        scram
            .verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .expect("valid test input");
        assert!(matches!(
            scram.verify_server_final(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            Err(SourceError::Auth(_))
        ));
    }

    #[test]
    fn refuses_a_nonce_that_does_not_extend_ours() {
        let mut scram = Scram::new("", "pw", "abc".to_owned());
        assert!(scram.client_final(b"r=xyz123,s=QUJD,i=4096").is_err());
        assert!(scram.client_final(b"r=abc,s=QUJD,i=4096").is_err());
    }

    #[test]
    fn md5_matches_postgresql() {
        // Expected value from Python: "md5" + md5(md5(b"secretalice").hexdigest() + b"\x01\x02\x03\x04").
        assert_eq!(
            md5_password("alice", "secret", [1, 2, 3, 4]),
            "md598a0412b9c31436fc53776e863350083"
        );
    }
}
