"""The on-call signals: refused unwraps counted by reason, and unwraps by
principal, on the metrics endpoint of a real `keyward serve`, driven by
boto3; docs/alerts.md's rules are written against these series."""

import json
import re
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, client_for


def metric(server, name, **labels):
    with urllib.request.urlopen(server["metrics"], timeout=10) as r:
        text = r.read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(rf"^{name}\{{{re.escape(want)}\}} (\d+)$", text, re.M)
    return int(m.group(1)) if m else 0


def test_unwraps_are_counted_by_principal_and_refusals_by_reason(server, kms):
    eve = client_for(server, "eve")  # no IAM policy at all
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "TenantOnly", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringNotEquals": {"kms:EncryptionContext:tenant": "acme"}}}]}
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["KeyId"]
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    acme = kms.encrypt(KeyId=key, Plaintext=b"p", EncryptionContext={"tenant": "acme"})["CiphertextBlob"]
    globex = kms.encrypt(KeyId=key, Plaintext=b"p", EncryptionContext={"tenant": "globex"})["CiphertextBlob"]
    admin_arn = f"arn:aws:iam::{ACCOUNT}:user/admin"
    before = {r: metric(server, "keyward_unwrap_denied_total", reason=r)
              for r in ["context_mismatch", "no_permission", "disabled_key", "wrong_key", "invalid_ciphertext"]}
    unwraps = metric(server, "keyward_unwraps_total", principal=admin_arn)

    kms.decrypt(CiphertextBlob=acme, EncryptionContext={"tenant": "acme"})
    with pytest.raises(ClientError):  # the key policy's context condition
        kms.decrypt(CiphertextBlob=globex, EncryptionContext={"tenant": "globex"})
    with pytest.raises(ClientError):  # the ciphertext does not open under another context
        kms.decrypt(CiphertextBlob=acme, EncryptionContext={"tenant": "acme", "extra": "x"})
    with pytest.raises(ClientError):  # KeyId names another key
        kms.decrypt(CiphertextBlob=acme, EncryptionContext={"tenant": "acme"}, KeyId=other)
    blob = kms.encrypt(KeyId=other, Plaintext=b"p")["CiphertextBlob"]
    with pytest.raises(ClientError):  # eve: nothing allows her
        eve.decrypt(CiphertextBlob=blob)
    kms.disable_key(KeyId=other)
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=blob)

    after = {r: metric(server, "keyward_unwrap_denied_total", reason=r) for r in before}
    assert {r: after[r] - before[r] for r in before} == {
        "context_mismatch": 1, "no_permission": 1, "disabled_key": 1, "wrong_key": 1, "invalid_ciphertext": 1}
    assert metric(server, "keyward_unwraps_total", principal=admin_arn) == unwraps + 1
