"""keyward serve driven by the real clients: boto3, the aws CLI and the AWS
Encryption SDK for Python, all from PyPI."""

import base64
import json
import os
import subprocess
import sys

import aws_encryption_sdk
import botocore.session
import pytest
from aws_encryption_sdk.identifiers import CommitmentPolicy
from botocore.exceptions import ClientError

from conftest import ACCOUNT, IDENTITIES, client_for


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_create_describe_and_aliases(kms):
    key = kms.create_key(Description="e2e")["KeyMetadata"]
    assert key["Arn"].startswith(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/")
    assert key["KeyState"] == "Enabled"
    kms.create_alias(AliasName="alias/e2e", TargetKeyId=key["KeyId"])
    described = kms.describe_key(KeyId="alias/e2e")["KeyMetadata"]
    assert described["Arn"] == key["Arn"]
    names = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert "alias/e2e" in names
    other = kms.create_key()["KeyMetadata"]
    kms.update_alias(AliasName="alias/e2e", TargetKeyId=other["KeyId"])
    assert kms.describe_key(KeyId="alias/e2e")["KeyMetadata"]["Arn"] == other["Arn"]
    kms.delete_alias(AliasName="alias/e2e")
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="alias/e2e")
    assert code(e) == "NotFoundException"
    assert any(k["KeyArn"] == key["Arn"] for k in kms.list_keys()["Keys"])


def test_encrypt_decrypt_with_context(kms):
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    ctx = {"tenant": "acme", "record": "7"}
    ct = kms.encrypt(KeyId=arn, Plaintext=b"hello", EncryptionContext=ctx)
    assert ct["KeyId"] == arn
    out = kms.decrypt(CiphertextBlob=ct["CiphertextBlob"], EncryptionContext=ctx)
    assert out["Plaintext"] == b"hello" and out["KeyId"] == arn
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=ct["CiphertextBlob"], EncryptionContext={"tenant": "globex", "record": "7"})
    assert code(e) == "InvalidCiphertextException"
    other = kms.create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=ct["CiphertextBlob"], EncryptionContext=ctx, KeyId=other)
    assert code(e) == "IncorrectKeyException"


def test_data_keys_and_reencrypt(kms):
    a = kms.create_key()["KeyMetadata"]["Arn"]
    b = kms.create_key()["KeyMetadata"]["Arn"]
    dk = kms.generate_data_key(KeyId=a, KeySpec="AES_256", EncryptionContext={"p": "1"})
    assert len(dk["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"p": "1"})["Plaintext"] == dk["Plaintext"]
    w = kms.generate_data_key_without_plaintext(KeyId=a, NumberOfBytes=16)
    assert "Plaintext" not in w
    moved = kms.re_encrypt(
        CiphertextBlob=dk["CiphertextBlob"], SourceEncryptionContext={"p": "1"}, DestinationKeyId=b
    )
    assert moved["SourceKeyId"] == a and moved["KeyId"] == b
    assert kms.decrypt(CiphertextBlob=moved["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    assert len(kms.generate_random(NumberOfBytes=24)["Plaintext"]) == 24


def test_rotation(kms):
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    old = kms.encrypt(KeyId=arn, Plaintext=b"v1")["CiphertextBlob"]
    kms.enable_key_rotation(KeyId=arn, RotationPeriodInDays=180)
    status = kms.get_key_rotation_status(KeyId=arn)
    assert status["KeyRotationEnabled"] and status["RotationPeriodInDays"] == 180
    kms.rotate_key_on_demand(KeyId=arn)
    rotations = kms.list_key_rotations(KeyId=arn)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"v1"
    with pytest.raises(ClientError) as e:
        kms.enable_key_rotation(KeyId=arn, RotationPeriodInDays=3000)
    assert code(e) == "ValidationException"


def test_disable_enable_and_deletion(kms):
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    kms.disable_key(KeyId=arn)
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=arn, Plaintext=b"x")
    assert code(e) == "DisabledException"
    kms.enable_key(KeyId=arn)
    kms.encrypt(KeyId=arn, Plaintext=b"x")
    deletion = kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)
    assert deletion["KeyState"] == "PendingDeletion"
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=arn, Plaintext=b"x")
    assert code(e) == "KMSInvalidStateException"
    kms.cancel_key_deletion(KeyId=arn)
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "Disabled"


def test_key_policy_allow_and_deny(server, kms):
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    app = client_for(server, "app")
    eve = client_for(server, "eve")
    ct = app.encrypt(KeyId=arn, Plaintext=b"app data")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        eve.decrypt(CiphertextBlob=ct)
    assert code(e) == "AccessDeniedException"
    assert f"arn:aws:iam::{ACCOUNT}:user/eve" in e.value.response["Error"]["Message"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Eve", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/eve"}, "Action": "kms:Decrypt", "Resource": "*"},
            {"Sid": "NoAppDecrypt", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/App"}, "Action": "kms:Decrypt", "Resource": "*"},
        ],
    }
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(policy))
    assert eve.decrypt(CiphertextBlob=ct)["Plaintext"] == b"app data"
    with pytest.raises(ClientError) as e:
        app.decrypt(CiphertextBlob=ct)
    assert code(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        kms.put_key_policy(KeyId=arn, PolicyName="default", Policy='{"Statement": [{"Effect": "Alow"}]}')
    assert code(e) == "MalformedPolicyDocumentException"


def test_grants_with_constraints(server, kms):
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    eve = client_for(server, "eve")
    ct = kms.encrypt(KeyId=arn, Plaintext=b"orders", EncryptionContext={"dept": "orders"})["CiphertextBlob"]
    grant = kms.create_grant(
        KeyId=arn,
        GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:user/eve",
        Operations=["Decrypt"],
        Constraints={"EncryptionContextSubset": {"dept": "orders"}},
    )
    assert eve.decrypt(CiphertextBlob=ct, EncryptionContext={"dept": "orders"}, GrantTokens=[grant["GrantToken"]])["Plaintext"] == b"orders"
    other = kms.encrypt(KeyId=arn, Plaintext=b"hr", EncryptionContext={"dept": "hr"})["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        eve.decrypt(CiphertextBlob=other, EncryptionContext={"dept": "hr"})
    assert code(e) == "AccessDeniedException"
    listed = kms.list_grants(KeyId=arn)["Grants"]
    assert listed[0]["GrantId"] == grant["GrantId"]
    kms.revoke_grant(KeyId=arn, GrantId=grant["GrantId"])
    with pytest.raises(ClientError) as e:
        eve.decrypt(CiphertextBlob=ct, EncryptionContext={"dept": "orders"})
    assert code(e) == "AccessDeniedException"


def test_via_service_through_a_service_identity(server, kms):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"}, "Action": "kms:*", "Resource": "*"},
            {
                "Sid": "AppServerViaEc2",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/AppServer"},
                "Action": ["kms:Encrypt", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}},
            },
        ],
    }
    arn = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
    direct = client_for(server, "appserver")
    with pytest.raises(ClientError) as e:
        direct.encrypt(KeyId=arn, Plaintext=b"vol")
    assert code(e) == "AccessDeniedException"
    ec2 = client_for(server, "ec2")

    def on_behalf(request, **_):
        request.headers["X-Keyward-On-Behalf-Of"] = f"arn:aws:iam::{ACCOUNT}:role/AppServer"

    ec2.meta.events.register("before-sign.kms.*", on_behalf)
    ct = ec2.encrypt(KeyId=arn, Plaintext=b"vol")["CiphertextBlob"]
    assert ec2.decrypt(CiphertextBlob=ct)["Plaintext"] == b"vol"
    # An ordinary caller cannot claim the header.
    app = client_for(server, "app")
    app.meta.events.register("before-sign.kms.*", on_behalf)
    with pytest.raises(ClientError) as e:
        app.encrypt(KeyId=arn, Plaintext=b"vol")
    assert code(e) == "AccessDeniedException"


