#!/usr/bin/env bash
# Kill -9 under write load (issue 21), on SQLite and on PostgreSQL: a writer
# sends mixed writes (memories, reminders, conversations, document uploads,
# chat imports)
# while the server is killed with SIGKILL KILLS times and restarted; then every
# write the server acknowledged is read back, and no acknowledged import is
# left "running" after the restart. SQLite's integrity_check must say ok.
#
#   tests/crash.sh [WRITES] [KILLS]     (default 600 writes, 6 kills per backend)
#
# Needs target/release/pai (cargo build --release -p pai) and the default
# models (scripts/fetch-models.sh); PostgreSQL from scripts/postgres.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
writes=${1:-600}
kills=${2:-6}
pai=$PWD/target/release/pai
name=crash
export PAI_MODELS_DIR=${PAI_MODELS_DIR:-${PAI_HOME:-$HOME/.local/share/pai}/models}
export RUST_LOG=${RUST_LOG:-warn}
work=$(mktemp -d)
chmod 755 "$work" # PostgreSQL runs as its own account when this runs as root
server= writer= pg=
cleanup() {
  [ -n "$writer" ] && kill "$writer" 2>/dev/null || true
  [ -n "$server" ] && kill -9 "$server" 2>/dev/null || true
  [ -n "$pg" ] && scripts/postgres.sh stop "$pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"

start() { # $1: data dir
  "$pai" --data-dir "$1" serve --addr "127.0.0.1:$port" >>"$1/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 240); do
    curl -fsS "$url/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$server" 2>/dev/null || { tail -20 "$1/serve.log"; echo "$name: pai serve exited" >&2; exit 1; }
    sleep 0.5
  done
  echo "$name: pai serve was not ready after two minutes" >&2; exit 1
}

run() { # $1: backend name, $2: data dir
  local data=$2 key took
  mkdir -p "$data"
  echo "password-crash" | "$pai" --data-dir "$data" user add crash --password-stdin >/dev/null
  key=$("$pai" --data-dir "$data" key create --user crash 2>/dev/null | tail -1)
  start "$data"
  local started=$SECONDS
  python3 tests/crash/load.py write "$url" "$key" "$writes" "$data/ledger" &
  writer=$!
  local killed=0
  for _ in $(seq 1 "$kills"); do
    # A kill every 0.3-1.5 s of load, wherever the writes are.
    sleep "$(python3 -c 'import random; print(round(random.uniform(0.3, 1.5), 2))')"
    kill -0 "$writer" 2>/dev/null || break
    kill -9 "$server"; wait "$server" 2>/dev/null || true
    killed=$((killed + 1))
    start "$data"
  done
  [ "$killed" -gt 0 ] || { echo "$name: $1: the writes ended before the first kill; ask for more writes" >&2; exit 1; }
  wait "$writer"; writer=
  took=$((SECONDS - started))
  kill -9 "$server"; wait "$server" 2>/dev/null || true
  start "$data"
  echo -n "$name: $1: $killed kills during $writes writes in ${took}s: "
  python3 tests/crash/load.py verify "$url" "$key" "$data/ledger"
  kill "$server"; wait "$server" 2>/dev/null || true; server=
  if [ "$1" = sqlite ]; then
    local check
    check=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' "$data/pai.db")
    [ "$check" = ok ] || { echo "$name: sqlite integrity_check: $check" >&2; exit 1; }
    echo "$name: sqlite: integrity_check ok"
  fi
}

run sqlite "$work/sqlite"
pg="$work/pg"
export PAI_DATABASE
PAI_DATABASE=$(scripts/postgres.sh start "$pg" $$ | tail -1)
run postgres "$work/postgres"
