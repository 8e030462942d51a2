//! Signing a profile as CMS SignedData (RFC 5652) with the server's TLS certificate and
//! key, so Apple shows it as verified: DER, content type id-data with the plist inside,
//! the certificate chain included, one signer identified by issuer and serial number,
//! a SHA-256 (SHA-384 for P-384 keys) digest and the signed attributes content-type,
//! message-digest and signing-time.
//!
//! The structures are the RustCrypto `cms` and `x509-cert` types, encoded by `der`; the
//! signature comes from the key rustls already holds (ring underneath), which reads
//! every key form the server accepts (PKCS#8, PKCS#1, SEC1) and never hands the key out.

use std::time::SystemTime;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{Any, ObjectIdentifier, OctetString, SetOfVec, UtcTime};
use der::{Decode, Encode, Tag};
use rustls::SignatureScheme;
use rustls::sign::CertifiedKey;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::time::Time;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

/// Why a profile could not be signed with the certificate the server has.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    /// The key is neither RSA nor ECDSA P-256/P-384 (Ed25519: Apple does not verify it).
    #[error("the TLS key is not RSA or ECDSA P-256/P-384, which Apple devices verify")]
    UnsupportedKey,
    /// The certificate could not be read as X.509.
    #[error("the TLS certificate cannot be parsed: {0}")]
    Certificate(String),
    /// The key refused to sign or the structure could not be encoded.
    #[error("signing failed: {0}")]
    Signing(String),
}

/// One way to sign: digest and signature algorithm, and rustls's name for it.
struct Algorithm {
    scheme: SignatureScheme,
    digest: &'static ring::digest::Algorithm,
    digest_oid: ObjectIdentifier,
    signature_oid: ObjectIdentifier,
    /// RSA's identifier carries NULL parameters; ECDSA's none (RFC 5754, RFC 5758).
    null_parameters: bool,
}

static ALGORITHMS: [Algorithm; 3] = [
    Algorithm {
        scheme: SignatureScheme::ECDSA_NISTP256_SHA256,
        digest: &ring::digest::SHA256,
        digest_oid: ID_SHA256,
        signature_oid: ECDSA_WITH_SHA256,
        null_parameters: false,
    },
    Algorithm {
        scheme: SignatureScheme::ECDSA_NISTP384_SHA384,
        digest: &ring::digest::SHA384,
        digest_oid: ID_SHA384,
        signature_oid: ECDSA_WITH_SHA384,
        null_parameters: false,
    },
    Algorithm {
        scheme: SignatureScheme::RSA_PKCS1_SHA256,
        digest: &ring::digest::SHA256,
        digest_oid: ID_SHA256,
        signature_oid: RSA_ENCRYPTION,
        null_parameters: true,
    },
];

/// Whether `key` can sign profiles Apple verifies, without signing anything: what the
/// devices page says before anyone downloads.
pub fn check(key: &CertifiedKey) -> Result<(), SignError> {
    ALGORITHMS
        .iter()
        .find_map(|a| key.key.choose_scheme(&[a.scheme]))
        .map(|_| ())
        .ok_or(SignError::UnsupportedKey)
}

/// `content` wrapped in a DER ContentInfo holding SignedData, signed with `key`.
pub fn sign(content: &[u8], key: &CertifiedKey, now: SystemTime) -> Result<Vec<u8>, SignError> {
    let (algorithm, signer) = ALGORITHMS
        .iter()
        .find_map(|a| key.key.choose_scheme(&[a.scheme]).map(|s| (a, s)))
        .ok_or(SignError::UnsupportedKey)?;
    let chain = key
        .cert
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SignError::Certificate(e.to_string()))?;
    let leaf = chain
        .first()
        .ok_or_else(|| SignError::Certificate("the chain is empty".into()))?;

    let digest = ring::digest::digest(algorithm.digest, content);
    let signed_attrs = SetOfVec::try_from(vec![
        attribute(ID_CONTENT_TYPE, &ID_DATA)?,
        attribute(ID_MESSAGE_DIGEST, &octets(digest.as_ref())?)?,
        attribute(ID_SIGNING_TIME, &signing_time(now)?)?,
    ])
    .map_err(encoding)?;
    // RFC 5652 §5.4: the signature covers the attributes as a SET OF, its own tag,
    // not the [0] IMPLICIT they are written with inside SignerInfo.
    let to_sign = signed_attrs.to_der().map_err(encoding)?;
    let signature = signer
        .sign(&to_sign)
        .map_err(|e| SignError::Signing(e.to_string()))?;

    let digest_alg = AlgorithmIdentifierOwned {
        oid: algorithm.digest_oid,
        parameters: None,
    };
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: leaf.tbs_certificate.issuer.clone(),
            serial_number: leaf.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: digest_alg.clone(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: algorithm.signature_oid,
            parameters: algorithm.null_parameters.then(Any::null),
        },
        signature: octets(&signature)?,
        unsigned_attrs: None,
    };
    let certificates = chain
        .into_iter()
        .map(CertificateChoices::Certificate)
        .collect::<Vec<_>>();
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![digest_alg]).map_err(encoding)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: Some(Any::new(Tag::OctetString, content).map_err(encoding)?),
        },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(certificates).map_err(encoding)?,
        )),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info]).map_err(encoding)?),
    };
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data).map_err(encoding)?,
    }
    .to_der()
    .map_err(encoding)
}

