"""Bring your own key material, and multi-Region keys, as a user does it:
boto3 against a real `keyward serve`, key material generated and wrapped
offline with `cryptography` under the wrapping public key keyward hands
out, time moved forward through the server's test clock to let material
expire and waiting periods end."""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from conftest import ACCOUNT, IDENTITIES, keyward_bin, quiet_env

DAY = 86_400


@pytest.fixture(scope="module")
def lab():
    tmp = tempfile.mkdtemp(prefix="keyward-import-")
    ids = os.path.join(tmp, "identities.json")
    with open(ids, "w") as f:
        json.dump({"identities": [IDENTITIES["admin"], IDENTITIES["app"]]}, f)
    clock = os.path.join(tmp, "clock-offset")
    with open(clock, "w") as f:
        f.write("0")
    proc = subprocess.Popen(
        [keyward_bin(), "serve", "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "data"),
         "--identities", ids, "--quotas", "off", "--test-clock-offset", clock],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=quiet_env(),
    )
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://[0-9.:]+)", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"keyward serve did not start: {line}{proc.stdout.read()}")
    yield {"endpoint": match.group(1), "clock": clock}
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(tmp, ignore_errors=True)


def client(lab, region="us-east-1", who="admin"):
    ident = IDENTITIES[who]
    return boto3.client(
        "kms", endpoint_url=lab["endpoint"], region_name=region,
        aws_access_key_id=ident["access_key_id"], aws_secret_access_key=ident["secret_access_key"],
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


class Clock:
    """The server's service clock, moved forward by writing its offset file."""

    def __init__(self, lab):
        self.path = lab["clock"]

    def set(self, seconds):
        with open(self.path, "w") as f:
            f.write(str(seconds))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.set(0)


@pytest.fixture()
def clock(lab):
    with Clock(lab) as c:
        yield c


def error(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def oaep(sha):
    h = hashes.SHA256() if sha == "256" else hashes.SHA1()
    return padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)


def wrap(public_der, algorithm, material):
    """Wraps key material offline, as AWS's documentation does with OpenSSL."""
    public = serialization.load_der_public_key(public_der)
    sha = algorithm.rsplit("_", 1)[1]
    if algorithm.startswith("RSAES_OAEP"):
        return public.encrypt(material, oaep(sha))
    aes = os.urandom(32)
    return public.encrypt(aes, oaep(sha)) + keywrap.aes_key_wrap_with_padding(aes, material)


def import_material(kms, key_id, material, algorithm="RSAES_OAEP_SHA_256", spec="RSA_2048", **extra):
    params = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec)
    extra.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    return kms.import_key_material(
        KeyId=key_id, ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], algorithm, material), **extra,
    )


def state(kms, key_id):
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


# ---- importing key material ----------------------------------------------


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
@pytest.mark.parametrize("spec", ["RSA_2048", "RSA_3072", "RSA_4096"])
def test_symmetric_material_imported_encrypts_and_decrypts(lab, algorithm, spec):
    kms = client(lab)
    meta = kms.create_key(Origin="EXTERNAL", Description="byok")["KeyMetadata"]
    assert (meta["Origin"], meta["KeyState"], meta["Enabled"]) == ("EXTERNAL", "PendingImport", False)
    assert "ExpirationModel" not in meta
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")
    assert error(e) == ("KMSInvalidStateException", f"{meta['Arn']} is pending import.")
    params = kms.get_parameters_for_import(KeyId=meta["KeyId"], WrappingAlgorithm=algorithm, WrappingKeySpec=spec)
    assert params["KeyId"] == meta["Arn"]
    public = serialization.load_der_public_key(params["PublicKey"])
    assert public.key_size == int(spec.split("_")[1])
    assert 86_000 < params["ParametersValidTo"].timestamp() - time.time() <= 86_400 + 5
    material = os.urandom(32)
    out = kms.import_key_material(
        KeyId=meta["KeyId"], ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], algorithm, material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert out["KeyId"] == meta["Arn"] and re.fullmatch(r"[0-9a-f]{64}", out["KeyMaterialId"])
    after = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert (after["KeyState"], after["Enabled"]) == ("Enabled", True)
    assert after["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE" and "ValidTo" not in after
    assert after["CurrentKeyMaterialId"] == out["KeyMaterialId"]
    ct = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"bring your own key", EncryptionContext={"t": "1"})
    assert kms.decrypt(CiphertextBlob=ct["CiphertextBlob"], EncryptionContext={"t": "1"})["Plaintext"] == b"bring your own key"


