"""Asymmetric and HMAC keys, checked against an independent implementation.

Every signature keyward makes is verified OFFLINE with `cryptography`, using
only the public key GetPublicKey hands out (DER SubjectPublicKeyInfo): every
signing key spec and every signing algorithm AWS KMS lists for it, with
MessageType RAW and with DIGEST (the digest computed locally). RSA ciphertexts
made offline with OAEP (SHA-1 and SHA-256, no label) decrypt through keyward,
and the OAEP plaintext limits are AWS's. HMAC keys round-trip
GenerateMac/VerifyMac. Refusals -- tampered signatures and MACs, garbage
ciphertexts, the wrong key usage or algorithm, a digest of the wrong length,
rotation of asymmetric keys -- carry AWS's error codes and messages, the
DescribeKey metadata of each spec is AWS's, and a key-policy Deny conditioned
on kms:MessageType or kms:SigningAlgorithm is enforced on Sign.
"""

import hashlib
import json
import os

import pytest
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from conftest import ACCOUNT, IDENTITIES

from cryptography.hazmat.primitives.asymmetric import mldsa

MESSAGE = b"keyward e2e: the quick brown fox jumps over the lazy dog"
RSA_SIGNING = [
    "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
]
RSA_ENCRYPTION = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
# AWS KMS's SigningAlgorithms for each SIGN_VERIFY key spec.
SIGNING_ALGORITHMS = {
    "RSA_2048": RSA_SIGNING, "RSA_3072": RSA_SIGNING, "RSA_4096": RSA_SIGNING,
    "ECC_NIST_P256": ["ECDSA_SHA_256"], "ECC_NIST_P384": ["ECDSA_SHA_384"],
    "ECC_NIST_P521": ["ECDSA_SHA_512"], "ECC_SECG_P256K1": ["ECDSA_SHA_256"],
    "ECC_NIST_EDWARDS25519": ["ED25519_SHA_512", "ED25519_PH_SHA_512"],
    "ML_DSA_44": ["ML_DSA_SHAKE_256"], "ML_DSA_65": ["ML_DSA_SHAKE_256"], "ML_DSA_87": ["ML_DSA_SHAKE_256"],
}
MAC_SPECS = {"HMAC_224": ("HMAC_SHA_224", 28), "HMAC_256": ("HMAC_SHA_256", 32),
             "HMAC_384": ("HMAC_SHA_384", 48), "HMAC_512": ("HMAC_SHA_512", 64)}
CURVES = {"ECC_NIST_P256": "secp256r1", "ECC_NIST_P384": "secp384r1",
          "ECC_NIST_P521": "secp521r1", "ECC_SECG_P256K1": "secp256k1"}
# The deprecated CustomerMasterKeySpec is present for these, absent for Ed25519 and ML-DSA.
CMK_SPEC_PREFIXES = ("RSA", "ECC_NIST_P", "ECC_SECG", "HMAC")
ML_DSA_SIZES = {"ML_DSA_44": 2420, "ML_DSA_65": 3309, "ML_DSA_87": 4627}  # FIPS 204 signature bytes

# RSA_3072 / RSA_4096 are slow to generate: one algorithm each.
OFFLINE_CASES = (
    [("RSA_2048", alg) for alg in RSA_SIGNING]
    + [("RSA_3072", "RSASSA_PSS_SHA_384"), ("RSA_4096", "RSASSA_PKCS1_V1_5_SHA_512")]
    + [(spec, algs[0]) for spec, algs in SIGNING_ALGORITHMS.items() if spec.startswith("ECC_NIST_P") or spec == "ECC_SECG_P256K1"]
)
DIGEST_CASES = list(OFFLINE_CASES)
OFFLINE_CASES += [("ECC_NIST_EDWARDS25519", "ED25519_SHA_512")] + [(s, "ML_DSA_SHAKE_256") for s in ML_DSA_SIZES]
# Verify through keyward: one case per family.
VERIFY_CASES = [
    ("RSA_2048", "RSASSA_PSS_SHA_256"), ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_512"),
    ("ECC_NIST_P256", "ECDSA_SHA_256"), ("ECC_NIST_P384", "ECDSA_SHA_384"), ("ECC_NIST_P521", "ECDSA_SHA_512"),
    ("ECC_SECG_P256K1", "ECDSA_SHA_256"), ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
] + [(s, "ML_DSA_SHAKE_256") for s in ML_DSA_SIZES]


def error(excinfo):
    err = excinfo.value.response["Error"]
    return err["Code"], err.get("Message", "")


