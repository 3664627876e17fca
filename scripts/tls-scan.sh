#!/usr/bin/env bash
# Scans both of the server's TLS listeners with testssl (Debian's testssl.sh): the API (:8443)
# and the agent gateway (:8441, mutual TLS: the protocol, cipher and vulnerability probes need
# only the server's hello). Fails on any finding of MEDIUM or above, except those about the
# certificate's own trust (testssl's cert_* findings: a private CA is not in any browser's trust
# store and publishes no CRL or OCSP responder).
#   scripts/tls-scan.sh [BUILD_DIR]     default: build
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
server_bin=$PWD/$build/server/fleetdesk-server
work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$server_bin" --data-dir "$work/data" init >/dev/null
"$server_bin" --data-dir "$work/data" --api-listen 127.0.0.1:0 --agent-listen 127.0.0.1:0 \
  --log-level info serve > "$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q ready "$work/server.log" && break; sleep 0.1; done
api_port=$(sed -n 's/.*api https:\/\/[^:]*:\([0-9]*\) .*/\1/p' "$work/server.log")
agent_port=$(sed -n 's/.*agents wss:\/\/[^:]*:\([0-9]*\) .*/\1/p' "$work/server.log")
[ -n "$api_port" ] && [ -n "$agent_port" ] || { cat "$work/server.log" >&2; exit 1; }

failed=0
printf '| listener | port | findings MEDIUM or above (certificate trust aside) |\n| --- | ---: | --- |\n'
for listener in "api:$api_port" "gateway:$agent_port"; do
  name=${listener%%:*}
  port=${listener##*:}
  # testssl exits non-zero for some checks it cannot run (HTTP ones on the gateway); the JSON
  # file is what is judged.
  testssl --quiet --warnings off --color 0 --severity MEDIUM --jsonfile "$work/$name.json" \
    "localhost:$port" > "$work/$name.txt" 2>&1 || true
  if [ ! -s "$work/$name.json" ]; then
    echo "tls-scan: testssl wrote no findings for $name; its output:" >&2
    cat "$work/$name.txt" >&2
    exit 1
  fi
  findings=$(jq -r '.[] | select(.severity == "MEDIUM" or .severity == "HIGH" or .severity == "CRITICAL")
                       | select(.id | startswith("cert_") | not)
                       | "\(.severity) \(.id): \(.finding)"' "$work/$name.json")
  # The scan must have probed protocols: a run that reached nothing reports nothing.
  if ! grep -q "TLS 1.2 *offered" "$work/$name.txt"; then
    echo "tls-scan: testssl did not probe the protocols of $name; its output:" >&2
    cat "$work/$name.txt" >&2
    exit 1
  fi
  if [ -n "$findings" ]; then
    failed=1
    printf '| %s | %s | %s |\n' "$name" "$port" "$(echo "$findings" | paste -sd ';' -)"
  else
    printf '| %s | %s | none |\n' "$name" "$port"
  fi
done
exit $failed
