//! The OS verifier, wrapped to remember the chain a host sent when it is rejected, and just
//! enough X.509 reading to name the certificates in that chain.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// The chain a server presented that the OS trust store rejected, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenChain {
    pub leaf_subject: String,
    pub leaf_issuer: String,
    /// The last certificate the server sent (the leaf when it sent no intermediate).
    pub top_subject: String,
    /// Who signed that last certificate: the root the chain needs.
    pub top_issuer: String,
    /// How many certificates the server sent.
    pub length: usize,
    /// Why it was rejected.
    pub reason: Rejection,
}

/// Why a chain was rejected, in the terms the fix depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// It does not end at a root this machine trusts.
    UnknownIssuer,
    /// Expired or not yet valid (or this machine's clock is off).
    Expired,
    /// Valid, but for another name.
    WrongName,
    /// Anything else rustls says.
    Other(String),
}

impl SeenChain {
    /// One line for the doctor's evidence.
    pub fn describe(&self) -> String {
        let why = match &self.reason {
            Rejection::UnknownIssuer => "not trusted by this machine".to_string(),
            Rejection::Expired => "expired or not yet valid".to_string(),
            Rejection::WrongName => "issued for another name".to_string(),
            Rejection::Other(reason) => reason.clone(),
        };
        if self.length > 1 {
            format!(
                "certificate chain seen ({} certificates, {why}): leaf \"{}\" issued by \"{}\"; top \"{}\" issued by root \"{}\"",
                self.length, self.leaf_subject, self.leaf_issuer, self.top_subject, self.top_issuer
            )
        } else {
            format!(
                "certificate seen ({why}): \"{}\" issued by root \"{}\"",
                self.leaf_subject, self.leaf_issuer
            )
        }
    }
}

/// The chains rejected per host, for the doctor (bounded: a client talks to a few hosts).
#[derive(Debug, Default)]
pub(super) struct RejectedChains(Mutex<HashMap<String, SeenChain>>);

impl RejectedChains {
    const MAX_HOSTS: usize = 32;

    fn set(&self, host: String, chain: Option<SeenChain>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match chain {
            None => {
                map.remove(&host);
            }
            Some(chain) => {
                if map.len() >= Self::MAX_HOSTS {
                    map.clear();
                }
                map.insert(host, chain);
            }
        }
    }

    pub(super) fn get(&self, host: &str) -> Option<SeenChain> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&host.to_ascii_lowercase()).cloned()
    }
}

/// The platform verifier, recording what it rejects.
pub(super) struct RecordingVerifier {
    pub(super) inner: rustls_platform_verifier::Verifier,
    pub(super) rejected: std::sync::Arc<RejectedChains>,
}

impl fmt::Debug for RecordingVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecordingVerifier(OS trust store)")
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let host = server_name.to_str().to_ascii_lowercase();
        let seen = result.as_ref().err().map(|error| {
            let top = intermediates.last().unwrap_or(end_entity);
            let (leaf_issuer, leaf_subject) = names(end_entity);
            let (top_issuer, top_subject) = names(top);
            SeenChain {
                leaf_subject,
                leaf_issuer,
                top_subject,
                top_issuer,
                length: 1 + intermediates.len(),
                reason: rejection(error),
            }
        });
        self.rejected.set(host, seen);
        result
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn rejection(error: &rustls::Error) -> Rejection {
    match error {
        rustls::Error::InvalidCertificate(kind) => match kind {
            CertificateError::UnknownIssuer => Rejection::UnknownIssuer,
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => Rejection::Expired,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Rejection::WrongName
            }
            other => Rejection::Other(format!("{other:?}")),
        },
        other => Rejection::Other(other.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Issuer and subject of a DER certificate: read for the evidence only, never trusted.

const UNREADABLE: &str = "(unreadable name)";

/// (issuer, subject) of `der`, as `CN=…, O=…`.
pub(super) fn names(der: &[u8]) -> (String, String) {
    read_names(der).unwrap_or_else(|| (UNREADABLE.into(), UNREADABLE.into()))
}

fn read_names(der: &[u8]) -> Option<(String, String)> {
    let (_, certificate, _) = tlv(der).filter(|(tag, _, _)| *tag == 0x30)?;
    let (_, tbs, _) = tlv(certificate).filter(|(tag, _, _)| *tag == 0x30)?;
    let mut rest = tbs;
    // [0] version (optional), serial, signature algorithm, issuer, validity, subject.
    let (tag, _, after) = tlv(rest)?;
    if tag == 0xA0 {
        rest = after;
    }
    let (_, _, rest) = tlv(rest)?; // serial
    let (_, _, rest) = tlv(rest)?; // signature algorithm
    let (_, issuer, rest) = tlv(rest)?;
    let (_, _, rest) = tlv(rest)?; // validity
    let (_, subject, _) = tlv(rest)?;
    Some((name(issuer), name(subject)))
}

/// One DER element: (tag, contents, what follows).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = rest.get(..count)?;
        let length = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (length, rest.get(count..)?)
    };
    Some((tag, rest.get(..length)?, rest.get(length..)?))
}

/// An X.501 Name (a sequence of sets of attribute type and value) as `CN=…, OU=…, O=…`.
fn name(mut rdns: &[u8]) -> String {
    let mut parts = Vec::new();
    while let Some((_, set, rest)) = tlv(rdns) {
        rdns = rest;
        let mut attributes = set;
        while let Some((_, attribute, rest)) = tlv(attributes) {
            attributes = rest;
            let Some((0x06, oid, value)) = tlv(attribute) else {
                continue;
            };
            let label = match oid {
                [0x55, 0x04, 0x03] => "CN",
                [0x55, 0x04, 0x0A] => "O",
                [0x55, 0x04, 0x0B] => "OU",
                [0x55, 0x04, 0x06] => "C",
                _ => continue,
            };
            if let Some((tag, text, _)) = tlv(value) {
                parts.push(format!("{label}={}", text_of(tag, text)));
            }
        }
    }
    if parts.is_empty() {
        return "(empty name)".into();
    }
    // Most specific first, as people read them.
    parts.reverse();
    let joined = parts.join(", ");
    joined.chars().take(200).collect()
}

fn text_of(tag: u8, bytes: &[u8]) -> String {
    let text = if tag == 0x1E {
        // BMPString: UTF-16BE.
        let units: Vec<u16> = bytes
            .chunks(2)
            .map(|pair| match pair {
                [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                _ => u16::from(b'?'),
            })
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    };
    text.chars()
        .map(|c| if c.is_control() || c == '"' { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_never_panics_and_says_unreadable() {
        for input in [
            &[][..],
            &[0x30],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x03, 0x30, 0x01],
        ] {
            assert_eq!(names(input).0, UNREADABLE);
        }
    }

    #[test]
    fn a_name_reads_most_specific_first() {
        // SET { SEQ { OID O, UTF8 "Corp" } }, SET { SEQ { OID CN, PrintableString "Root" } }
        let der = [
            0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x0A, 0x0C, 0x02, b'C', b'o', 0x31,
            0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x13, 0x02, b'R', b't',
        ];
        assert_eq!(name(&der), "CN=Rt, O=Co");
    }
}
