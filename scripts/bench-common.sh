# What scripts/bench-server and scripts/bench-cluster share: wrk and a
# Python venv with boto3 and moto (installed when missing), a release
# build, a work directory removed on exit with every process started, the
# bench identity, and helpers to start keyward and run wrk.
# Sourced with `seconds` set; the caller is at the repository's root.

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
  else
    echo "wrk is missing: install Debian's wrk package (as root)" >&2
    exit 1
  fi
fi
venv=.bench-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check boto3 "moto[server]"
cargo build --quiet --release --locked --bin keyward

work="$(mktemp -d)"
pids=()
# Commands run on exit after the processes are stopped (a PostgreSQL
# cluster's removal).
exit_hooks=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for h in "${exit_hooks[@]}"; do eval "$h" || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/identities.json" <<'JSON'
{"identities": [{"access_key_id": "AKIABENCH00000000001",
  "secret_access_key": "bench-secret-key-not-for-production",
  "principal": "arn:aws:iam::111122223333:user/bench",
  "iam_policies": [{"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}]}]}
JSON

# A free loopback port.
port() { "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_up() { # URL
  for _ in $(seq 100); do
    if "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null; then return 0; fi
    # Any HTTP answer (keyward answers GET / with an error) means it is up.
    if "$venv/bin/python" - "$1" <<'PY' 2>/dev/null
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    sys.exit(0)
sys.exit(1)
PY
    then return 0; fi
    sleep 0.1
  done
  echo "server at $1 did not start" >&2
  exit 1
}

# wrk's summary as: requests/s p50 p99 (latencies in ms); with
# `--raw`, the three numbers alone.
run_wrk() { # ENDPOINT LUA [THREADS CONNECTIONS [--raw]]
  wrk -t"${3:-2}" -c"${4:-16}" -d"${seconds}s" --latency -s "$2" "$1" | "$venv/bin/python" -c '
import re, sys
text = sys.stdin.read()
def ms(v):
    n, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", text).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if errors:
    sys.exit(f"wrk saw {errors.group(1)} error responses:\n{text}")
if "--raw" in sys.argv:
    print(rps, p50, p99)
else:
    print(f"{rps:10.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
' "${5:-}"
}

start_keyward() { # NAME [SERVE FLAGS...]; sets kport
  local name="$1"
  shift
  kport="$(port)"
  RUST_LOG=off target/release/keyward serve --listen "127.0.0.1:$kport" --data "$work/$name" \
    --identities "$work/identities.json" --quotas off "$@" >"$work/$name.log" 2>&1 &
  kpid=$!
  pids+=("$kpid")
  wait_up "http://127.0.0.1:$kport/"
}