def hash_for(algorithm):
    """The hash an algorithm name ends in (…_SHA_1/256/384/512)."""
    return {"1": hashes.SHA1(), "256": hashes.SHA256(), "384": hashes.SHA384(),
            "512": hashes.SHA512()}[algorithm.rsplit("_", 1)[1]]


def local_digest(algorithm, message=MESSAGE):
    return hashlib.new(hash_for(algorithm).name, message).digest()


def flip(data, index=-1):
    b = bytearray(data)
    b[index] ^= 0x01
    return bytes(b)


def verify_offline(public_der, spec, algorithm, signature, message=MESSAGE, prehashed=False):
    """Raises InvalidSignature unless `signature` is valid for `message`."""
    if spec.startswith("ML_DSA"):
        key = serialization.load_der_public_key(public_der)
        expected = {"ML_DSA_44": mldsa.MLDSA44PublicKey, "ML_DSA_65": mldsa.MLDSA65PublicKey,
                    "ML_DSA_87": mldsa.MLDSA87PublicKey}[spec]
        assert isinstance(key, expected), type(key)
        key.verify(signature, message)  # pure ML-DSA, empty context, as AWS KMS signs
        return
    key = serialization.load_der_public_key(public_der)
    if algorithm == "ED25519_SHA_512":
        assert isinstance(key, ed25519.Ed25519PublicKey), type(key)
        key.verify(signature, message)
        return
    h = hash_for(algorithm)
    chosen = utils.Prehashed(h) if prehashed else h
    if algorithm.startswith("ECDSA"):
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == CURVES[spec], key
        key.verify(signature, message, ec.ECDSA(chosen))  # DER-encoded (r, s)
    elif algorithm.startswith("RSASSA_PSS"):
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == int(spec[4:]), key
        key.verify(signature, message, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), chosen)
    else:
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == int(spec[4:]), key
        key.verify(signature, message, padding.PKCS1v15(), chosen)


@pytest.fixture(scope="module")
def key_of(kms):
    """A shared key per (KeySpec, KeyUsage), created once for the module."""
    cache = {}

    def get(spec, usage):
        if (spec, usage) not in cache:
            cache[(spec, usage)] = kms.create_key(
                KeySpec=spec, KeyUsage=usage, Description=f"e2e {spec} {usage}")["KeyMetadata"]
        return cache[(spec, usage)]

    return get


@pytest.fixture(scope="module")
def public_key_of(kms, key_of):
    cache = {}

    def get(spec, usage="SIGN_VERIFY"):
        if (spec, usage) not in cache:
            cache[(spec, usage)] = kms.get_public_key(KeyId=key_of(spec, usage)["KeyId"])
        return cache[(spec, usage)]

    return get


# --- 1: keyward's signatures verify offline ----------------------------------


@pytest.mark.parametrize("spec,algorithm", OFFLINE_CASES)
def test_raw_signature_verifies_offline(kms, key_of, public_key_of, spec, algorithm):
    key = key_of(spec, "SIGN_VERIFY")
    assert algorithm in key["SigningAlgorithms"], key["SigningAlgorithms"]
    out = kms.sign(KeyId=key["KeyId"], Message=MESSAGE, MessageType="RAW", SigningAlgorithm=algorithm)
    assert out["KeyId"] == key["Arn"] and out["SigningAlgorithm"] == algorithm, out
    if spec in ML_DSA_SIZES:
        assert len(out["Signature"]) == ML_DSA_SIZES[spec]
    public = public_key_of(spec)
    verify_offline(public["PublicKey"], spec, algorithm, out["Signature"])
    with pytest.raises(InvalidSignature):
        verify_offline(public["PublicKey"], spec, algorithm, out["Signature"], message=MESSAGE + b"!")


@pytest.mark.parametrize("spec,algorithm", DIGEST_CASES)
def test_digest_signature_verifies_offline(kms, key_of, public_key_of, spec, algorithm):
    key = key_of(spec, "SIGN_VERIFY")
    digest = local_digest(algorithm)
    out = kms.sign(KeyId=key["KeyId"], Message=digest, MessageType="DIGEST", SigningAlgorithm=algorithm)
    public = public_key_of(spec)["PublicKey"]
    verify_offline(public, spec, algorithm, out["Signature"], message=digest, prehashed=True)
    # A DIGEST signature is the same signature as over the RAW message.
    verify_offline(public, spec, algorithm, out["Signature"])


