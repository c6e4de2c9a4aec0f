"""AWS KMS's exact API surface: error codes and error messages, word for word.

Every expected text below is AWS's own, as recorded against AWS KMS by a
peer's test suite or as given in AWS's KMS API reference; keyward must answer
with the same Code and the same Message, not a paraphrase. Covered: the
validation messages ("N validation error(s) detected: ..."), NotFound and
AlreadyExists texts for keys and aliases, tag limits, on-demand rotation and
key-material ids, grant retirement and grant constraint validation,
GetKeyLastUsage and DryRun.

Requests that botocore would refuse on the client side (missing required
members, values below a minimum) are sent through a client created with
`parameter_validation=False`, so that the server's answer is what is tested.
"""

import secrets
import time
import uuid
from datetime import datetime

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, IDENTITIES, client_for

REGION = "us-east-1"
KEY_USAGE_ENUM = "[SIGN_VERIFY, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC, KEY_AGREEMENT, ENCAPSULATE_DECAPSULATE]"
KEY_USAGE_RANDOM = (
    "Value 'RANDOM' at 'keyUsage' failed to satisfy constraint: "
    f"Member must satisfy enum value set: {KEY_USAGE_ENUM}"
)
KEY_SPEC_RANDOM_PREFIX = (
    "Value 'HMAC_random' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: ["
)


def error(excinfo):
    """The (Code, Message) pair of a ClientError."""
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def raw(server):
    """The admin's client with botocore's client-side validation turned off."""
    ident = IDENTITIES["admin"]
    base = client_for(server, "admin")._client_config
    return boto3.client(
        "kms",
        endpoint_url=server["endpoint"],
        region_name=REGION,
        aws_access_key_id=ident["access_key_id"],
        aws_secret_access_key=ident["secret_access_key"],
        config=base.merge(botocore.config.Config(parameter_validation=False)),
    )


def new_key(kms, **kwargs):
    return kms.create_key(**kwargs)["KeyMetadata"]


def alias_arn(name):
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:{name}"


def unique_alias():
    return f"alias/exact-{uuid.uuid4()}"


# --- 1, 2, 14: enum validation on CreateKey ------------------------------------


def test_create_key_with_an_unknown_key_spec(kms):
    with pytest.raises(ClientError) as e:
        kms.create_key(KeySpec="HMAC_random")
    code, message = error(e)
    assert code == "ValidationException", message
    assert message.startswith("1 validation error detected: " + KEY_SPEC_RANDOM_PREFIX), message
    assert message.endswith("]"), message
    listed = message[len("1 validation error detected: " + KEY_SPEC_RANDOM_PREFIX) : -1].split(", ")
    assert "RSA_2048" in listed and "SYMMETRIC_DEFAULT" in listed, listed


def test_create_key_with_an_unknown_key_usage(kms):
    with pytest.raises(ClientError) as e:
        kms.create_key(KeyUsage="RANDOM")
    assert error(e) == ("ValidationException", "1 validation error detected: " + KEY_USAGE_RANDOM)


def test_two_enum_errors_are_reported_together(kms):
    with pytest.raises(ClientError) as e:
        kms.create_key(KeySpec="HMAC_random", KeyUsage="RANDOM")
    code, message = error(e)
    assert code == "ValidationException", message
    prefix = "2 validation errors detected: "
    assert message.startswith(prefix), message
    parts = message[len(prefix) :].split("; ")
    assert len(parts) == 2, parts
    assert KEY_USAGE_RANDOM in parts, parts
    assert any(p.startswith(KEY_SPEC_RANDOM_PREFIX) for p in parts), parts


def test_two_range_errors_on_list_aliases(raw):
    limit = "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
    marker = "Value '' at 'marker' failed to satisfy constraint: Member must have length greater than or equal to 1"
    with pytest.raises(ClientError) as e:
        raw.list_aliases(Limit=0, Marker="")
    code, message = error(e)
    assert code == "ValidationException", message
    assert message in (
        f"2 validation errors detected: {limit}; {marker}",
        f"2 validation errors detected: {marker}; {limit}",
    ), message