def test_bad_signatures_and_unknown_keys(server):
    wrong = client_for(server, "admin", secret="not-the-secret")
    with pytest.raises(ClientError) as e:
        wrong.list_keys()
    assert code(e) == "InvalidSignatureException"
    import boto3

    stranger = boto3.client(
        "kms", endpoint_url=server["endpoint"], region_name="us-east-1",
        aws_access_key_id="AKIANOBODY0000000000", aws_secret_access_key="x",
    )
    with pytest.raises(ClientError) as e:
        stranger.list_keys()
    assert code(e) == "UnrecognizedClientException"


def aws_cli(server, *args, stdin=None):
    ident = IDENTITIES["admin"]
    env = dict(os.environ)
    env.update({
        "AWS_ACCESS_KEY_ID": ident["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": ident["secret_access_key"],
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_PAGER": "",
    })
    # The aws CLI installed next to this Python (the test venv), not some other.
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    out = subprocess.run(
        [aws, "kms", *args, "--endpoint-url", server["endpoint"], "--output", "json"],
        env=env, input=stdin, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else {}


def test_aws_cli(server, tmp_path):
    key = aws_cli(server, "create-key", "--description", "from the aws CLI")["KeyMetadata"]
    aws_cli(server, "create-alias", "--alias-name", "alias/cli", "--target-key-id", key["KeyId"])
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"secret from the CLI")
    ct = aws_cli(server, "encrypt", "--key-id", "alias/cli", "--plaintext", f"fileb://{plain}",
                 "--encryption-context", "purpose=e2e")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(base64.b64decode(ct["CiphertextBlob"]))
    out = aws_cli(server, "decrypt", "--ciphertext-blob", f"fileb://{blob}", "--encryption-context", "purpose=e2e")
    assert base64.b64decode(out["Plaintext"]) == b"secret from the CLI"
    assert out["KeyId"] == key["Arn"]


def test_aws_encryption_sdk_envelope(server, kms, tmp_path, monkeypatch):
    arn = kms.create_key(Description="ESDK")["KeyMetadata"]["Arn"]
    ident = IDENTITIES["admin"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", server["endpoint"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ident["access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ident["secret_access_key"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=botocore.session.Session())
    source = tmp_path / "report.csv"
    source.write_bytes(b"id,amount\n" + b"".join(b"%d,%d\n" % (i, i * 7) for i in range(5000)))
    with open(source, "rb") as f:
        ciphertext, header = client.encrypt(source=f.read(), key_provider=provider, encryption_context={"file": "report.csv"})
    (tmp_path / "report.csv.encrypted").write_bytes(ciphertext)
    plaintext, dheader = client.decrypt(source=(tmp_path / "report.csv.encrypted").read_bytes(), key_provider=provider)
    assert plaintext == source.read_bytes()
    assert dheader.encryption_context["file"] == "report.csv"
    # The data key's wrapping went through keyward: flip one byte of the
    # encrypted data key and keyward refuses to unwrap it.
    assert arn.encode() in ciphertext