@pytest.mark.parametrize("spec", list(SIGNING_ALGORITHMS))
def test_get_public_key_describes_the_signing_key(key_of, public_key_of, spec):
    key = key_of(spec, "SIGN_VERIFY")
    out = public_key_of(spec)
    assert out["KeyId"] == key["Arn"] and out["KeySpec"] == spec and out["KeyUsage"] == "SIGN_VERIFY", out
    assert sorted(out["SigningAlgorithms"]) == sorted(SIGNING_ALGORITHMS[spec]), out
    assert "EncryptionAlgorithms" not in out, out
    if spec.startswith(CMK_SPEC_PREFIXES):
        assert out["CustomerMasterKeySpec"] == spec, out
    else:
        assert "CustomerMasterKeySpec" not in out, out
    if not spec.startswith("ML_DSA") or mldsa is not None:
        serialization.load_der_public_key(out["PublicKey"])  # well-formed SubjectPublicKeyInfo


# --- 2: keyward Verify --------------------------------------------------------


@pytest.mark.parametrize("spec,algorithm", VERIFY_CASES)
def test_verify_accepts_its_signature_and_refuses_tampering(kms, key_of, spec, algorithm):
    key_id = key_of(spec, "SIGN_VERIFY")["KeyId"]
    sig = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm=algorithm)["Signature"]
    out = kms.verify(KeyId=key_id, Message=MESSAGE, Signature=sig, SigningAlgorithm=algorithm)
    assert out["SignatureValid"] is True and out["SigningAlgorithm"] == algorithm, out
    for message, signature in ((MESSAGE + b"!", sig), (MESSAGE, flip(sig)), (MESSAGE, flip(sig, 10))):
        with pytest.raises(ClientError) as e:
            kms.verify(KeyId=key_id, Message=message, Signature=signature, SigningAlgorithm=algorithm)
        assert error(e) == ("KMSInvalidSignatureException", "")


@pytest.mark.parametrize("spec,algorithm", [("ECC_NIST_P256", "ECDSA_SHA_256"), ("RSA_2048", "RSASSA_PSS_SHA_512")])
def test_verify_a_digest_signature_as_digest_and_as_raw(kms, key_of, spec, algorithm):
    key_id = key_of(spec, "SIGN_VERIFY")["KeyId"]
    digest = local_digest(algorithm)
    sig = kms.sign(KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm=algorithm)["Signature"]
    assert kms.verify(KeyId=key_id, Message=digest, MessageType="DIGEST", Signature=sig,
                      SigningAlgorithm=algorithm)["SignatureValid"] is True
    assert kms.verify(KeyId=key_id, Message=MESSAGE, Signature=sig, SigningAlgorithm=algorithm)["SignatureValid"] is True
    with pytest.raises(ClientError) as e:
        kms.verify(KeyId=key_id, Message=flip(digest), MessageType="DIGEST", Signature=sig, SigningAlgorithm=algorithm)
    assert error(e) == ("KMSInvalidSignatureException", "")


# --- 3: RSA encryption --------------------------------------------------------


def oaep(algorithm):
    h = hash_for(algorithm)
    return padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)


@pytest.mark.parametrize("algorithm", RSA_ENCRYPTION)
def test_offline_oaep_ciphertext_decrypts_through_keyward(kms, key_of, public_key_of, algorithm):
    key = key_of("RSA_2048", "ENCRYPT_DECRYPT")
    public = public_key_of("RSA_2048", "ENCRYPT_DECRYPT")
    assert sorted(public["EncryptionAlgorithms"]) == RSA_ENCRYPTION and "SigningAlgorithms" not in public, public
    plaintext = os.urandom(100)
    blob = serialization.load_der_public_key(public["PublicKey"]).encrypt(plaintext, oaep(algorithm))
    out = kms.decrypt(CiphertextBlob=blob, KeyId=key["KeyId"], EncryptionAlgorithm=algorithm)
    assert out["Plaintext"] == plaintext and out["KeyId"] == key["Arn"], out
    assert out["EncryptionAlgorithm"] == algorithm, out
    other = [a for a in RSA_ENCRYPTION if a != algorithm][0]  # decrypting with the other OAEP hash fails
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, KeyId=key["KeyId"], EncryptionAlgorithm=other)
    assert error(e) == ("InvalidCiphertextException", "")