# --- 3, 6: GenerateRandom and Encrypt sizes --------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "NumberOfBytes is required."),
        (
            {"NumberOfBytes": 0},
            "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1",
        ),
        (
            {"NumberOfBytes": 1025},
            "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: "
            "Member must have value less than or equal to 1024",
        ),
    ],
    ids=["missing", "zero", "too-many"],
)
def test_generate_random_refuses(raw, kwargs, message):
    with pytest.raises(ClientError) as e:
        raw.generate_random(**kwargs)
    assert error(e) == ("ValidationException", message)


def test_generate_random_returns_the_bytes_asked_for(kms):
    assert len(kms.generate_random(NumberOfBytes=32)["Plaintext"]) == 32


def test_encrypt_refuses_plaintext_over_4096_bytes_without_echoing_it(kms):
    key = new_key(kms)["Arn"]
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key, Plaintext=b"p" * 4097)
    assert error(e) == (
        "ValidationException",
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096",
    )
    assert len(kms.encrypt(KeyId=key, Plaintext=b"p" * 4096)["CiphertextBlob"]) > 4096


# --- 4, 5: unknown keys and tampered ciphertext ----------------------------------


def test_describe_key_with_a_malformed_key_id(kms):
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="fake-key-id")
    assert error(e) == ("NotFoundException", "Invalid keyId 'fake-key-id'")


def test_describe_key_with_an_absent_key_id(kms):
    absent = str(uuid.uuid4())
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=absent)
    assert error(e) == ("NotFoundException", f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{absent}' does not exist")


def test_decrypt_of_tampered_ciphertext_says_nothing(kms):
    key = new_key(kms)["Arn"]
    blob = bytearray(kms.encrypt(KeyId=key, Plaintext=b"secret")["CiphertextBlob"])
    assert kms.decrypt(CiphertextBlob=bytes(blob))["Plaintext"] == b"secret"
    blob[-3] ^= 0x01
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=bytes(blob))
    assert error(e) == ("InvalidCiphertextException", "")


# --- 7: aliases ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, message",
    [
        (
            "abc123",
            'Alias must start with the prefix "alias/". '
            "Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
        ),
        (
            "alias/a b",
            "1 validation error detected: Value 'alias/a b' at 'aliasName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
        ),
    ],
    ids=["no-prefix", "space"],
)
def test_create_alias_refuses_bad_names(kms, name, message):
    key = new_key(kms)["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName=name, TargetKeyId=key)
    assert error(e) == ("ValidationException", message)


def test_create_alias_that_exists(kms):
    key = new_key(kms)["KeyId"]
    name = unique_alias()
    kms.create_alias(AliasName=name, TargetKeyId=key)
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName=name, TargetKeyId=new_key(kms)["KeyId"])
    assert error(e) == ("AlreadyExistsException", f"An alias with the name {alias_arn(name)} already exists")
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key


def test_delete_alias_that_is_missing(kms):
    name = unique_alias()
    with pytest.raises(ClientError) as e:
        kms.delete_alias(AliasName=name)
    assert error(e) == ("NotFoundException", f"Alias {alias_arn(name)} is not found.")


# --- 8: tags -------------------------------------------------------------------


def tags(*keys, value="v"):
    return [{"TagKey": k, "TagValue": value} for k in keys]


