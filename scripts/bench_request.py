"""Prepares one SigV4-signed KMS request for wrk: creates a key (and a
ciphertext) at ENDPOINT with boto3, signs OPERATION's request with
botocore's own SigV4 signer, and writes a wrk Lua script that replays it.
A signature stays valid for five minutes, as on AWS.

    python scripts/bench_request.py ENDPOINT OPERATION OUT.lua
"""

import json
import sys

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "AKIABENCH00000000001"
SECRET_KEY = "bench-secret-key-not-for-production"
REGION = "us-east-1"


def main(endpoint, operation, out):
    kms = boto3.client("kms", endpoint_url=endpoint, region_name=REGION,
                       aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    key = kms.create_key()["KeyMetadata"]["KeyId"] if operation != "CreateKey" else None
    context = {"tenant": "acme", "record": "42"}
    data_key = b"0123456789abcdef0123456789abcdef"
    if operation == "Decrypt":
        import base64
        blob = kms.encrypt(KeyId=key, Plaintext=data_key, EncryptionContext=context)["CiphertextBlob"]
        body = {"CiphertextBlob": base64.b64encode(blob).decode(), "EncryptionContext": context}
    elif operation == "Encrypt":
        import base64
        body = {"KeyId": key, "Plaintext": base64.b64encode(data_key).decode(), "EncryptionContext": context}
    elif operation == "GenerateDataKey":
        body = {"KeyId": key, "KeySpec": "AES_256", "EncryptionContext": context}
    elif operation == "CreateKey":
        body = {}
    else:
        raise SystemExit(f"unknown operation {operation}")
    payload = json.dumps(body)
    request = AWSRequest(method="POST", url=endpoint + "/", data=payload, headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"TrentService.{operation}",
    })
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "kms", REGION).add_auth(request)
    # The request must be one keyward accepts before wrk replays it.
    prepared = request.prepare()
    import urllib.request
    check = urllib.request.Request(prepared.url, data=payload.encode(), method="POST",
                                   headers=dict(prepared.headers))
    with urllib.request.urlopen(check, timeout=10) as r:
        assert r.status == 200, r.status
    lua = ['wrk.method = "POST"', f"wrk.body = {json.dumps(payload)}"]
    for name, value in prepared.headers.items():
        if name.lower() in ("content-length",):
            continue
        lua.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value if isinstance(value, str) else value.decode())}")
    with open(out, "w") as f:
        f.write("\n".join(lua) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
