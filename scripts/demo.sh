#!/usr/bin/env bash
# Installs what is missing, builds, and starts a fleetdesk server on its embedded SQLite database
# with this machine's agent enrolled, then prints where to go and how to log in.
# Idempotent: a second run restarts the demo with the same data and login.
#   FLEETDESK_DEMO_DIR   where the demo keeps its data (default: .demo in the checkout)
#   API_PORT, AGENT_PORT the server's ports (default: 8443, 8441)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
demo=${FLEETDESK_DEMO_DIR:-$root/.demo}
api_port=${API_PORT:-8443}
agent_port=${AGENT_PORT:-8441}

scripts/setup.sh
scripts/build.sh
server_bin=$root/build/server/fleetdesk-server
agent_bin=$root/build/agent/fleetdesk-agent

mkdir -p "$demo"
chmod 700 "$demo"

# Stop what a previous run started.
for name in agent server; do
  if [ -f "$demo/$name.pid" ]; then
    pid=$(cat "$demo/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$demo/$name.pid"
  fi
done

cat > "$demo/server.toml" <<TOML
data_dir = "$demo/data"
[api]
listen = "0.0.0.0:$api_port"
[agents]
listen = "0.0.0.0:$agent_port"
heartbeat_interval = "10s"
TOML
cat > "$demo/agent.toml" <<TOML
state_dir = "$demo/agent"
splay = "0s"
TOML
server=("$server_bin" --config "$demo/server.toml")

if [ ! -f "$demo/admin-password" ]; then
  "${server[@]}" init > "$demo/init.out"
  sed -n 's/^admin password: //p' "$demo/init.out" > "$demo/admin-password"
  chmod 600 "$demo/admin-password"
  rm -f "$demo/init.out"
fi

nohup "${server[@]}" serve > "$demo/server.log" 2>&1 &
echo $! > "$demo/server.pid"
for _ in $(seq 1 100); do
  curl -sf --cacert "$demo/data/ca.crt" "https://localhost:$api_port/healthz" >/dev/null && break
  sleep 0.1
done
curl -sf --cacert "$demo/data/ca.crt" "https://localhost:$api_port/healthz" >/dev/null || {
  echo "demo: the server did not start; see $demo/server.log" >&2
  tail -20 "$demo/server.log" >&2
  exit 1
}

# The gateway URL is saved at enrollment: after AGENT_PORT changed, enroll again (the same
# machine keeps its host and history under a new agent id).
if [ ! -f "$demo/agent/enrollment.json" ] ||
  ! grep -q ":$agent_port/agent/v1/channel" "$demo/agent/enrollment.json"; then
  token=$("${server[@]}" enroll-token create --ttl 1h --max-hosts 1)
  "$agent_bin" --config "$demo/agent.toml" enroll --server "https://localhost:$api_port" \
    --token "$token" --ca-fingerprint "$("${server[@]}" ca-fingerprint)"
fi
nohup "$agent_bin" --config "$demo/agent.toml" run > "$demo/agent.log" 2>&1 &
echo $! > "$demo/agent.pid"

if [ ! -f "$demo/api-token" ]; then
  "${server[@]}" api-token create --user admin --ttl 30d > "$demo/api-token"
  chmod 600 "$demo/api-token"
fi
api_token=$(cat "$demo/api-token")

# Wait for the agent's first report to be committed.
hosts=""
for _ in $(seq 1 100); do
  hosts=$(curl -sf --cacert "$demo/data/ca.crt" -H "Authorization: Bearer $api_token" \
    "https://localhost:$api_port/api/v1/hosts" || true)
  if echo "$hosts" | jq -e '.items[]? | select(.connected == true)' >/dev/null 2>&1; then break; fi
  sleep 0.2
done
echo "$hosts" | jq -e '.items[]? | select(.connected == true)' >/dev/null 2>&1 || {
  echo "demo: the agent did not connect; see $demo/agent.log" >&2
  tail -20 "$demo/agent.log" >&2
  exit 1
}

cat <<MSG

fleetdesk is running (server pid $(cat "$demo/server.pid"), agent pid $(cat "$demo/agent.pid")).

  Dashboard:  https://localhost:$api_port/
  Login:      admin / $(cat "$demo/admin-password")
  API token:  $api_token
  CA:         $demo/data/ca.crt ($("${server[@]}" ca-fingerprint))

  The REST API:
  curl --cacert $demo/data/ca.crt -H "Authorization: Bearer $api_token" \\
       https://localhost:$api_port/api/v1/hosts

  Hosts:
$(echo "$hosts" | jq -r '.items[] | "    \(.id)  \(.hostname)  \(.os.prettyName)  connected=\(.connected)"')

  Logs: $demo/server.log, $demo/agent.log. Stop: kill \$(cat $demo/server.pid $demo/agent.pid)
MSG