@pytest.mark.parametrize(
    "tag_list, code, message",
    [
        (tags("team", "team"), "TagException", "Duplicate tag keys"),
        (tags("aws:x"), "TagException", "Tags beginning with aws: are reserved"),
        (tags("AWS:x"), "TagException", "Tags beginning with aws: are reserved"),
        (
            tags("k" * 129),
            "ValidationException",
            "1 validation error detected: Value '" + "k" * 129 + "' at 'tags.1.member.tagKey' "
            "failed to satisfy constraint: Member must have length less than or equal to 128",
        ),
    ],
    ids=["duplicate", "aws-prefix", "AWS-prefix", "key-too-long"],
)
def test_tag_resource_refuses(kms, tag_list, code, message):
    key = new_key(kms)["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.tag_resource(KeyId=key, Tags=tag_list)
    assert error(e) == (code, message)
    assert kms.list_resource_tags(KeyId=key)["Tags"] == []


@pytest.mark.parametrize(
    "tag_list, message",
    [
        (tags("aws:x"), "Tags beginning with aws: are reserved"),
        (tags("AWS:x"), "Tags beginning with aws: are reserved"),
        (tags(*[f"t{i}" for i in range(51)]), "Too many tags"),
    ],
    ids=["aws-prefix", "AWS-prefix", "51-tags"],
)
def test_create_key_refuses_tags(kms, tag_list, message):
    with pytest.raises(ClientError) as e:
        kms.create_key(Tags=tag_list)
    assert error(e) == ("TagException", message)


def test_a_key_holds_at_most_50_tags(kms):
    fifty = [f"t{i}" for i in range(50)]
    key = new_key(kms, Tags=tags(*fifty))["KeyId"]
    kms.tag_resource(KeyId=key, Tags=tags("t0", "t49", value="changed"))
    with pytest.raises(ClientError) as e:
        kms.tag_resource(KeyId=key, Tags=tags("t50"))
    assert error(e) == ("TagException", "Too many tags")
    held = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key, Limit=50)["Tags"]}
    assert sorted(held) == sorted(fifty)
    assert held["t0"] == held["t49"] == "changed" and held["t1"] == "v"


# --- 9: on-demand rotation and key material ids --------------------------------


def is_material_id(value):
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def test_rotate_key_on_demand_answers_the_bare_key_id(kms):
    key = new_key(kms)
    assert kms.rotate_key_on_demand(KeyId=key["Arn"])["KeyId"] == key["KeyId"]


def test_on_demand_rotations_are_limited_to_25(kms):
    key = new_key(kms)
    for _ in range(25):
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as e:
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
    assert error(e) == (
        "LimitExceededException",
        "The on-demand rotations limit has been reached for the given keyId. "
        f"No more on-demand rotations can be performed for this key: {key['Arn']}",
    )
    rotations = kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]
    assert len(rotations) == 25 and {r["RotationType"] for r in rotations} == {"ON_DEMAND"}


def test_key_material_ids_through_rotation(kms):
    key = new_key(kms)
    initial = key["CurrentKeyMaterialId"]
    assert is_material_id(initial), key
    old = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"before")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old)["KeyMaterialId"] == initial

    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    (rotation,) = kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]
    assert rotation["RotationType"] == "ON_DEMAND" and is_material_id(rotation["KeyMaterialId"]), rotation
    assert rotation["KeyMaterialId"] != initial
    current = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    assert current == rotation["KeyMaterialId"]

    everything = kms.list_key_rotations(KeyId=key["KeyId"], IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert sorted(r["KeyMaterialId"] for r in everything) == sorted([initial, current])

    # Old ciphertext names the material that sealed it; new ciphertext the current one.
    assert kms.decrypt(CiphertextBlob=old)["KeyMaterialId"] == initial
    new = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"after")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=new)["KeyMaterialId"] == current


