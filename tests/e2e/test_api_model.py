"""keyward's API model against botocore's KMS service model (the model the
AWS SDKs are generated from).

The request side: `keyward api --format json` prints the members keyward
checks every request against; for each operation keyward serves, member
names, required flags, types, enum values, lengths, ranges and patterns
must equal botocore's. The response side: a tour of every operation keyward
serves, whose raw JSON responses may hold only members botocore's output
shapes declare. A shape that drifts from AWS fails here."""

import base64
import json
import os
import subprocess
import time
import uuid

import botocore.session
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from conftest import ACCOUNT, E2E_CLUSTER, E2E_CLUSTER_PIN, client_for, keyward_bin, trust_anchor

BOTOCORE_KMS = botocore.session.get_session().get_service_model("kms")

# botocore's type names for keyward's.
TYPES = {
    "string": {"string"},
    "integer": {"integer", "long"},
    "boolean": {"boolean"},
    "timestamp": {"timestamp"},
    "blob": {"blob"},
    "map": {"map"},
    "list": {"list"},
    "structure": {"structure"},
}


def keyward_model():
    out = subprocess.run([keyward_bin(), "api", "--format", "json"], check=True, capture_output=True, text=True, timeout=30)
    return json.loads(out.stdout)


KEYWARD = keyward_model()


def differences(path, ours, shape):
    """Every way `ours` (keyward's member model) differs from botocore's `shape`."""
    found = []
    if shape.type_name not in TYPES[ours["type"]]:
        return [f"{path}: keyward says {ours['type']}, AWS {shape.type_name}"]
    for bound in ("min", "max", "pattern"):
        if ours.get(bound) != shape.metadata.get(bound):
            found.append(f"{path}: {bound} is {ours.get(bound)!r} in keyward, {shape.metadata.get(bound)!r} in AWS's model")
    if list(ours.get("enum", [])) != list(getattr(shape, "enum", None) or []):
        found.append(f"{path}: enum {ours.get('enum')} in keyward, {getattr(shape, 'enum', None)} in AWS's model")
    if shape.type_name == "list":
        found += differences(f"{path}[]", ours["member"], shape.member)
    if shape.type_name == "structure":
        found += member_differences(path, ours["members"], shape)
    return found


def member_differences(path, ours, shape):
    found = []
    theirs = shape.members
    if set(ours) != set(theirs):
        found.append(f"{path}: members {sorted(ours)} in keyward, {sorted(theirs)} in AWS's model")
    for name in set(ours) & set(theirs):
        required = name in shape.required_members
        if ours[name]["required"] != required:
            found.append(f"{path}.{name}: required is {ours[name]['required']} in keyward, {required} in AWS's model")
        if ours[name].get("sensitive", False) != bool(theirs[name].metadata.get("sensitive")):
            found.append(f"{path}.{name}: sensitive differs")
        found += differences(f"{path}.{name}", ours[name], theirs[name])
    return found


def test_keyward_serves_operations_aws_has():
    assert len(KEYWARD) >= 35
    assert set(KEYWARD) <= set(BOTOCORE_KMS.operation_names)


@pytest.mark.parametrize("operation", sorted(KEYWARD))
def test_request_shape_matches_aws(operation):
    shape = BOTOCORE_KMS.operation_model(operation).input_shape
    assert member_differences(operation, KEYWARD[operation], shape) == []


def test_a_drifted_shape_is_caught():
    """The comparison itself can fail: a changed bound, a dropped member."""
    model = json.loads(json.dumps(KEYWARD["CreateAlias"]))
    shape = BOTOCORE_KMS.operation_model("CreateAlias").input_shape
    model["AliasName"]["max"] = 255
    assert member_differences("CreateAlias", model, shape) == [
        "CreateAlias.AliasName: max is 255 in keyward, 256 in AWS's model"
    ]
    del model["TargetKeyId"]
    assert any("members" in d for d in member_differences("CreateAlias", model, shape))


def undeclared(path, value, shape):
    """Members of a raw response `value` that botocore's `shape` does not declare."""
    if shape.type_name == "structure" and isinstance(value, dict):
        found = []
        for k, v in value.items():
            if k not in shape.members:
                found.append(f"{path}.{k}")
            else:
                found += undeclared(f"{path}.{k}", v, shape.members[k])
        return found
    if shape.type_name == "list" and isinstance(value, list):
        return [d for i, v in enumerate(value) for d in undeclared(f"{path}[{i}]", v, shape.member)]
    return []


