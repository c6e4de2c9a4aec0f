"""Key agreement, key encapsulation and data key pairs, checked offline.

ECDH: for every KEY_AGREEMENT curve, DeriveSharedSecret against a peer key made
locally with `cryptography` yields the shared secret computed locally from the
public key GetPublicKey hands out; two keyward keys agree with each other;
peer keys of the wrong curve, off the curve or not DER at all are refused with
AWS's empty ValidationException, and key usage is enforced both ways.

ML-KEM: Encapsulate/Decapsulate round-trip for every parameter set with
FIPS 203 sizes; a ciphertext of the wrong length is refused, a tampered one of
the right length decapsulates (implicit rejection) to a different secret; the
SPKI carries the NIST OID and key length, and, where `cryptography` supports
the parameter set, a secret encapsulated offline decapsulates through keyward.

Data key pairs: every KeyPairSpec's PrivateKeyPlaintext is a PKCS#8 key of the
right type whose public half is PublicKey, and PrivateKeyCiphertextBlob
decrypts to it under the same encryption context only. Unsupported specs and
non-symmetric wrapping keys are refused, and key-policy conditions on
kms:DataKeyPairSpec and kms:KeyAgreementAlgorithm are enforced.
"""

import json

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from conftest import ACCOUNT, IDENTITIES

from cryptography.hazmat.primitives.asymmetric import mlkem