fn attribute(oid: ObjectIdentifier, value: &impl Encode) -> Result<Attribute, SignError> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![der_any(value)?]).map_err(encoding)?,
    })
}

/// Any value as an ANY, through its own DER (a CHOICE such as `Time` has no fixed tag).
fn der_any(value: &impl Encode) -> Result<Any, SignError> {
    Any::from_der(&value.to_der().map_err(encoding)?).map_err(encoding)
}

fn octets(bytes: &[u8]) -> Result<OctetString, SignError> {
    OctetString::new(bytes).map_err(encoding)
}

/// UTCTime, as RFC 5652 §11.3 requires for dates before 2050.
fn signing_time(now: SystemTime) -> Result<Time, SignError> {
    Ok(Time::UtcTime(
        UtcTime::from_system_time(now).map_err(encoding)?,
    ))
}

fn encoding(e: der::Error) -> SignError {
    SignError::Signing(e.to_string())
}

#[cfg(test)]
mod tests {
    use cms::signed_data::SignedData;
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    use super::*;

    fn certified(alg: &'static rcgen::SignatureAlgorithm) -> CertifiedKey {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = rustls::crypto::ring::default_provider();
        CertifiedKey::from_der(vec![cert.der().clone()], private, &provider).unwrap()
    }

    #[test]
    fn signed_data_carries_the_content_attributes_and_a_valid_signature() {
        let key = certified(&rcgen::PKCS_ECDSA_P256_SHA256);
        let content = b"<plist>hello</plist>";
        let der = sign(content, &key, SystemTime::now()).unwrap();

        let info = ContentInfo::from_der(&der).unwrap();
        assert_eq!(info.content_type, ID_SIGNED_DATA);
        let data: SignedData = info.content.decode_as().unwrap();
        let inner = data.encap_content_info.econtent.unwrap();
        assert_eq!(inner.value(), content);
        assert_eq!(data.certificates.unwrap().0.len(), 1);
        let signer = &data.signer_infos.0.as_slice()[0];
        assert_eq!(signer.digest_alg.oid, ID_SHA256);
        assert_eq!(signer.signature_algorithm.oid, ECDSA_WITH_SHA256);
        let attrs = signer.signed_attrs.as_ref().unwrap();
        let oids: Vec<_> = attrs.iter().map(|a| a.oid).collect();
        for oid in [ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNING_TIME] {
            assert!(oids.contains(&oid), "{oid} missing");
        }
        let digest = attrs.iter().find(|a| a.oid == ID_MESSAGE_DIGEST).unwrap();
        let digest: OctetString = digest.values.as_slice()[0].decode_as().unwrap();
        let expected = ring::digest::digest(&ring::digest::SHA256, content);
        assert_eq!(digest.as_bytes(), expected.as_ref());

        let leaf = Certificate::from_der(key.cert[0].as_ref()).unwrap();
        let public = leaf
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, public)
            .verify(&attrs.to_der().unwrap(), signer.signature.as_bytes())
            .expect("the signature covers the signed attributes");
    }

    #[test]
    fn keys_apple_cannot_verify_are_refused() {
        let key = certified(&rcgen::PKCS_ED25519);
        assert_eq!(
            sign(b"x", &key, SystemTime::now()),
            Err(SignError::UnsupportedKey)
        );
    }
}