def test_every_response_holds_only_members_aws_declares(server):
    kms = client_for(server, "admin")
    seen = {}

    def capture(http_response, model, **_):
        if http_response.status_code == 200 and http_response.content:
            seen[model.name] = json.loads(http_response.content)

    kms.meta.events.register("after-call.kms", capture)
    key = kms.create_key(Description="shape tour", Tags=[{"TagKey": "t", "TagValue": "v"}])["KeyMetadata"]["KeyId"]
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    alias = f"alias/shape-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key)
    kms.update_alias(AliasName=alias, TargetKeyId=other)
    kms.list_aliases()
    kms.describe_key(KeyId=key)
    kms.list_keys(Limit=1)
    blob = kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"a": "b"})["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})
    kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"a": "b"}, DestinationKeyId=other)
    kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    kms.generate_data_key_without_plaintext(KeyId=key, NumberOfBytes=16)
    kms.generate_random(NumberOfBytes=8)
    grant = kms.create_grant(KeyId=key, GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/AppServer", Operations=["Decrypt"])
    kms.list_grants(KeyId=key)
    kms.list_retirable_grants(RetiringPrincipal=f"arn:aws:iam::{ACCOUNT}:role/AppServer")
    kms.revoke_grant(KeyId=key, GrantId=grant["GrantId"])
    grant = kms.create_grant(KeyId=key, GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/AppServer", Operations=["Encrypt"])
    kms.retire_grant(KeyId=key, GrantId=grant["GrantId"])
    kms.get_key_policy(KeyId=key)
    kms.list_key_policies(KeyId=key)
    kms.put_key_policy(KeyId=key, Policy=kms.get_key_policy(KeyId=key)["Policy"])
    kms.tag_resource(KeyId=key, Tags=[{"TagKey": "u", "TagValue": "w"}])
    kms.untag_resource(KeyId=key, TagKeys=["u"])
    kms.list_resource_tags(KeyId=key)
    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=90)
    kms.get_key_rotation_status(KeyId=key)
    kms.rotate_key_on_demand(KeyId=key)
    kms.list_key_rotations(KeyId=key, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    kms.disable_key_rotation(KeyId=key)
    kms.get_key_last_usage(KeyId=key)
    kms.update_key_description(KeyId=key, Description="d")
    kms.disable_key(KeyId=key)
    kms.enable_key(KeyId=key)
    kms.schedule_key_deletion(KeyId=other, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=other)
    kms.delete_alias(AliasName=alias)
    signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.get_public_key(KeyId=signer)
    sig = kms.sign(KeyId=signer, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    kms.verify(KeyId=signer, Message=b"m", Signature=sig, SigningAlgorithm="ECDSA_SHA_256")
    mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    mac = kms.generate_mac(KeyId=mac_key, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    kms.verify_mac(KeyId=mac_key, Message=b"m", Mac=mac, MacAlgorithm="HMAC_SHA_256")
    ecdh = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["KeyId"]
    kms.derive_shared_secret(KeyId=ecdh, KeyAgreementAlgorithm="ECDH", PublicKey=kms.get_public_key(KeyId=signer)["PublicKey"])
    kem = kms.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyMetadata"]["KeyId"]
    ct = kms.encapsulate(KeyId=kem, EncapsulationAlgorithm="ML_KEM")["SharedSecretCiphertextBlob"]
    kms.decapsulate(KeyId=kem, EncapsulationAlgorithm="ML_KEM", SharedSecretCiphertextBlob=ct)
    kms.generate_data_key_pair(KeyId=key, KeyPairSpec="ECC_NIST_P256")
    kms.generate_data_key_pair_without_plaintext(KeyId=key, KeyPairSpec="ECC_NIST_P256")
    kms.get_public_key(KeyId=signer)

    def import_random(key_id, **extra):
        params = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
        public = serialization.load_der_public_key(params["PublicKey"])
        sha = hashes.SHA256()
        wrapped = public.encrypt(os.urandom(32), padding.OAEP(mgf=padding.MGF1(sha), algorithm=sha, label=None))
        kms.import_key_material(KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped, **extra)

    byok = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    import_random(byok, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", KeyMaterialDescription="first")
    import_random(byok, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", ImportType="NEW_KEY_MATERIAL")
    kms.list_key_rotations(KeyId=byok, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    kms.delete_imported_key_material(KeyId=byok)
    mrk = kms.create_key(MultiRegion=True, Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    import_random(mrk, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=time.time() + 3600)
    kms.replicate_key(KeyId=mrk, ReplicaRegion="us-west-2", Tags=[{"TagKey": "t", "TagValue": "v"}])
    moving = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=moving, ReplicaRegion="eu-west-1")
    kms.update_primary_region(KeyId=moving, PrimaryRegion="eu-west-1")
    kms.describe_key(KeyId=mrk)
    cks = kms.create_custom_key_store(CustomKeyStoreName="shape tour", CloudHsmClusterId=E2E_CLUSTER,
                                      TrustAnchorCertificate=trust_anchor(),
                                      KeyStorePassword=E2E_CLUSTER_PIN)["CustomKeyStoreId"]
    kms.update_custom_key_store(CustomKeyStoreId=cks, NewCustomKeyStoreName="shape tour, renamed")
    kms.connect_custom_key_store(CustomKeyStoreId=cks)
    kms.describe_custom_key_stores()
    kms.disconnect_custom_key_store(CustomKeyStoreId=cks)
    kms.delete_custom_key_store(CustomKeyStoreId=cks)
    assert set(seen) == set(KEYWARD), f"operations the tour did not reach: {set(KEYWARD) - set(seen)}"
    for operation, body in seen.items():
        shape = BOTOCORE_KMS.operation_model(operation).output_shape
        if shape is None:
            assert body == {}, (operation, body)
        else:
            assert undeclared(operation, body, shape) == [], body
    # A signing key's metadata lists its algorithms, and only those.
    assert "EncryptionAlgorithms" not in seen["GetPublicKey"]
    # The last key described: imported, expiring, multi-Region.
    described = seen["DescribeKey"]["KeyMetadata"]
    assert {"ValidTo", "ExpirationModel", "MultiRegionConfiguration"} <= set(described)
    assert {"ImportState", "KeyMaterialDescription"} <= set(seen["ListKeyRotations"]["Rotations"][0])
    # The tour saw the new members AWS added in 2025.
    assert len(seen["DescribeKey"]["KeyMetadata"]["CurrentKeyMaterialId"]) == 64
    assert base64.b64decode(seen["Decrypt"]["Plaintext"]) == b"x"