MESSAGE = b"keyward e2e: key agreement"
ECDH_CURVES = {"ECC_NIST_P256": ec.SECP256R1, "ECC_NIST_P384": ec.SECP384R1, "ECC_NIST_P521": ec.SECP521R1}
SECRET_SIZES = {"ECC_NIST_P256": 32, "ECC_NIST_P384": 48, "ECC_NIST_P521": 66}
# FIPS 203: ciphertext and encapsulation-key sizes, and the NIST OID arc 2.16.840.1.101.3.4.4.x.
ML_KEM = {
    "ML_KEM_512": (768, 800, 1),
    "ML_KEM_768": (1088, 1184, 2),
    "ML_KEM_1024": (1568, 1568, 3),
}
KEY_PAIR_SPECS = ["RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384",
                  "ECC_NIST_P521", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519"]
EC_CURVES = {"ECC_NIST_P256": "secp256r1", "ECC_NIST_P384": "secp384r1",
             "ECC_NIST_P521": "secp521r1", "ECC_SECG_P256K1": "secp256k1"}
# PKCS#8 AlgorithmIdentifier OIDs: rsaEncryption, id-ecPublicKey, id-Ed25519.
PKCS8_ALGORITHM_OIDS = {**{s: "1.2.840.113549.1.1.1" for s in KEY_PAIR_SPECS if s.startswith("RSA")},
                        **{s: "1.2.840.10045.2.1" for s in EC_CURVES},
                        "ECC_NIST_EDWARDS25519": "1.3.101.112"}
CONTEXT = {"purpose": "e2e-key-pair", "tenant": "t1"}


def error(excinfo):
    err = excinfo.value.response["Error"]
    return err["Code"], err.get("Message", "")


def flip(data, index=-1):
    b = bytearray(data)
    b[index] ^= 0x01
    return bytes(b)


def spki(public_key):
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# --- a tiny DER reader ----------------------------------------------------------


def der_read(data, pos=0):
    """One TLV at `pos`: (tag, value bytes, position after it)."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        assert 1 <= n <= 3, f"unsupported DER length form {length:#x}"
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    assert pos + length <= len(data), "DER value runs past the end"
    return tag, data[pos:pos + length], pos + length


def der_children(value):
    out, pos = [], 0
    while pos < len(value):
        tag, v, pos = der_read(value, pos)
        out.append((tag, v))
    return out


def oid_text(value):
    first = value[0]
    parts, n = [str(min(first // 40, 2)), str(first - 40 * min(first // 40, 2))], 0
    for byte in value[1:]:
        n = (n << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(str(n))
            n = 0
    return ".".join(parts)


def parse_spki(der):
    """SubjectPublicKeyInfo: (algorithm OID, parameters TLVs, key bytes)."""
    tag, body, end = der_read(der)
    assert tag == 0x30 and end == len(der), "SPKI is not one SEQUENCE"
    (alg_tag, alg), (bits_tag, bits) = der_children(body)
    assert alg_tag == 0x30 and bits_tag == 0x03, (alg_tag, bits_tag)
    (oid_tag, oid), *params = der_children(alg)
    assert oid_tag == 0x06 and bits[0] == 0, "not an OID / BIT STRING with unused bits"
    return oid_text(oid), params, bits[1:]


# --- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="module")
def key_of(kms):
    cache = {}

    def get(spec, usage):
        if (spec, usage) not in cache:
            cache[(spec, usage)] = kms.create_key(
                KeySpec=spec, KeyUsage=usage, Description=f"e2e {spec} {usage}")["KeyMetadata"]
        return cache[(spec, usage)]

    return get


@pytest.fixture(scope="module")
def wrapping_key(kms):
    return kms.create_key(Description="e2e data key pair wrapping key")["KeyMetadata"]


# --- 1: ECDH ------------------------------------------------------------------


@pytest.mark.parametrize("spec", list(ECDH_CURVES))
def test_ecdh_with_local_peer(kms, key_of, spec):
    key = key_of(spec, "KEY_AGREEMENT")
    assert key["KeyUsage"] == "KEY_AGREEMENT" and key["KeySpec"] == spec, key
    described = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert described["KeyAgreementAlgorithms"] == ["ECDH"], described
    theirs = serialization.load_der_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    assert isinstance(theirs, ec.EllipticCurvePublicKey) and theirs.curve.name == EC_CURVES[spec], theirs
    local = ec.generate_private_key(ECDH_CURVES[spec]())
    out = kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH",
                                   PublicKey=spki(local.public_key()))
    assert out["KeyId"] == key["Arn"] and out["KeyAgreementAlgorithm"] == "ECDH", out
    assert out["KeyOrigin"] == "AWS_KMS", out
    expected = local.exchange(ec.ECDH(), theirs)
    assert len(out["SharedSecret"]) == SECRET_SIZES[spec]
    assert out["SharedSecret"] == expected


@pytest.mark.parametrize("spec", list(ECDH_CURVES))
def test_two_keyward_keys_agree(kms, spec):
    a, b = (kms.create_key(KeySpec=spec, KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["KeyId"] for _ in range(2))
    pub_a, pub_b = (kms.get_public_key(KeyId=k)["PublicKey"] for k in (a, b))
    ab = kms.derive_shared_secret(KeyId=a, KeyAgreementAlgorithm="ECDH", PublicKey=pub_b)["SharedSecret"]
    ba = kms.derive_shared_secret(KeyId=b, KeyAgreementAlgorithm="ECDH", PublicKey=pub_a)["SharedSecret"]
    assert ab == ba and len(ab) == SECRET_SIZES[spec]
    aa = kms.derive_shared_secret(KeyId=a, KeyAgreementAlgorithm="ECDH", PublicKey=pub_a)["SharedSecret"]
    assert aa != ab


def off_curve_p256():
    """A P-256 SPKI whose point is not on the curve (y altered)."""
    der = flip(spki(ec.generate_private_key(ec.SECP256R1()).public_key()))
    with pytest.raises(ValueError):  # `cryptography` agrees it is off the curve
        serialization.load_der_public_key(der)
    return der


@pytest.mark.parametrize("peer", [
    lambda: spki(ec.generate_private_key(ec.SECP384R1()).public_key()),
    lambda: b"this is not a public key",
    off_curve_p256,
    lambda: spki(ed25519.Ed25519PrivateKey.generate().public_key()),
], ids=["p384-to-p256", "garbage", "off-curve", "ed25519"])
def test_ecdh_refuses_bad_peer_key(kms, key_of, peer):
    key = key_of("ECC_NIST_P256", "KEY_AGREEMENT")
    with pytest.raises(ClientError) as e:
        kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer())
    assert error(e) == ("ValidationException", "")


def test_key_agreement_key_usage_enforced(kms, key_of):
    agree = key_of("ECC_NIST_P256", "KEY_AGREEMENT")
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=agree["KeyId"], Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")
    assert error(e) == ("InvalidKeyUsageException",
                        f"{agree['Arn']} key usage is KEY_AGREEMENT which is not valid for Sign.")
    signer = key_of("ECC_NIST_P256", "SIGN_VERIFY")
    peer = spki(ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(ClientError) as e:
        kms.derive_shared_secret(KeyId=signer["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer)
    assert error(e) == ("InvalidKeyUsageException",
                        f"{signer['Arn']} key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret.")


# --- 2: ML-KEM ----------------------------------------------------------------


@pytest.mark.parametrize("spec", list(ML_KEM))
def test_ml_kem_round_trip(kms, key_of, spec):
    key = key_of(spec, "ENCAPSULATE_DECAPSULATE")
    assert key["KeyUsage"] == "ENCAPSULATE_DECAPSULATE" and key["KeySpec"] == spec, key
    enc = kms.encapsulate(KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert enc["KeyId"] == key["Arn"] and enc["EncapsulationAlgorithm"] == "ML_KEM", enc
    assert len(enc["SharedSecret"]) == 32
    assert len(enc["SharedSecretCiphertextBlob"]) == ML_KEM[spec][0]
    dec = kms.decapsulate(KeyId=key["KeyId"], SharedSecretCiphertextBlob=enc["SharedSecretCiphertextBlob"],
                          EncapsulationAlgorithm="ML_KEM")
    assert dec["KeyId"] == key["Arn"] and dec["EncapsulationAlgorithm"] == "ML_KEM", dec
    assert dec["SharedSecret"] == enc["SharedSecret"]
    again = kms.encapsulate(KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM")
    assert again["SharedSecret"] != enc["SharedSecret"]  # fresh randomness each time


@pytest.mark.parametrize("spec", list(ML_KEM))
def test_ml_kem_refuses_wrong_length_and_rejects_tampering_implicitly(kms, key_of, spec):
    key_id = key_of(spec, "ENCAPSULATE_DECAPSULATE")["KeyId"]
    enc = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    ct = enc["SharedSecretCiphertextBlob"]
    for bad in (ct[:-1], ct + b"\x00", b"\x01" * 32):
        with pytest.raises(ClientError) as e:
            kms.decapsulate(KeyId=key_id, SharedSecretCiphertextBlob=bad, EncapsulationAlgorithm="ML_KEM")
        assert error(e) == ("InvalidCiphertextException", ""), len(bad)
    tampered = flip(ct, 5)
    first = kms.decapsulate(KeyId=key_id, SharedSecretCiphertextBlob=tampered,
                            EncapsulationAlgorithm="ML_KEM")["SharedSecret"]
    second = kms.decapsulate(KeyId=key_id, SharedSecretCiphertextBlob=tampered,
                             EncapsulationAlgorithm="ML_KEM")["SharedSecret"]
    assert len(first) == 32 and first != enc["SharedSecret"]
    assert first == second  # implicit rejection is deterministic


@pytest.mark.parametrize("spec", list(ML_KEM))
def test_ml_kem_public_key_spki(kms, key_of, spec):
    key = key_of(spec, "ENCAPSULATE_DECAPSULATE")
    out = kms.get_public_key(KeyId=key["KeyId"])
    assert out["KeyId"] == key["Arn"] and out["KeySpec"] == spec, out
    assert out["KeyUsage"] == "ENCAPSULATE_DECAPSULATE", out
    oid, params, raw = parse_spki(out["PublicKey"])
    assert oid == f"2.16.840.1.101.3.4.4.{ML_KEM[spec][2]}" and params == [], (oid, params)
    assert len(raw) == ML_KEM[spec][1]


# `cryptography` offers ML-KEM-768 and ML-KEM-1024; ML-KEM-512 is checked the
# same way against aws-lc-rs in tests/asymmetric_service.rs.
@pytest.mark.parametrize("spec", ["ML_KEM_768", "ML_KEM_1024"])
def test_ml_kem_offline_encapsulation_decapsulates(kms, key_of, spec):
    cls_name = f"MLKEM{spec.rsplit('_', 1)[1]}PublicKey"
    key_id = key_of(spec, "ENCAPSULATE_DECAPSULATE")["KeyId"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(public, getattr(mlkem, cls_name)), type(public)
    secret, ct = public.encapsulate()
    assert len(ct) == ML_KEM[spec][0]
    out = kms.decapsulate(KeyId=key_id, SharedSecretCiphertextBlob=ct, EncapsulationAlgorithm="ML_KEM")
    assert out["SharedSecret"] == secret


# --- 3: data key pairs --------------------------------------------------------


def check_private_key(spec, pkcs8, public_der):
    """`pkcs8` is a PKCS#8 key of `spec` whose public half is `public_der`."""
    tag, body, end = der_read(pkcs8)
    assert tag == 0x30 and end == len(pkcs8)
    (v_tag, version), (alg_tag, alg), *_ = der_children(body)
    assert v_tag == 0x02 and version in (b"\x00", b"\x01") and alg_tag == 0x30, "not PKCS#8"
    oid_tag, oid = der_children(alg)[0]
    assert oid_tag == 0x06 and oid_text(oid) == PKCS8_ALGORITHM_OIDS[spec], oid_text(oid)
    private = serialization.load_der_private_key(pkcs8, password=None)
    assert spki(private.public_key()) == public_der
    if spec.startswith("RSA"):
        assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == int(spec[4:])
        sig = private.sign(MESSAGE, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
        private.public_key().verify(sig, MESSAGE, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    elif spec == "ECC_NIST_EDWARDS25519":
        assert isinstance(private, ed25519.Ed25519PrivateKey), type(private)
        serialization.load_der_public_key(public_der).verify(private.sign(MESSAGE), MESSAGE)
    else:
        assert isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name == EC_CURVES[spec]
        sig = private.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
        serialization.load_der_public_key(public_der).verify(sig, MESSAGE, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("spec", KEY_PAIR_SPECS)
def test_generate_data_key_pair(kms, wrapping_key, spec):
    out = kms.generate_data_key_pair(KeyId=wrapping_key["KeyId"], KeyPairSpec=spec, EncryptionContext=CONTEXT)
    assert out["KeyId"] == wrapping_key["Arn"] and out["KeyPairSpec"] == spec, out
    assert isinstance(out.get("KeyMaterialId"), str) and out["KeyMaterialId"], out
    check_private_key(spec, out["PrivateKeyPlaintext"], out["PublicKey"])
    dec = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"], EncryptionContext=CONTEXT)
    assert dec["KeyId"] == wrapping_key["Arn"] and dec["Plaintext"] == out["PrivateKeyPlaintext"]
    for wrong in ({**CONTEXT, "tenant": "t2"}, {}):
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"], EncryptionContext=wrong)
        assert error(e)[0] == "InvalidCiphertextException", error(e)


@pytest.mark.parametrize("spec", KEY_PAIR_SPECS)
def test_generate_data_key_pair_without_plaintext(kms, wrapping_key, spec):
    out = kms.generate_data_key_pair_without_plaintext(KeyId=wrapping_key["KeyId"], KeyPairSpec=spec)
    assert "PrivateKeyPlaintext" not in out, sorted(out)
    assert out["KeyId"] == wrapping_key["Arn"] and out["KeyPairSpec"] == spec, out
    assert isinstance(out.get("KeyMaterialId"), str) and out["KeyMaterialId"], out
    private = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"])["Plaintext"]
    check_private_key(spec, private, out["PublicKey"])


@pytest.mark.parametrize("spec", ["SM2", "ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"])
@pytest.mark.parametrize("op", ["generate_data_key_pair", "generate_data_key_pair_without_plaintext"])
def test_unsupported_key_pair_specs(kms, wrapping_key, op, spec):
    with pytest.raises(ClientError) as e:
        getattr(kms, op)(KeyId=wrapping_key["KeyId"], KeyPairSpec=spec)
    assert error(e)[0] == "UnsupportedOperationException", error(e)


@pytest.mark.parametrize("op,name", [("generate_data_key_pair", "GenerateDataKeyPair"),
                                     ("generate_data_key_pair_without_plaintext",
                                      "GenerateDataKeyPairWithoutPlaintext")])
def test_data_key_pair_needs_symmetric_key(kms, key_of, op, name):
    signer = key_of("ECC_NIST_P256", "SIGN_VERIFY")
    with pytest.raises(ClientError) as e:
        getattr(kms, op)(KeyId=signer["KeyId"], KeyPairSpec="ECC_NIST_P256")
    assert error(e) == ("InvalidKeyUsageException",
                        f"{signer['Arn']} key usage is SIGN_VERIFY which is not valid for {name}.")


# --- 4: key-policy conditions -------------------------------------------------


def policy_denying(action, condition):
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Restrict", "Effect": "Deny", "Principal": "*", "Action": action,
             "Resource": "*", "Condition": {"StringEquals": condition}},
        ],
    })


