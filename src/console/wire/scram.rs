//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) from the client's side, without
//! channel binding, as Kafka speaks it. Pure computation: messages in, messages out.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::error::ErrorStack;
use openssl::hash::{hash, MessageDigest};
use openssl::pkey::PKey;
use openssl::sign::Signer;

/// Kafka's own bounds on the iteration count: fewer is a downgrade, more only burns CPU.
const ITERATIONS: std::ops::RangeInclusive<u32> = 4096..=16384;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha512,
}

impl Hash {
    fn digest(self) -> MessageDigest {
        match self {
            Hash::Sha256 => MessageDigest::sha256(),
            Hash::Sha512 => MessageDigest::sha512(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScramError {
    #[error("the broker's SCRAM message is not valid: {0}")]
    Malformed(&'static str),
    #[error("the broker's nonce does not start with the console's")]
    Nonce,
    #[error("the broker asks for {0} iterations, outside Kafka's 4096..=16384")]
    Iterations(u32),
    #[error("the broker ended SCRAM with an error: {0}")]
    Server(String),
    #[error("the broker's SCRAM signature is wrong: it does not hold this user's credentials")]
    Signature,
    #[error("crypto: {0}")]
    Crypto(#[from] ErrorStack),
}

/// One exchange: client-first, then [`Client::final_message`] for the server-first.
pub struct Client {
    hash: Hash,
    password: String,
    nonce: String,
    first_bare: String,
}

/// The server signature the server-final message must carry.
pub struct Expected(Vec<u8>);

impl Client {
    /// A client with a fresh random nonce.
    pub fn new(hash: Hash, user: &str, password: &str) -> Result<Self, ScramError> {
        let mut bytes = [0u8; 24];
        openssl::rand::rand_bytes(&mut bytes)?;
        Ok(Self::with_nonce(
            hash,
            user,
            password,
            &STANDARD.encode(bytes),
        ))
    }

    fn with_nonce(hash: Hash, user: &str, password: &str, nonce: &str) -> Self {
        // RFC 5802 5.1: '=' and ',' in a user name are escaped ('=' first).
        let user = user.replace('=', "=3D").replace(',', "=2C");
        Self {
            hash,
            password: password.to_owned(),
            nonce: nonce.to_owned(),
            first_bare: format!("n={user},r={nonce}"),
        }
    }

    /// client-first-message: no channel binding ("n"), no authorization identity.
    pub fn first_message(&self) -> Vec<u8> {
        format!("n,,{}", self.first_bare).into_bytes()
    }

    /// client-final-message for the server-first message, and the signature to expect back.
    pub fn final_message(&self, server_first: &[u8]) -> Result<(Vec<u8>, Expected), ScramError> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| ScramError::Malformed("server-first is not UTF-8"))?;
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for attribute in server_first.split(',') {
            match attribute.split_once('=') {
                Some(("m", _)) => return Err(ScramError::Malformed("a mandatory extension")),
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = Some(v),
                Some(("i", v)) => iterations = Some(v),
                _ => {}
            }
        }
        let nonce = nonce.ok_or(ScramError::Malformed("no nonce"))?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(ScramError::Nonce);
        }
        let salt = STANDARD
            .decode(salt.ok_or(ScramError::Malformed("no salt"))?)
            .map_err(|_| ScramError::Malformed("the salt is not base64"))?;
        let iterations: u32 = iterations
            .ok_or(ScramError::Malformed("no iteration count"))?
            .parse()
            .map_err(|_| ScramError::Malformed("the iteration count is not a number"))?;
        if !ITERATIONS.contains(&iterations) {
            return Err(ScramError::Iterations(iterations));
        }

        let digest = self.hash.digest();
        let mut salted = vec![0u8; digest.size()];
        openssl::pkcs5::pbkdf2_hmac(
            self.password.as_bytes(),
            &salt,
            iterations as usize,
            digest,
            &mut salted,
        )?;
        let client_key = self.hmac(&salted, b"Client Key")?;
        let stored_key = hash(digest, &client_key)?;
        // "biws" is base64("n,,"), the GS2 header of client-first.
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.first_bare);
        let signature = self.hmac(&stored_key, auth_message.as_bytes())?;
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = self.hmac(&salted, b"Server Key")?;
        let expected = Expected(self.hmac(&server_key, auth_message.as_bytes())?);
        let message = format!("{without_proof},p={}", STANDARD.encode(proof));
        Ok((message.into_bytes(), expected))
    }

    fn hmac(&self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, ErrorStack> {
        let key = PKey::hmac(key)?;
        let mut signer = Signer::new(self.hash.digest(), &key)?;
        signer.update(data)?;
        signer.sign_to_vec()
    }
}

impl Expected {
    /// Checks server-final: the broker proves it knows the credentials too.
    pub fn verify(&self, server_final: &[u8]) -> Result<(), ScramError> {
        let server_final = std::str::from_utf8(server_final)
            .map_err(|_| ScramError::Malformed("server-final is not UTF-8"))?;
        let first = server_final.split(',').next().unwrap_or_default();
        if let Some(error) = first.strip_prefix("e=") {
            return Err(ScramError::Server(error.to_owned()));
        }
        let signature = first
            .strip_prefix("v=")
            .ok_or(ScramError::Malformed("server-final has no verifier"))?;
        let signature = STANDARD
            .decode(signature)
            .map_err(|_| ScramError::Malformed("the verifier is not base64"))?;
        if signature.len() == self.0.len() && openssl::memcmp::eq(&signature, &self.0) {
            Ok(())
        } else {
            Err(ScramError::Signature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677 section 3.
    const NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_client(password: &str) -> Client {
        Client::with_nonce(Hash::Sha256, "user", password, NONCE)
    }

    #[test]
    fn rfc7677_sha256_test_vector() {
        let client = rfc_client("pencil");
        assert_eq!(client.first_message(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let (client_final, expected) = client
            .final_message(SERVER_FIRST.as_bytes())
            .expect("valid server-first");
        assert_eq!(String::from_utf8_lossy(&client_final), CLIENT_FINAL);
        expected
            .verify(SERVER_FINAL.as_bytes())
            .expect("the RFC's server signature");
    }

    #[test]
    fn another_password_gives_another_proof_and_rejects_the_server() {
        let (client_final, expected) = rfc_client("pencil2")
            .final_message(SERVER_FIRST.as_bytes())
            .expect("valid server-first");
        assert_ne!(String::from_utf8_lossy(&client_final), CLIENT_FINAL);
        assert!(matches!(
            expected.verify(SERVER_FINAL.as_bytes()),
            Err(ScramError::Signature)
        ));
    }

    #[test]
    fn server_errors_and_foreign_nonces_are_refused() {
        let client = rfc_client("pencil");
        let (_, expected) = client
            .final_message(SERVER_FIRST.as_bytes())
            .expect("valid server-first");
        assert!(matches!(
            expected.verify(b"e=invalid-proof"),
            Err(ScramError::Server(e)) if e == "invalid-proof"
        ));
        let foreign = SERVER_FIRST.replace("r=rOpr", "r=xOpr");
        assert!(matches!(
            client.final_message(foreign.as_bytes()),
            Err(ScramError::Nonce)
        ));
        let weak = SERVER_FIRST.replace("i=4096", "i=1");
        assert!(matches!(
            client.final_message(weak.as_bytes()),
            Err(ScramError::Iterations(1))
        ));
    }

    #[test]
    fn user_names_are_escaped() {
        let client = Client::with_nonce(Hash::Sha512, "a=b,c", "x", "n");
        assert_eq!(client.first_message(), b"n,,n=a=3Db=2Cc,r=n");
    }
}
