"""The edge: every header that changes a request's meaning must be signed."""

import base64
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from conftest import ACCOUNT, IDENTITIES, client_for, keyward_bin, post_signed_then_added, quiet_env, signed_post


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


def metrics_text(server):
    with urllib.request.urlopen(server["metrics"], timeout=10) as r:
        return r.read().decode()


def test_unauthenticated_requests_add_no_metrics_series(server):
    before = metrics_text(server)
    for i in range(300):
        req = urllib.request.Request(
            server["endpoint"] + "/",
            data=b"{}",
            method="POST",
            headers={"X-Amz-Target": f"TrentService.Bogus{i:04d}", "Content-Type": "application/x-amz-json-1.1"},
        )
        try:
            urllib.request.urlopen(req, timeout=10)
        except urllib.error.HTTPError as e:
            assert e.code == 400
    after = metrics_text(server)
    assert "Bogus" not in after
    assert 'operation="unauthenticated",outcome="MissingAuthenticationTokenException"' in after
    # One more counter line at most, never one per request.
    assert len(after.splitlines()) <= len(before.splitlines()) + 1


def test_oversized_key_ids_are_refused_before_use(server):
    status, out = signed_post(server, "TrentService.DescribeKey", json.dumps({"KeyId": "k" * 100_000}).encode(), who="eve")
    assert status == 400 and out["__type"] == "ValidationException", out
    assert out["Message"] == (
        "1 validation error detected: Value at 'keyId' failed to satisfy constraint: "
        "Member must have length less than or equal to 2048"
    )
    assert "kkkk" not in metrics_text(server)


def start_limited(tmp, *flags, rust_log="off"):
    ids = os.path.join(tmp, "identities.json")
    with open(ids, "w") as f:
        json.dump({"identities": [IDENTITIES["admin"]]}, f)
    proc = subprocess.Popen(
        [keyward_bin(), "serve", "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "data"), "--identities", ids, *flags],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**quiet_env(), "RUST_LOG": rust_log},
    )
    line = proc.stdout.readline()
    host, port = re.search(r"listening on https?://([0-9.]+):(\d+)", line).groups()
    return proc, host, int(port)


def closed_within(sock, seconds):
    """Whether the server closes `sock` within `seconds` (whatever it sends first)."""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            if sock.recv(4096) == b"":
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True
    return False


def test_half_sent_requests_and_idle_connections_time_out(tmp_path):
    # Warnings on: the full connection limit is one.
    proc, host, port = start_limited(str(tmp_path), "--header-timeout", "1", "--max-connections", "4", rust_log="warn")
    try:
        half = socket.create_connection((host, port), timeout=5)
        half.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\n")
        started = time.monotonic()
        assert closed_within(half, 5), "a half-sent request head is dropped"
        assert time.monotonic() - started < 4
        # Four idle sockets fill the connection limit; a fifth client waits
        # until the header timeout frees a slot, then is served.
        idle = [socket.create_connection((host, port), timeout=5) for _ in range(4)]
        time.sleep(0.2)
        kms = client_for({"endpoint": f"http://{host}:{port}"}, "admin")
        started = time.monotonic()
        kms.list_keys()
        assert time.monotonic() - started < 5
        for s in idle:
            assert closed_within(s, 5), "idle connections are closed"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    assert "connections at the limit (--max-connections)" in out, out


def audit_records(server):
    with open(os.path.join(server["workdir"], "data", "audit.jsonl")) as f:
        return [json.loads(line) for line in f]


def test_refusals_at_the_edge_are_audited(server, kms):
    before = len(audit_records(server))
    bad_sig = client_for(server, "admin", secret="not-the-secret")
    try:
        bad_sig.list_keys()
    except Exception:
        pass
    signed_post(server, "TrentService.NoSuchOperation", b"{}")
    signed_post(server, "TrentService.ListKeys", b"{not json")
    signed_post(server, "TrentService.ListKeys", b"{}", who="eve",
                extra_headers={"X-Keyward-On-Behalf-Of": f"arn:aws:iam::{ACCOUNT}:role/AppServer"})
    records = audit_records(server)[before:]
    codes = [r.get("errorCode") for r in records]
    assert codes == [
        "InvalidSignatureException",
        "UnknownOperationException",
        "SerializationException",
        "AccessDeniedException",
    ], codes
    assert all(r["keyward"] == {"refusedBy": "server"} for r in records)
    assert records[0]["userIdentity"]["arn"] is None
    assert records[3]["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/eve"
    assert records[2]["eventName"] == "ListKeys" and records[1]["eventName"] is None


def test_a_large_denied_request_leaves_a_small_record(server):
    junk = "j" * 800_000
    body = json.dumps({"Description": "x", "Junk": junk, "Tags": [{"TagKey": f"k{i}", "TagValue": "v"} for i in range(2000)]}).encode()
    status, out = signed_post(server, "TrentService.CreateKey", body, who="eve")
    assert status == 400 and out["__type"] == "AccessDeniedException", out
    with open(os.path.join(server["workdir"], "data", "audit.jsonl"), "rb") as f:
        last = f.read().splitlines()[-1]
    assert len(last) < 16_000, len(last)
    assert json.loads(last)["errorCode"] == "AccessDeniedException"


def test_a_response_names_its_audit_record(server, kms):
    """x-amzn-RequestId is the requestID of the call's audit record, as on
    AWS (where it is CloudTrail's): for an allowed call, a denied one and a
    request refused at the edge."""
    import botocore.exceptions

    allowed = kms.create_key(Description="request ids")
    allowed_id = allowed["ResponseMetadata"]["RequestId"]
    eve = client_for(server, "eve")
    try:
        eve.describe_key(KeyId=allowed["KeyMetadata"]["Arn"])
        raise AssertionError("eve may not describe the key")
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDeniedException", e.response
        denied_id = e.response["ResponseMetadata"]["RequestId"]
    bad_sig = client_for(server, "admin", secret="not-the-secret")
    try:
        bad_sig.list_keys()
        raise AssertionError("a bad signature must be refused")
    except botocore.exceptions.ClientError as e:
        refused_id = e.response["ResponseMetadata"]["RequestId"]
    by_id = {r.get("requestID"): r for r in audit_records(server)}
    assert len({allowed_id, denied_id, refused_id}) == 3
    assert by_id[allowed_id]["eventName"] == "CreateKey"
    assert "errorCode" not in by_id[allowed_id]
    assert by_id[denied_id]["eventName"] == "DescribeKey"
    assert by_id[denied_id]["errorCode"] == "AccessDeniedException"
    assert by_id[denied_id]["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/eve"
    assert by_id[refused_id]["errorCode"] == "InvalidSignatureException"
    assert by_id[refused_id]["keyward"] == {"refusedBy": "server"}