def assert_denied(excinfo, action):
    code, message = error(excinfo)
    assert code == "AccessDeniedException", (code, message)
    assert IDENTITIES["admin"]["principal"] in message and action in message, message


def test_policy_condition_data_key_pair_spec(kms):
    key_id = kms.create_key(Description="e2e kms:DataKeyPairSpec")["KeyMetadata"]["KeyId"]
    kms.put_key_policy(KeyId=key_id, PolicyName="default",
                       Policy=policy_denying("kms:GenerateDataKeyPair", {"kms:DataKeyPairSpec": "RSA_4096"}))
    with pytest.raises(ClientError) as e:
        kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="RSA_4096")
    assert_denied(e, "kms:GenerateDataKeyPair")
    out = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")
    check_private_key("ECC_NIST_P256", out["PrivateKeyPlaintext"], out["PublicKey"])
    # The Deny names GenerateDataKeyPair only.
    other = kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec="RSA_4096")
    assert other["KeyPairSpec"] == "RSA_4096"


@pytest.mark.parametrize("value,denied", [("ECDH", True), ("SOMETHING_ELSE", False)])
def test_policy_condition_key_agreement_algorithm(kms, value, denied):
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["KeyId"]
    kms.put_key_policy(KeyId=key_id, PolicyName="default",
                       Policy=policy_denying("kms:DeriveSharedSecret", {"kms:KeyAgreementAlgorithm": value}))
    local = ec.generate_private_key(ec.SECP256R1())
    call = lambda: kms.derive_shared_secret(  # noqa: E731
        KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=spki(local.public_key()))
    theirs = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    if denied:
        with pytest.raises(ClientError) as e:
            call()
        assert_denied(e, "kms:DeriveSharedSecret")
    else:
        assert call()["SharedSecret"] == local.exchange(ec.ECDH(), theirs)