@pytest.mark.parametrize("algorithm,limit", [("RSAES_OAEP_SHA_1", 214), ("RSAES_OAEP_SHA_256", 190)])
def test_keyward_encrypt_round_trip_and_plaintext_limit(kms, key_of, algorithm, limit):
    key = key_of("RSA_2048", "ENCRYPT_DECRYPT")
    plaintext = os.urandom(limit)
    out = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext, EncryptionAlgorithm=algorithm)
    assert len(out["CiphertextBlob"]) == 256 and out["EncryptionAlgorithm"] == algorithm, out
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], KeyId=key["KeyId"], EncryptionAlgorithm=algorithm)
    assert back["Plaintext"] == plaintext
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=os.urandom(limit + 1), EncryptionAlgorithm=algorithm)
    assert error(e) == ("ValidationException",
                        f"Algorithm {algorithm} and key spec RSA_2048 cannot encrypt data larger than {limit} bytes.")


@pytest.mark.parametrize("blob", [os.urandom(256), b"\x00" * 256, os.urandom(16)], ids=["random", "zeros", "short"])
def test_decrypt_of_a_garbage_ciphertext(kms, key_of, blob):
    key = key_of("RSA_2048", "ENCRYPT_DECRYPT")
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, KeyId=key["KeyId"], EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert error(e) == ("InvalidCiphertextException", "")


# --- 4: HMAC ------------------------------------------------------------------


@pytest.mark.parametrize("spec", list(MAC_SPECS))
def test_mac_round_trip_and_tampering(kms, key_of, spec):
    algorithm, length = MAC_SPECS[spec]
    key = key_of(spec, "GENERATE_VERIFY_MAC")
    out = kms.generate_mac(KeyId=key["KeyId"], Message=MESSAGE, MacAlgorithm=algorithm)
    assert len(out["Mac"]) == length and out["KeyId"] == key["Arn"] and out["MacAlgorithm"] == algorithm, out
    again = kms.generate_mac(KeyId=key["KeyId"], Message=MESSAGE, MacAlgorithm=algorithm)["Mac"]
    assert again == out["Mac"]  # HMAC is deterministic
    ok = kms.verify_mac(KeyId=key["KeyId"], Message=MESSAGE, Mac=out["Mac"], MacAlgorithm=algorithm)
    assert ok["MacValid"] is True and ok["KeyId"] == key["Arn"], ok
    for message, mac in ((MESSAGE + b"!", out["Mac"]), (MESSAGE, flip(out["Mac"])), (MESSAGE, out["Mac"][:-1])):
        with pytest.raises(ClientError) as e:
            kms.verify_mac(KeyId=key["KeyId"], Message=message, Mac=mac, MacAlgorithm=algorithm)
        assert error(e) == ("KMSInvalidMacException", "")


