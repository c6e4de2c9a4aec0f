"""The edge: every header that changes a request's meaning must be signed."""

import base64
import json

from conftest import ACCOUNT, post_signed_then_added, signed_post


def test_an_unsigned_target_cannot_retarget_a_request(server, kms):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    body = json.dumps({"KeyId": key}).encode()
    # Signed as DescribeKey over host;x-amz-date only, sent as DisableKey.
    status, out = post_signed_then_added(
        server,
        "admin",
        {},
        {"X-Amz-Target": "TrentService.DisableKey", "Content-Type": "application/x-amz-json-1.1"},
        body,
    )
    assert status == 400 and out["__type"] == "InvalidSignatureException", out
    assert out["message"] == "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."
    status, out = post_signed_then_added(
        server,
        "admin",
        {"X-Amz-Target": "TrentService.DescribeKey"},
        {"Content-Type": "application/x-amz-json-1.1"},
        body,
    )
    assert status == 400 and out["__type"] == "InvalidSignatureException", out
    assert out["message"] == "'Content-Type' must be a 'SignedHeader' in the AWS Authorization."
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"


def test_on_behalf_of_added_after_signing_is_refused(server, kms):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    body = json.dumps({"KeyId": key}).encode()
    status, out = post_signed_then_added(
        server,
        "ec2",
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.DescribeKey"},
        {"X-Keyward-On-Behalf-Of": f"arn:aws:iam::{ACCOUNT}:role/AppServer"},
        body,
    )
    assert status == 400 and out["__type"] == "InvalidSignatureException", out
    assert out["message"] == "'X-Keyward-On-Behalf-Of' must be a 'SignedHeader' in the AWS Authorization."
    # Signed, the same header is honoured: EC2 encrypts for AppServer.
    encrypt = json.dumps({"KeyId": key, "Plaintext": base64.b64encode(b"vol").decode()}).encode()
    status, out = signed_post(
        server,
        "TrentService.Encrypt",
        encrypt,
        who="ec2",
        extra_headers={"X-Keyward-On-Behalf-Of": f"arn:aws:iam::{ACCOUNT}:role/AppServer"},
    )
    assert status == 200 and out["KeyId"] == key, out
