"""The wire protocol itself: errors for malformed requests, health and
metrics, graceful shutdown, and a first start with no configuration."""

import json
import os
import re
import signal
import subprocess
import tempfile
import urllib.error
import urllib.request

import boto3
import pytest

from conftest import IDENTITIES, keyward_bin, quiet_env, signed_post


def test_malformed_requests_get_aws_errors(server):
    status, body = signed_post(server, "TrentService.Encrypt", b"{not json")
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body = signed_post(server, "TrentService.Encrypt", b"{}")
    assert (status, body["__type"]) == (400, "ValidationException")
    status, body = signed_post(server, "TrentService.StealAllKeys", b"{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, body = signed_post(server, "TrentService.DescribeKey", json.dumps({"KeyId": 42}).encode())
    assert (status, body["__type"]) == (400, "SerializationException")
    big = json.dumps({"Plaintext": "A" * (2 * 1024 * 1024)}).encode()
    status, body = signed_post(server, "TrentService.Encrypt", big)
    assert (status, body["__type"]) == (413, "ValidationException")


def test_unsigned_requests_are_refused(server):
    req = urllib.request.Request(server["endpoint"] + "/", data=b"{}", method="POST",
                                 headers={"X-Amz-Target": "TrentService.ListKeys", "Content-Type": "application/x-amz-json-1.1"})
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("an unsigned request was accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 400
        assert json.loads(e.read())["__type"] == "MissingAuthenticationTokenException"


def test_health_and_metrics(server, kms):
    with urllib.request.urlopen(server["endpoint"] + "/healthz", timeout=10) as r:
        assert r.read() == b"ok\n"
    kms.list_keys()
    eve = boto3.client("kms", endpoint_url=server["endpoint"], region_name="us-east-1",
                       aws_access_key_id=IDENTITIES["eve"]["access_key_id"],
                       aws_secret_access_key=IDENTITIES["eve"]["secret_access_key"])
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    try:
        eve.describe_key(KeyId=arn)
    except eve.exceptions.ClientError:
        pass
    with urllib.request.urlopen(server["metrics"], timeout=10) as r:
        text = r.read().decode()
    assert 'keyward_requests_total{operation="ListKeys",outcome="ok"}' in text
    assert re.search(r'keyward_denied_total\{operation="DescribeKey",principal="arn:aws:iam::111122223333:user/eve"\} \d+', text)
    assert "keyward_request_duration_seconds_bucket" in text
    assert arn.split("/")[-1] not in text, "no key ids in metrics"
    # Metrics are served on their own address only.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server["endpoint"] + "/metrics", timeout=10)
    assert e.value.code == 404


def start(data, listen="127.0.0.1:0"):
    proc = subprocess.Popen([keyward_bin(), "serve", "--listen", listen, "--data", data],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=quiet_env())
    banner = []
    while True:
        line = proc.stdout.readline()
        banner.append(line)
        if not line or "aws kms create-key" in line:
            break
    text = "".join(banner)
    endpoint = re.search(r"listening on (http://[0-9.:]+)", text).group(1)
    key = re.search(r"AWS_ACCESS_KEY_ID=(\S+)", text)
    secret = re.search(r"AWS_SECRET_ACCESS_KEY=(\S+)", text)
    assert f"--endpoint-url {endpoint}" in text
    return proc, endpoint, key and key.group(1), secret and secret.group(1), text


def test_first_start_without_configuration_and_restart():
    data = os.path.join(tempfile.mkdtemp(prefix="keyward-first-"), "data")
    proc, endpoint, key, secret, _ = start(data)
    assert key and secret, "a first start prints the credentials it created"
    try:
        kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id=key, aws_secret_access_key=secret)
        arn = kms.create_key(Description="made on first start")["KeyMetadata"]["Arn"]
        blob = kms.encrypt(KeyId=arn, Plaintext=b"kept")["CiphertextBlob"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    # The audit log was synced and its chain is intact after SIGTERM.
    verify = subprocess.run([keyward_bin(), "audit", "verify", "--data", data], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    proc, endpoint2, key2, secret2, banner = start(data)
    try:
        # A restart prints no secret; the credentials are kept in the
        # identities file, readable by its owner only.
        assert key2 is None and secret not in banner, banner
        ids = os.path.join(data, "identities.json")
        assert os.stat(ids).st_mode & 0o777 == 0o600
        with open(ids) as f:
            first = json.load(f)["identities"][0]
        key2, secret2 = first["access_key_id"], first["secret_access_key"]
        assert (key2, secret2) == (key, secret), "a restart keeps the same credentials"
        kms = boto3.client("kms", endpoint_url=endpoint2, region_name="us-east-1",
                           aws_access_key_id=key2, aws_secret_access_key=secret2)
        assert kms.describe_key(KeyId=arn)["KeyMetadata"]["Description"] == "made on first start"
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0


def test_a_cut_audit_log_stops_the_next_start():
    """Records removed from the end of the log (here: the last CreateKey and
    the Encrypt after it) are caught by the anchor the store keeps: keyward
    refuses to start, and `keyward audit verify` says what happened."""
    data = os.path.join(tempfile.mkdtemp(prefix="keyward-cut-"), "data")
    proc, endpoint, key, secret, _ = start(data)
    try:
        kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id=key, aws_secret_access_key=secret)
        kms.create_key(Description="first")
        arn = kms.create_key(Description="second")["KeyMetadata"]["Arn"]
        kms.encrypt(KeyId=arn, Plaintext=b"x")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    log = os.path.join(data, "audit.jsonl")
    with open(log) as f:
        lines = f.readlines()
    assert [json.loads(l)["eventName"] for l in lines] == ["CreateKey", "CreateKey", "Encrypt"]
    with open(log, "w") as f:
        f.writelines(lines[:1])
    verify = subprocess.run([keyward_bin(), "audit", "verify", "--data", data],
                            capture_output=True, text=True, timeout=30)
    assert verify.returncode == 1
    assert "records were removed from its end" in " ".join(w for w in verify.stderr.split() if w != "│"), verify.stderr
    restart = subprocess.run([keyward_bin(), "serve", "--listen", "127.0.0.1:0", "--data", data],
                             capture_output=True, text=True, timeout=30)
    assert restart.returncode != 0
    said = " ".join(w for w in restart.stderr.split() if w != "│")
    assert "it ends at record 1, but the store anchored record 3" in said, restart.stderr