def test_mac_algorithm_must_match_the_spec(kms, key_of):
    key = key_of("HMAC_224", "GENERATE_VERIFY_MAC")
    with pytest.raises(ClientError) as e:
        kms.generate_mac(KeyId=key["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")
    assert error(e) == ("InvalidKeyUsageException", "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224.")


# --- 5: AWS's errors and metadata ---------------------------------------------


def test_create_key_asymmetric_without_key_usage(kms):
    with pytest.raises(ClientError) as e:
        kms.create_key(KeySpec="RSA_2048")
    assert error(e) == ("ValidationException",
                        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")


def test_create_key_with_an_incompatible_key_usage(kms):
    with pytest.raises(ClientError) as e:
        kms.create_key(KeySpec="RSA_2048", KeyUsage="GENERATE_VERIFY_MAC")
    assert error(e) == ("ValidationException", "KeyUsage GENERATE_VERIFY_MAC is not compatible with KeySpec RSA_2048")


def test_encrypt_with_a_signing_key(kms, key_of):
    key = key_of("ECC_NIST_P256", "SIGN_VERIFY")
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")
    assert error(e) == ("InvalidKeyUsageException",
                        f"{key['Arn']} key usage is SIGN_VERIFY which is not valid for Encrypt.")


@pytest.mark.parametrize("length", [20, 31, 33, 48])
def test_sign_a_digest_of_the_wrong_length(kms, key_of, length):
    key = key_of("ECC_NIST_P256", "SIGN_VERIFY")
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=key["KeyId"], Message=os.urandom(length), MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
    assert error(e) == ("ValidationException", "Digest is invalid length for algorithm ECDSA_SHA_256.")


def test_sign_with_an_algorithm_the_key_lacks(kms, key_of):
    key = key_of("ECC_NIST_P256", "SIGN_VERIFY")
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=key["KeyId"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_384")
    assert error(e) == ("InvalidKeyUsageException", "Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256.")


@pytest.mark.parametrize("spec,usage", [("ECC_NIST_P256", "SIGN_VERIFY"), ("RSA_2048", "ENCRYPT_DECRYPT")])
@pytest.mark.parametrize("operation", ["rotate_key_on_demand", "enable_key_rotation"])
def test_asymmetric_keys_cannot_rotate(kms, key_of, spec, usage, operation):
    key = key_of(spec, usage)
    with pytest.raises(ClientError) as e:
        getattr(kms, operation)(KeyId=key["KeyId"])
    assert error(e)[0] == "UnsupportedOperationException", error(e)


@pytest.mark.parametrize("spec,usage", [("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"), ("HMAC_256", "GENERATE_VERIFY_MAC")])
def test_get_public_key_of_a_secret_key(kms, key_of, spec, usage):
    key = key_of(spec, usage)
    with pytest.raises(ClientError) as e:
        kms.get_public_key(KeyId=key["KeyId"])
    assert error(e)[0] == "UnsupportedOperationException", error(e)


METADATA_CASES = (
    [(s, "SIGN_VERIFY") for s in SIGNING_ALGORITHMS]
    + [(s, "ENCRYPT_DECRYPT") for s in ("RSA_2048",)]
    + [(s, "GENERATE_VERIFY_MAC") for s in MAC_SPECS]
)


@pytest.mark.parametrize("spec,usage", METADATA_CASES)
def test_describe_key_metadata(kms, key_of, spec, usage):
    meta = kms.describe_key(KeyId=key_of(spec, usage)["KeyId"])["KeyMetadata"]
    assert meta["KeySpec"] == spec and meta["KeyUsage"] == usage, meta
    lists = {"SIGN_VERIFY": "SigningAlgorithms", "ENCRYPT_DECRYPT": "EncryptionAlgorithms",
             "GENERATE_VERIFY_MAC": "MacAlgorithms"}
    expected = {"SIGN_VERIFY": SIGNING_ALGORITHMS.get(spec), "ENCRYPT_DECRYPT": RSA_ENCRYPTION,
                "GENERATE_VERIFY_MAC": [MAC_SPECS.get(spec, ("",))[0]]}[usage]
    assert sorted(meta.get(lists[usage], [])) == sorted(expected), meta
    for other in set(lists.values()) - {lists[usage]}:
        assert other not in meta, (other, meta)
    assert "KeyAgreementAlgorithms" not in meta, meta
    if spec.startswith(CMK_SPEC_PREFIXES):
        assert meta.get("CustomerMasterKeySpec") == spec, meta
    else:
        assert "CustomerMasterKeySpec" not in meta, meta
    if usage != "GENERATE_VERIFY_MAC":
        assert "CurrentKeyMaterialId" not in meta, meta
    assert meta["Origin"] == "AWS_KMS" and meta["KeyState"] == "Enabled", meta


# --- 6: key-policy conditions on Sign -----------------------------------------


def default_policy_with(deny_condition):
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Restrict signing", "Effect": "Deny", "Principal": "*", "Action": "kms:Sign",
             "Resource": "*", "Condition": {"StringNotEquals": deny_condition}},
        ],
    })


@pytest.mark.parametrize("spec,condition,denied,allowed", [
    ("ECC_NIST_P256", {"kms:MessageType": "DIGEST"},
     dict(MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"),
     dict(MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")),
    ("RSA_2048", {"kms:SigningAlgorithm": "RSASSA_PSS_SHA_256"},
     dict(MessageType="RAW", SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256"),
     dict(MessageType="RAW", SigningAlgorithm="RSASSA_PSS_SHA_256")),
], ids=["kms:MessageType", "kms:SigningAlgorithm"])
def test_key_policy_condition_on_sign(kms, spec, condition, denied, allowed):
    key = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY", Description="e2e policy")["KeyMetadata"]
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=default_policy_with(condition),
                       BypassPolicyLockoutSafetyCheck=False)
    message_for = lambda kw: local_digest(kw["SigningAlgorithm"]) if kw["MessageType"] == "DIGEST" else MESSAGE  # noqa: E731
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=key["KeyId"], Message=message_for(denied), **denied)
    code, message = error(e)
    assert code == "AccessDeniedException", (code, message)
    assert IDENTITIES["admin"]["principal"] in message and "kms:Sign" in message, message
    out = kms.sign(KeyId=key["KeyId"], Message=message_for(allowed), **allowed)
    public = kms.get_public_key(KeyId=key["KeyId"])["PublicKey"]  # the Deny covers Sign only
    verify_offline(public, spec, allowed["SigningAlgorithm"], out["Signature"])
    assert kms.verify(KeyId=key["KeyId"], Message=message_for(allowed), Signature=out["Signature"],
                      **allowed)["SignatureValid"] is True
