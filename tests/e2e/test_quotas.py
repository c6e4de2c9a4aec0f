"""Request quotas as an application meets them: a `keyward serve` with a low
configured quota, driven by boto3 in its standard retry mode (which retries
AWS's ThrottlingException with backoff), while a second account works at the
same time untouched; the metrics an on-call engineer reads show both."""

import json
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, IDENTITIES, OTHER_ACCOUNT, keyward_bin, quiet_env

RATE = 4  # DescribeKey requests per second, per account


@pytest.fixture(scope="module")
def limited():
    tmp = tempfile.mkdtemp(prefix="keyward-quotas-")
    ids = os.path.join(tmp, "identities.json")
    with open(ids, "w") as f:
        json.dump({"identities": [IDENTITIES["admin"], IDENTITIES["b_admin"]]}, f)
    quotas = os.path.join(tmp, "quotas.toml")
    with open(quotas, "w") as f:
        f.write(f"[rates]\nDescribeKey = {RATE}\n")
    proc = subprocess.Popen(
        [keyward_bin(), "serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
         "--data", os.path.join(tmp, "data"), "--identities", ids, "--quotas", quotas],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=quiet_env(),
    )
    line = proc.stdout.readline()
    endpoint = re.search(r"listening on (http://[0-9.:]+)", line).group(1)
    metrics = re.search(r"metrics on (http://[0-9.:]+/metrics)", line).group(1)
    yield endpoint, metrics
    proc.terminate()
    proc.wait(timeout=10)


def client(endpoint, who, retries):
    ident = IDENTITIES[who]
    return boto3.client(
        "kms", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=ident["access_key_id"], aws_secret_access_key=ident["secret_access_key"],
        config=botocore.config.Config(retries=retries, connect_timeout=5, read_timeout=10),
    )


def test_a_burst_over_quota_is_throttled_with_aws_error(limited):
    endpoint, _ = limited
    kms = client(endpoint, "admin", {"mode": "standard", "max_attempts": 1})  # no retries
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    def one(_):
        try:
            kms.describe_key(KeyId=key)
            return None
        except ClientError as e:
            return e.response

    # Three seconds' worth at once (concurrently, so a slow machine cannot
    # spread them out).
    with ThreadPoolExecutor(RATE * 3) as pool:
        errors = [r for r in pool.map(one, range(RATE * 3)) if r]
    assert errors, "a burst of three seconds' worth was never throttled"
    first = errors[0]
    assert first["Error"]["Code"] == "ThrottlingException"
    assert first["Error"]["Message"] == (
        "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
    )
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_standard_retries_succeed_and_another_account_is_not_slowed(limited):
    endpoint, metrics = limited
    a = client(endpoint, "admin", {"mode": "standard", "max_attempts": 10})
    b = client(endpoint, "b_admin", {"mode": "standard", "max_attempts": 1})  # no retries
    key_a = a.create_key()["KeyMetadata"]["KeyId"]
    key_b = b.create_key()["KeyMetadata"]["KeyId"]
    throttled_retries = []
    a.meta.events.register(
        "needs-retry.kms.DescribeKey",
        lambda response=None, **_: throttled_retries.append(
            response and response[1].get("Error", {}).get("Code")
        ),
    )
    b_results = []

    def other_account():
        # Within B's own quota: one call every 0.3 s never exceeds 4/s.
        for _ in range(8):
            b_results.append(b.describe_key(KeyId=key_b)["KeyMetadata"]["KeyId"])
            time.sleep(0.3)

    t = threading.Thread(target=other_account)
    t.start()
    # A asks for three times its quota at once; standard retries carry it.
    with ThreadPoolExecutor(RATE * 3) as pool:
        results = list(pool.map(lambda _: a.describe_key(KeyId=key_a)["KeyMetadata"]["KeyId"], range(RATE * 3)))
    assert results == [key_a] * (RATE * 3)
    t.join(timeout=30)
    assert "ThrottlingException" in throttled_retries, throttled_retries
    assert b_results == [key_b] * 8  # no retries configured: never throttled

    text = urllib.request.urlopen(metrics, timeout=5).read().decode()
    throttled_a = re.search(
        rf'keyward_quota_throttled_total{{account="{ACCOUNT}",region="us-east-1",family="DescribeKey"}} (\d+)', text
    )
    utilisation_b = re.search(
        rf'keyward_quota_utilisation{{account="{OTHER_ACCOUNT}",region="us-east-1",family="DescribeKey"}} ([0-9.]+)', text
    )
    throttled_b = re.search(
        rf'keyward_quota_throttled_total{{account="{OTHER_ACCOUNT}",region="us-east-1",family="DescribeKey"}} (\d+)', text
    )
    assert throttled_a and int(throttled_a.group(1)) > 0, text
    assert utilisation_b and 0.0 <= float(utilisation_b.group(1)) <= 1.0, text
    assert throttled_b and int(throttled_b.group(1)) == 0, text
    assert f'keyward_quota_rate{{family="DescribeKey"}} {RATE}' in text
    assert 'keyward_quota_utilisation{account="' in text
    assert 'outcome="ThrottlingException"' in text
