#!/usr/bin/env bash
# A private PostgreSQL 15 with pgvector for pai's tests and benchmarks
# (groundwork for issue 8, the PostgreSQL backend). Nothing is shared with a
# system cluster: the server runs from DIR on a loopback port and a socket in DIR.
#
#   scripts/postgres.sh install      install postgresql-15 (Debian) and build pgvector
#   scripts/postgres.sh start DIR [PID]
#                                    initdb DIR if new, start it, print its postgres:// URL;
#                                    with PID, stop it when that process ends (test runs)
#   scripts/postgres.sh stop DIR     stop it
#
# pgvector is not packaged for PostgreSQL 15 in Debian 12: its Debian 13 source
# package is fetched with apt (a deb-src entry for trixie, pinned by sha256 here)
# and built against postgresql-server-dev-15 without LLVM.
set -euo pipefail
PG=/usr/lib/postgresql/15/bin
PGVECTOR_VERSION=0.8.0
PGVECTOR_SHA=867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0

as_owner() { # the server refuses to run as root: use the postgres account then
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install() {
  [ "$(id -u)" = 0 ] || { echo "postgres.sh install: run as root (apt)" >&2; exit 1; }
  local need=()
  for p in postgresql-15 postgresql-server-dev-15 dpkg-dev make gcc; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if [ -f /usr/share/postgresql/15/extension/vector.control ]; then
    return
  fi
  # A source entry for Debian 13 only while fetching: the machine's apt is left as it was.
  local src=/etc/apt/sources.list.d/pai-trixie-src.sources work
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$src"
  work=$(mktemp -d)
  apt-get update -qq
  (cd "$work" && apt-get source -qq --download-only "pgvector=$PGVECTOR_VERSION-1" >/dev/null 2>&1) || true
  rm -f "$src"
  apt-get update -qq
  echo "$PGVECTOR_SHA  $work/pgvector_$PGVECTOR_VERSION.orig.tar.gz" | sha256sum -c --quiet
  tar xzf "$work/pgvector_$PGVECTOR_VERSION.orig.tar.gz" -C "$work"
  make -s -C "$work/pgvector-$PGVECTOR_VERSION" with_llvm=no PG_CONFIG="$PG/pg_config" >/dev/null
  make -s -C "$work/pgvector-$PGVECTOR_VERSION" with_llvm=no PG_CONFIG="$PG/pg_config" install >/dev/null
  rm -rf "$work"
  echo "postgres.sh: pgvector $PGVECTOR_VERSION installed" >&2
}

start() {
  local dir=$1 owner=${2:-} port
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$PG/initdb" -D "$dir/data" -U pai --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_owner "$PG/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "-k $dir -p $port -h 127.0.0.1" start >/dev/null
  as_owner "$PG/psql" -h "$dir" -p "$port" -U pai -d postgres -qAt -c "CREATE DATABASE pai" >/dev/null 2>&1 || true
  as_owner "$PG/psql" -h "$dir" -p "$port" -U pai -d pai -qAt -c "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
  if [ -n "$owner" ]; then
    # Detached, without our stdout: whoever reads this script's output gets EOF now.
    setsid bash -c "while kill -0 $owner 2>/dev/null; do sleep 1; done; $(declare -f as_owner); as_owner $PG/pg_ctl -D '$dir/data' -m immediate stop; rm -rf '$dir'" \
      </dev/null >/dev/null 2>&1 &
  fi
  echo "postgres://pai@127.0.0.1:$port/pai"
}

stop() {
  as_owner "$PG/pg_ctl" -D "$1/data" -m fast stop >/dev/null
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?usage: postgres.sh start DIR [PID]}" "${3:-}" ;;
  stop) stop "${2:?usage: postgres.sh stop DIR}" ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