def test_wrapping_combinations_aws_refuses(lab):
    kms = client(lab)
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256", WrappingKeySpec="RSA_3072")
    assert error(e) == (
        "ValidationException",
        "Wrapping algorithm RSA_AES_KEY_WRAP_SHA_256 and wrapping key spec RSA_3072 cannot be used to import a SYMMETRIC_DEFAULT key.",
    )
    for algorithm, spec in [("RSAES_PKCS1_V1_5", "RSA_2048"), ("SM2PKE", "SM2"), ("RSAES_OAEP_SHA_256", "SM2")]:
        with pytest.raises(ClientError) as e:
            kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm=algorithm, WrappingKeySpec=spec)
        assert e.value.response["Error"]["Code"] == "ValidationException"
    own = kms.create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as e:
        kms.get_parameters_for_import(KeyId=own["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    assert error(e) == ("UnsupportedOperationException", f"{own['Arn']} origin is AWS_KMS which is not valid for this operation.")
    with pytest.raises(ClientError) as e:
        kms.create_key(Origin="EXTERNAL", KeySpec="ML_DSA_65", KeyUsage="SIGN_VERIFY")
    assert e.value.response["Error"]["Code"] == "UnsupportedOperationException"


@pytest.mark.parametrize("algorithm", ["RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
def test_imported_ecc_private_key_signs_what_its_public_key_verifies(lab, algorithm):
    kms = client(lab)
    key = kms.create_key(Origin="EXTERNAL", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    private = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    import_material(kms, key, pkcs8, algorithm=algorithm, spec="RSA_3072")
    assert state(kms, key) == "Enabled"
    public = kms.get_public_key(KeyId=key)["PublicKey"]
    assert public == private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    sig = kms.sign(KeyId=key, Message=b"signed by imported key", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    private.public_key().verify(sig, b"signed by imported key", ec.ECDSA(hashes.SHA256()))


def test_imported_rsa_private_key_needs_key_wrap_and_signs(lab):
    kms = client(lab)
    key = kms.create_key(Origin="EXTERNAL", KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_4096")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pkcs8 = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # An RSA key of another size is not this key's material.
    other = rsa.generate_private_key(public_exponent=65537, key_size=3072).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(ClientError) as e:
        import_material(kms, key, other, algorithm="RSA_AES_KEY_WRAP_SHA_256", spec="RSA_4096")
    assert e.value.response["Error"]["Code"] == "IncorrectKeyMaterialException"
    import_material(kms, key, pkcs8, algorithm="RSA_AES_KEY_WRAP_SHA_256", spec="RSA_4096")
    sig = kms.sign(KeyId=key, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    private.public_key().verify(sig, b"m", padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())


def test_imported_hmac_key_computes_the_same_mac(lab):
    kms = client(lab)
    key = kms.create_key(Origin="EXTERNAL", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    material = os.urandom(48)  # longer than the spec's 32 bytes: AWS accepts up to 1024 bits
    import_material(kms, key, material, algorithm="RSAES_OAEP_SHA_1")
    mac = kms.generate_mac(KeyId=key, Message=b"hello", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert mac == hmac.new(material, b"hello", hashlib.sha256).digest()
    with pytest.raises(ClientError) as e:  # too short for HMAC_256
        short = kms.create_key(Origin="EXTERNAL", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
        import_material(kms, short, os.urandom(16))
    assert e.value.response["Error"]["Code"] == "IncorrectKeyMaterialException"


def test_tokens_are_bound_to_their_key_and_expire(lab, clock):
    kms = client(lab)
    a = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    b = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    pa = kms.get_parameters_for_import(KeyId=a, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    material = os.urandom(32)
    with pytest.raises(ClientError) as e:
        kms.import_key_material(KeyId=b, ImportToken=pa["ImportToken"], ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
                                EncryptedKeyMaterial=wrap(pa["PublicKey"], "RSAES_OAEP_SHA_256", material))
    assert error(e) == ("InvalidImportTokenException", "The provided import token is invalid or is associated with a different KMS key.")
    tampered = bytearray(pa["ImportToken"])
    tampered[-1] ^= 1
    with pytest.raises(ClientError) as e:
        kms.import_key_material(KeyId=a, ImportToken=bytes(tampered), ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
                                EncryptedKeyMaterial=wrap(pa["PublicKey"], "RSAES_OAEP_SHA_256", material))
    assert error(e)[0] == "InvalidImportTokenException"
    # Material wrapped under another wrapping key does not unwrap.
    pb = kms.get_parameters_for_import(KeyId=a, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    with pytest.raises(ClientError) as e:
        kms.import_key_material(KeyId=a, ImportToken=pa["ImportToken"], ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
                                EncryptedKeyMaterial=wrap(pb["PublicKey"], "RSAES_OAEP_SHA_256", material))
    assert error(e)[0] == "InvalidCiphertextException"
    clock.set(DAY + 60)
    with pytest.raises(ClientError) as e:
        kms.import_key_material(KeyId=a, ImportToken=pa["ImportToken"], ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
                                EncryptedKeyMaterial=wrap(pa["PublicKey"], "RSAES_OAEP_SHA_256", material))
    assert error(e)[0] == "ExpiredImportTokenException"
    assert state(kms, a) == "PendingImport"


def test_expiry_reimport_and_deletion(lab, clock):
    kms = client(lab)
    meta = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    key = meta["KeyId"]
    material = os.urandom(32)
    with pytest.raises(ClientError) as e:  # the default model, KEY_MATERIAL_EXPIRES, needs ValidTo
        import_material(kms, key, material, ExpirationModel="KEY_MATERIAL_EXPIRES")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    valid_to = int(time.time()) + 3600
    first = import_material(kms, key, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    described = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert described["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert int(described["ValidTo"].timestamp()) == valid_to
    old = kms.encrypt(KeyId=key, Plaintext=b"before expiry")["CiphertextBlob"]

    clock.set(2 * 3600)  # the material expires
    assert state(kms, key) == "PendingImport"
    for call in (lambda: kms.encrypt(KeyId=key, Plaintext=b"x"), lambda: kms.decrypt(CiphertextBlob=old)):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == ("KMSInvalidStateException", f"{meta['Arn']} is pending import.")
    with pytest.raises(ClientError) as e:
        kms.enable_key(KeyId=key)
    assert error(e)[0] == "KMSInvalidStateException"

    # Other material is refused; the same material brings old ciphertexts back.
    with pytest.raises(ClientError) as e:
        import_material(kms, key, os.urandom(32))
    assert error(e)[0] == "IncorrectKeyMaterialException"
    again = import_material(kms, key, material, algorithm="RSAES_OAEP_SHA_1", spec="RSA_4096")
    assert again["KeyMaterialId"] == first["KeyMaterialId"]
    assert state(kms, key) == "Enabled"
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before expiry"

    deleted = kms.delete_imported_key_material(KeyId=key)
    assert deleted == {**deleted, "KeyId": meta["Arn"], "KeyMaterialId": first["KeyMaterialId"]}
    assert state(kms, key) == "PendingImport"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=old)
    assert error(e)[0] == "KMSInvalidStateException"
    import_material(kms, key, material)
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before expiry"


def test_new_key_material_rotates_an_imported_key_on_demand(lab):
    kms = client(lab)
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    first, second = os.urandom(32), os.urandom(32)
    m1 = import_material(kms, key, first, KeyMaterialDescription="first")["KeyMaterialId"]
    old = kms.encrypt(KeyId=key, Plaintext=b"under the first")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:  # nothing pending rotation yet
        kms.rotate_key_on_demand(KeyId=key)
    assert error(e)[0] == "UnsupportedOperationException"
    with pytest.raises(ClientError) as e:  # automatic rotation never applies to imported material
        kms.enable_key_rotation(KeyId=key)
    assert error(e)[0] == "UnsupportedOperationException"
    with pytest.raises(ClientError) as e:  # new material must be new
        import_material(kms, key, first, ImportType="NEW_KEY_MATERIAL")
    assert error(e)[0] == "IncorrectKeyMaterialException"
    m2 = import_material(kms, key, second, ImportType="NEW_KEY_MATERIAL", KeyMaterialDescription="second")["KeyMaterialId"]
    rotations = kms.list_key_rotations(KeyId=key, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [(r["KeyMaterialId"], r["KeyMaterialState"], r["ImportState"], r.get("KeyMaterialDescription")) for r in rotations] == [
        (m1, "CURRENT", "IMPORTED", "first"), (m2, "PENDING_ROTATION", "IMPORTED", "second")]
    assert all("RotationDate" not in r for r in rotations)
    kms.rotate_key_on_demand(KeyId=key)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"] == m2
    rotations = kms.list_key_rotations(KeyId=key)["Rotations"]
    assert [(r["KeyMaterialId"], r["KeyMaterialState"], r["RotationType"]) for r in rotations] == [(m2, "CURRENT", "ON_DEMAND")]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"under the first"
    new = kms.encrypt(KeyId=key, Plaintext=b"under the second")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"under the second"
    # Deleting an older material makes the key unusable until it is back.
    kms.delete_imported_key_material(KeyId=key, KeyMaterialId=m1)
    assert state(kms, key) == "PendingImport"
    import_material(kms, key, first, KeyMaterialId=m1)
    assert state(kms, key) == "Enabled"
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"under the first"


def test_import_condition_keys(lab):
    kms = client(lab)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": "kms:GetParametersForImport", "Resource": "*",
             "Condition": {"StringNotEquals": {"kms:WrappingKeySpec": "RSA_4096"}}},
            {"Effect": "Deny", "Principal": "*", "Action": "kms:ImportKeyMaterial", "Resource": "*",
             "Condition": {"StringEquals": {"kms:ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}}},
        ],
    }
    key = kms.create_key(Origin="EXTERNAL", Policy=json.dumps(policy))["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    assert error(e)[0] == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        import_material(kms, key, os.urandom(32), spec="RSA_4096")
    assert error(e)[0] == "AccessDeniedException"
    import_material(kms, key, os.urandom(32), spec="RSA_4096", ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=int(time.time()) + 3600)
    assert state(kms, key) == "Enabled"


# ---- multi-Region keys ----------------------------------------------------


def test_a_multi_region_key_replicated_to_two_regions(lab, clock):
    east, west, eu = client(lab, "us-east-1"), client(lab, "us-west-2"), client(lab, "eu-west-1")
    primary = east.create_key(MultiRegion=True, Description="primary")["KeyMetadata"]
    key_id = primary["KeyId"]
    assert re.fullmatch(r"mrk-[0-9a-f]{32}", key_id)
    assert primary["MultiRegion"] is True
    assert primary["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": primary["Arn"], "Region": "us-east-1"},
        "ReplicaKeys": [],
    }
    ct_east = east.encrypt(KeyId=key_id, Plaintext=b"made in us-east-1", EncryptionContext={"r": "e"})["CiphertextBlob"]

    rep = east.replicate_key(KeyId=key_id, ReplicaRegion="us-west-2", Description="west", Tags=[{"TagKey": "k", "TagValue": "v"}])
    west_arn = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/{key_id}"
    assert rep["ReplicaKeyMetadata"]["Arn"] == west_arn
    assert rep["ReplicaKeyMetadata"]["KeyState"] == "Enabled"
    assert rep["ReplicaTags"] == [{"TagKey": "k", "TagValue": "v"}]
    assert json.loads(rep["ReplicaPolicy"])["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    east.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1")
    eu_arn = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{key_id}"

    # Each Region decrypts the others' ciphertexts.
    out = west.decrypt(CiphertextBlob=ct_east, EncryptionContext={"r": "e"})
    assert (out["Plaintext"], out["KeyId"]) == (b"made in us-east-1", west_arn)
    ct_eu = eu.encrypt(KeyId=key_id, Plaintext=b"made in eu-west-1")["CiphertextBlob"]
    assert east.decrypt(CiphertextBlob=ct_eu)["Plaintext"] == b"made in eu-west-1"
    assert west.decrypt(CiphertextBlob=ct_eu)["Plaintext"] == b"made in eu-west-1"

    # Each describes the whole set; a replica lists itself among the replicas.
    config = west.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    assert config["MultiRegionKeyType"] == "REPLICA"
    assert config["PrimaryKey"] == {"Arn": primary["Arn"], "Region": "us-east-1"}
    assert sorted(r["Region"] for r in config["ReplicaKeys"]) == ["eu-west-1", "us-west-2"]
    # Descriptions, tags, state are each Region's own.
    assert west.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "west"
    assert east.list_resource_tags(KeyId=key_id)["Tags"] == []
    eu.disable_key(KeyId=key_id)
    assert state(east, key_id) == "Enabled"
    eu.enable_key(KeyId=key_id)

    with pytest.raises(ClientError) as e:
        east.replicate_key(KeyId=key_id, ReplicaRegion="us-west-2")
    assert error(e)[0] == "AlreadyExistsException"
    with pytest.raises(ClientError) as e:
        west.replicate_key(KeyId=key_id, ReplicaRegion="ap-south-1")
    assert error(e) == ("UnsupportedOperationException", f"{west_arn} is not a multi-Region primary key.")
    with pytest.raises(ClientError) as e:
        west.rotate_key_on_demand(KeyId=key_id)
    assert error(e)[0] == "UnsupportedOperationException"
    single = east.create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as e:
        east.replicate_key(KeyId=single["KeyId"], ReplicaRegion="us-west-2")
    assert error(e)[0] == "UnsupportedOperationException"

    # The primary moves to us-west-2; rotation there reaches every Region.
    east.update_primary_region(KeyId=key_id, PrimaryRegion="us-west-2")
    assert west.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    config = east.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    assert config["MultiRegionKeyType"] == "REPLICA" and config["PrimaryKey"]["Region"] == "us-west-2"
    west.rotate_key_on_demand(KeyId=key_id)
    for c in (east, west, eu):
        assert len(c.list_key_rotations(KeyId=key_id)["Rotations"]) == 1
    ct_new = eu.encrypt(KeyId=key_id, Plaintext=b"after rotation")["CiphertextBlob"]
    assert east.decrypt(CiphertextBlob=ct_new)["Plaintext"] == b"after rotation"
    assert east.decrypt(CiphertextBlob=ct_east, EncryptionContext={"r": "e"})["Plaintext"] == b"made in us-east-1"
    west.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    assert eu.get_key_rotation_status(KeyId=key_id)["RotationPeriodInDays"] == 90

    # The primary waits for its replicas before its own waiting period.
    scheduled = west.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingReplicaDeletion" and "DeletionDate" not in scheduled
    with pytest.raises(ClientError) as e:
        west.encrypt(KeyId=key_id, Plaintext=b"x")
    assert error(e)[0] == "KMSInvalidStateException"
    east.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    eu.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    clock.set(8 * DAY)
    for c in (east, eu):
        with pytest.raises(ClientError) as e:
            c.describe_key(KeyId=key_id)
        assert error(e)[0] == "NotFoundException"
    meta = west.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    assert meta["MultiRegionConfiguration"]["ReplicaKeys"] == []
    assert meta["DeletionDate"].timestamp() > time.time() + 8 * DAY
    west.cancel_key_deletion(KeyId=key_id)
    assert state(west, key_id) == "Disabled"


def test_replication_needs_permission_in_both_regions(lab):
    east = client(lab, "us-east-1")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": "kms:ReplicateKey", "Resource": "*",
             "Condition": {"StringNotEquals": {"kms:ReplicaRegion": "us-west-2"}}},
            {"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"StringEquals": {"kms:MultiRegionKeyType": "PRIMARY"}}},
        ],
    }
    key_id = east.create_key(MultiRegion=True, Policy=json.dumps(policy))["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as e:
        east.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1")
    assert error(e)[0] == "AccessDeniedException"
    # The app role may not CreateKey: it cannot make a replica.
    with pytest.raises(ClientError) as e:
        client(lab, "us-east-1", "app").replicate_key(KeyId=key_id, ReplicaRegion="us-west-2")
    assert error(e)[0] == "AccessDeniedException"
    east.replicate_key(KeyId=key_id, ReplicaRegion="us-west-2")
    ct = east.encrypt(KeyId=key_id, Plaintext=b"p")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:  # the primary's policy denies Decrypt on PRIMARY keys
        east.decrypt(CiphertextBlob=ct)
    assert error(e)[0] == "AccessDeniedException"
    # The replica's own (default) policy allows it.
    assert client(lab, "us-west-2").decrypt(CiphertextBlob=ct)["Plaintext"] == b"p"


def test_imported_multi_region_key_needs_the_same_material_in_each_region(lab):
    east, west = client(lab, "us-east-1"), client(lab, "us-west-2")
    key_id = east.create_key(MultiRegion=True, Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    material = os.urandom(32)
    import_material(east, key_id, material)
    ct = east.encrypt(KeyId=key_id, Plaintext=b"byok everywhere")["CiphertextBlob"]
    replica = east.replicate_key(KeyId=key_id, ReplicaRegion="us-west-2")["ReplicaKeyMetadata"]
    assert (replica["KeyState"], replica["Origin"]) == ("PendingImport", "EXTERNAL")
    with pytest.raises(ClientError) as e:
        import_material(west, key_id, os.urandom(32))
    assert error(e)[0] == "IncorrectKeyMaterialException"
    import_material(west, key_id, material)
    assert west.decrypt(CiphertextBlob=ct)["Plaintext"] == b"byok everywhere"
