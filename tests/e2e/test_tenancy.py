"""Two accounts in one `keyward serve`, driven by boto3: every point of the
tenancy review, at the wire. Account B's identities (`b_admin`, `mallory`)
live in the same identities file as account A's."""

import base64
import json
import threading
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, OTHER_ACCOUNT, client_for, signed_post


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def message(excinfo):
    return excinfo.value.response["Error"]["Message"]


def key_with(client, account, extra=()):
    statements = [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        *extra,
    ]
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return client.create_key(Policy=policy)["KeyMetadata"]["Arn"]


ENCRYPT_FOR_ALL = {"Effect": "Allow", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*"}


def test_aliases_are_per_account(server, kms):
    """B taking an alias name first neither blocks A nor captures A's data."""
    b = client_for(server, "b_admin")
    name = f"alias/orders-{uuid.uuid4().hex[:8]}"
    b_key = key_with(b, OTHER_ACCOUNT, [ENCRYPT_FOR_ALL])
    b.create_alias(AliasName=name, TargetKeyId=b_key)
    a_key = key_with(kms, ACCOUNT)
    kms.create_alias(AliasName=name, TargetKeyId=a_key)
    for key_id in (name, f"arn:aws:kms:us-east-1:{ACCOUNT}:{name}"):
        assert kms.encrypt(KeyId=key_id, Plaintext=b"a's data")["KeyId"] == a_key
    assert b.encrypt(KeyId=name, Plaintext=b"b's data")["KeyId"] == b_key
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName=name, TargetKeyId=a_key)
    assert code(e) == "AlreadyExistsException"
    assert message(e) == f"An alias with the name arn:aws:kms:us-east-1:{ACCOUNT}:{name} already exists"


@pytest.mark.parametrize(
    "region,service,expected",
    [
        (f"us-east-1:{OTHER_ACCOUNT}", "kms", f"Credential should be scoped to a valid region, not 'us-east-1:{OTHER_ACCOUNT}'. "),
        ("xx-nowhere-9", "kms", "Credential should be scoped to a valid region, not 'xx-nowhere-9'. "),
        ("us-east-1", "s3", "Credential should be scoped to correct service: 'kms'. "),
    ],
)
def test_credential_scope_must_be_kms_in_a_served_region(server, region, service, expected):
    status, body = signed_post(server, "TrentService.CreateKey", b"{}", who="admin", region=region, service=service)
    assert status == 400 and body["__type"] == "InvalidSignatureException", body
    assert body["message"] == expected


def test_the_key_owner_is_never_read_from_an_arn(server, kms):
    """A forged credential scope cannot make A's key look like B's, and B's
    user with no IAM policy cannot use A's key even when A's policy says "*"."""
    a_key = key_with(kms, ACCOUNT, [ENCRYPT_FOR_ALL])
    mallory = client_for(server, "mallory")
    with pytest.raises(ClientError) as e:
        mallory.encrypt(KeyId=a_key, Plaintext=b"x")
    assert code(e) == "AccessDeniedException"
    body = json.dumps({"KeyId": a_key, "Plaintext": base64.b64encode(b"x").decode()}).encode()
    status, out = signed_post(server, "TrentService.Encrypt", body, who="mallory", region=f"us-east-1:{ACCOUNT}")
    assert status == 400 and out["__type"] == "InvalidSignatureException", out


def test_keys_stay_in_their_region(server):
    singapore = client_for(server, "admin", region="ap-southeast-1")
    virginia = client_for(server, "admin", region="us-east-1")
    key = singapore.create_key()["KeyMetadata"]
    assert key["Arn"].startswith(f"arn:aws:kms:ap-southeast-1:{ACCOUNT}:key/")
    blob = singapore.encrypt(KeyId=key["Arn"], Plaintext=b"sg")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        virginia.describe_key(KeyId=key["Arn"])
    assert code(e) == "NotFoundException" and message(e) == "Invalid arn ap-southeast-1"
    with pytest.raises(ClientError) as e:
        virginia.describe_key(KeyId=key["KeyId"])
    assert code(e) == "NotFoundException"
    with pytest.raises(ClientError) as e:
        virginia.decrypt(CiphertextBlob=blob)
    assert code(e) == "NotFoundException"
    assert key["KeyId"] not in [k["KeyId"] for k in virginia.list_keys(Limit=1000)["Keys"]]
    assert singapore.decrypt(CiphertextBlob=blob)["Plaintext"] == b"sg"


def test_listings_show_only_the_callers_account(server, kms):
    b = client_for(server, "b_admin")
    key_with(b, OTHER_ACCOUNT)
    a_key = key_with(kms, ACCOUNT)
    name = f"alias/listed-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=a_key)
    a_worker = f"arn:aws:iam::{ACCOUNT}:role/worker"
    kms.create_grant(KeyId=a_key, GranteePrincipal=a_worker, RetiringPrincipal=a_worker, Operations=["Decrypt"])
    b_keys = [k["KeyArn"] for k in b.list_keys(Limit=1000)["Keys"]]
    assert b_keys and all(f":{OTHER_ACCOUNT}:key/" in k for k in b_keys)
    assert a_key not in b_keys
    b_aliases = [a["AliasArn"] for a in b.list_aliases(Limit=1000)["Aliases"]]
    assert all(f":{OTHER_ACCOUNT}:alias/" in a for a in b_aliases)
    with pytest.raises(ClientError) as e:
        b.list_retirable_grants(RetiringPrincipal=a_worker)
    assert code(e) == "AccessDeniedException"
    mine = kms.list_retirable_grants(RetiringPrincipal=a_worker)["Grants"]
    assert [g["KeyId"] for g in mine] == [a_key]


def test_create_alias_races_have_one_winner(server, kms):
    keys = [kms.create_key()["KeyMetadata"]["Arn"] for _ in range(6)]
    clients = [client_for(server, "admin") for _ in keys]
    for round in range(10):
        name = f"alias/race-{uuid.uuid4().hex[:8]}-{round}"
        results = [None] * len(keys)
        barrier = threading.Barrier(len(keys))

        def attempt(i):
            barrier.wait(timeout=10)
            try:
                clients[i].create_alias(AliasName=name, TargetKeyId=keys[i])
                results[i] = "ok"
            except ClientError as e:
                results[i] = e.response["Error"]["Code"]

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(keys))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert results.count("ok") == 1, results
        assert set(results) == {"ok", "AlreadyExistsException"}, results
        winner = keys[results.index("ok")]
        assert kms.describe_key(KeyId=name)["KeyMetadata"]["Arn"] == winner


def test_an_empty_equals_grant_cannot_widen_itself(server, kms):
    key = key_with(kms, ACCOUNT)
    blob = kms.encrypt(KeyId=key, Plaintext=b"acme", EncryptionContext={"tenant": "acme"})["CiphertextBlob"]
    role = f"arn:aws:iam::{ACCOUNT}:role/Pipeline"
    kms.create_grant(
        KeyId=key,
        GranteePrincipal=role,
        Operations=["Decrypt", "CreateGrant"],
        Constraints={"EncryptionContextEquals": {}},
    )
    pipeline = client_for(server, "pipeline")
    with pytest.raises(ClientError) as e:
        pipeline.create_grant(KeyId=key, GranteePrincipal=role, Operations=["Decrypt"])
    assert code(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        pipeline.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant": "acme"})
    assert code(e) == "AccessDeniedException"
