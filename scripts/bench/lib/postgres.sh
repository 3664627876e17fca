# A PostgreSQL server of the benchmark's own, sourced by scripts/bench/*: initdb into a temporary
# directory, started by pg_ctl on loopback, stopped and removed on exit. Unlike the tests' server
# it keeps PostgreSQL's durable defaults (fsync, synchronous_commit, full_page_writes): an ack
# follows a durable commit on both stores. shared_buffers is sized as a fleet server's would be.
#   bench_pg_start DIR     starts it; sets BENCH_PG_URL (a postgresql:// URL to database "fleetdesk")
#   bench_pg_stop          stops it
bench_pg_start() {
  local dir=$1 bin port
  bin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -1)")
  mkdir -p "$dir"
  local as=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U fleetdesk -E UTF8 --locale=C.UTF-8 >/dev/null
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -w -t 60 -l "$dir/server.log" -o \
    "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c max_connections=200 -c shared_buffers=2GB -c max_wal_size=4GB" \
    start >/dev/null
  BENCH_PG_DIR=$dir
  BENCH_PG_BIN=$bin
  "$bin/psql" -q -h 127.0.0.1 -p "$port" -U fleetdesk -d postgres -c "CREATE DATABASE fleetdesk" >/dev/null
  BENCH_PG_URL="postgresql://fleetdesk@127.0.0.1:$port/fleetdesk"
}

bench_pg_stop() {
  [ -n "${BENCH_PG_DIR:-}" ] || return 0
  local as=()
  [ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$BENCH_PG_BIN/pg_ctl" -D "$BENCH_PG_DIR/data" -m fast -w stop >/dev/null || true
  BENCH_PG_DIR=
}
