"""Operational logs as a service owner reads them: `keyward serve
--log-format json` writes one JSON object per line on standard error —
start-up, the identities, the store, the listener, refusals at the edge,
slow requests, shutdown — filtered by RUST_LOG, and never a secret, a
plaintext or a request body."""

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from conftest import IDENTITIES, keyward_bin

PLAINTEXT = b"a secret the log must never hold 7f3a9c"


def start(extra_args, rust_log):
    tmp = tempfile.mkdtemp(prefix="keyward-logs-")
    ids = os.path.join(tmp, "identities.json")
    with open(ids, "w") as f:
        json.dump({"identities": [IDENTITIES["admin"]]}, f)
    proc = subprocess.Popen(
        [keyward_bin(), "serve", "--listen", "127.0.0.1:0", "--data", os.path.join(tmp, "data"),
         "--identities", ids, "--quotas", "off", *extra_args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "RUST_LOG": rust_log},
    )
    endpoint = re.search(r"listening on (http://[0-9.:]+)", proc.stdout.readline()).group(1)
    # Drain standard error while the server runs, so it never blocks on it.
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    return proc, endpoint, lines, reader, tmp


def stop(proc, reader, tmp):
    proc.terminate()
    proc.wait(timeout=10)
    reader.join(timeout=10)
    shutil.rmtree(tmp, ignore_errors=True)


def client(endpoint, secret=None):
    ident = IDENTITIES["admin"]
    return boto3.client(
        "kms", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=ident["access_key_id"], aws_secret_access_key=secret or ident["secret_access_key"],
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


def test_json_logs_say_what_happened_and_hold_no_secret():
    # Every request is "slow" (0 ms threshold), so each one is logged.
    proc, endpoint, lines, reader, tmp = start(["--log-format", "json", "--slow-request-ms", "0"], "info")
    try:
        kms = client(endpoint)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key, Plaintext=PLAINTEXT)["CiphertextBlob"]
        kms.decrypt(CiphertextBlob=blob)
        with pytest.raises(ClientError):
            client(endpoint, secret="wrong-secret-value").list_keys()
    finally:
        stop(proc, reader, tmp)
    records = [json.loads(line) for line in lines]  # every line is JSON
    messages = [r["message"] for r in records]
    for expected in ["keyward serve starting", "store and audit log opened", "identities loaded",
                     "listening", "refused at the edge", "slow request", "stopped; the audit log is synced"]:
        assert expected in messages, (expected, messages)
    refused = next(r for r in records if r["message"] == "refused at the edge")
    assert refused["error"] == "InvalidSignatureException"
    # Unauthenticated: no principal is claimed on its word.
    assert refused["principal"] == "-" and refused["peer"] == "127.0.0.1"
    assert all(r["level"] in {"INFO", "WARN", "ERROR"} for r in records)
    text = "".join(lines)
    for secret in [IDENTITIES["admin"]["secret_access_key"], "wrong-secret-value",
                   PLAINTEXT.decode(), base64.b64encode(PLAINTEXT).decode(), base64.b64encode(blob).decode()]:
        assert secret not in text


def test_rust_log_filters_and_text_is_the_default():
    proc, endpoint, lines, reader, tmp = start([], "warn")
    try:
        client(endpoint).list_keys()
    finally:
        stop(proc, reader, tmp)
    assert lines == [], lines  # nothing at warn or above happened
    proc, endpoint, lines, reader, tmp = start([], "info")
    try:
        client(endpoint).list_keys()
    finally:
        stop(proc, reader, tmp)
    assert any("listening" in line and "api=" in line for line in lines), lines
    assert not any(line.lstrip().startswith("{") for line in lines)