def test_key_material_ids_after_several_rotations(kms):
    key = new_key(kms)
    for _ in range(3):
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
        latest = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
        listed = [r["KeyMaterialId"] for r in kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]]
        assert latest in listed, (latest, listed)
    listed = [r["KeyMaterialId"] for r in kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]]
    everything = kms.list_key_rotations(KeyId=key["KeyId"], IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert len(listed) == 3 and len(set(listed)) == 3 and all(map(is_material_id, listed))
    assert len(everything) == 4
    assert set(r["KeyMaterialId"] for r in everything) == set(listed) | {key["CurrentKeyMaterialId"]}


# --- 10, 11: grants ------------------------------------------------------------

PIPELINE = f"arn:aws:iam::{ACCOUNT}:role/Pipeline"


def test_retire_grant_by_key_and_grant_id(kms):
    key = new_key(kms)["Arn"]
    grant = kms.create_grant(KeyId=key, GranteePrincipal=PIPELINE, Operations=["Decrypt"])["GrantId"]
    assert [g["GrantId"] for g in kms.list_grants(KeyId=key)["Grants"]] == [grant]
    kms.retire_grant(KeyId=key, GrantId=grant)
    assert kms.list_grants(KeyId=key)["Grants"] == []


def test_retire_grant_of_an_unknown_grant_id(kms):
    key = new_key(kms)["Arn"]
    with pytest.raises(ClientError) as e:
        kms.retire_grant(KeyId=key, GrantId=secrets.token_hex(32))
    assert error(e)[0] == "InvalidGrantIdException", error(e)


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            {
                "Operations": ["Decrypt"],
                "Constraints": {"EncryptionContextEquals": {"a": "1"}, "EncryptionContextSubset": {"a": "1"}},
            },
            "More than one constraint supplied",
        ),
        ({"Operations": ["CreateGrant"]}, "Grants must not contain only the CreateGrant operation."),
    ],
    ids=["two-constraints", "only-create-grant"],
)
def test_create_grant_refuses(kms, extra, message):
    key = new_key(kms)["Arn"]
    with pytest.raises(ClientError) as e:
        kms.create_grant(KeyId=key, GranteePrincipal=PIPELINE, **extra)
    assert error(e) == ("ValidationException", message)
    assert kms.list_grants(KeyId=key)["Grants"] == []


def test_create_grant_with_an_unknown_operation(kms):
    key = new_key(kms)["Arn"]
    with pytest.raises(ClientError) as e:
        kms.create_grant(KeyId=key, GranteePrincipal=PIPELINE, Operations=["Decrypt", "Frobnicate"])
    code, message = error(e)
    assert code == "ValidationException", message
    assert message.startswith(
        "1 validation error detected: Value '[Decrypt, Frobnicate]' at 'operations' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must satisfy enum value set: ["
    ), message
    assert kms.list_grants(KeyId=key)["Grants"] == []


# --- 12: GetKeyLastUsage -------------------------------------------------------


def test_key_last_usage_of_a_fresh_key(kms):
    key = new_key(kms)
    out = kms.get_key_last_usage(KeyId=key["KeyId"])
    assert "KeyLastUsage" not in out, out
    assert isinstance(out["KeyCreationDate"], datetime) and isinstance(out["TrackingStartDate"], datetime), out
    assert abs(out["KeyCreationDate"].timestamp() - key["CreationDate"].timestamp()) < 2


def test_key_last_usage_after_encrypt_then_decrypt(kms):
    key = new_key(kms)["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob)
    usage = kms.get_key_last_usage(KeyId=key)["KeyLastUsage"]
    assert usage["Operation"] == "Decrypt", usage
    assert abs(usage["Timestamp"].timestamp() - time.time()) < 120, usage
    assert isinstance(usage["CloudTrailEventId"], str) and usage["CloudTrailEventId"], usage


def test_key_last_usage_refuses_an_alias(kms):
    key = new_key(kms)["KeyId"]
    name = unique_alias()
    kms.create_alias(AliasName=name, TargetKeyId=key)
    with pytest.raises(ClientError) as e:
        kms.get_key_last_usage(KeyId=name)
    assert error(e)[0] == "NotFoundException", error(e)


# --- 13: DryRun ----------------------------------------------------------------


def test_dry_run_encrypt(kms):
    key = new_key(kms)["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key, Plaintext=b"x", DryRun=True)
    assert error(e) == ("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
    assert status(e) == 412
