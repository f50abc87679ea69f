#!/usr/bin/env bash
# A bounded schemathesis run (issue 21) against `pai serve` on the default
# models: every operation in /openapi.json but the endless notification
# stream, generated and mutated inputs,
# NUL bytes included, with an API key; the checks are that no response is a
# 5xx and that every response matches its description in /openapi.json.
# Prints the cases run per phase and fails on either. Called by `make test`
# (SCHEMATHESIS_SECONDS, default 150, bounds it); longer runs: set it higher.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pai="$root/target/release/pai"
venv="$root/target/schemathesis-venv"
SCHEMATHESIS_VERSION=4.32.5
seconds=${SCHEMATHESIS_SECONDS:-150}

[ -x "$pai" ] || cargo build --release -p pai --manifest-path "$root/Cargo.toml"
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

name=schemathesis
. "$root/scripts/test-server.sh"
url="http://127.0.0.1:$port"
# Short answers and no rate limit: the cases go to input handling, not to
# generating 2,048 tokens or waiting out a 429.
export PAI_SERVER__LIMITS__MAX_TOKENS=16 PAI_SERVER__LIMITS__REQUESTS_PER_MINUTE=1000000
echo "correct-horse-battery" | "$pai" --data-dir "$data" user add minji --password-stdin --timezone Asia/Seoul >/dev/null
key=$("$pai" --data-dir "$data" key create --user minji --name schemathesis 2>/dev/null)
start_server

report="$data/report"
set +e
"$venv/bin/st" run "$url/openapi.json" \
  -H "Authorization: Bearer $key" \
  --checks not_a_server_error,response_schema_conformance \
  --exclude-path /api/notifications/stream \
  --phases examples,coverage,fuzzing \
  --generation-allow-x00 true \
  --max-time "$seconds" --request-timeout 120 --workers 1 --seed 21 \
  --suppress-health-check all --warnings off --no-color --generation-database none \
  --report junit --report-dir "$report" >"$data/st.log" 2>&1
status=$?
set -e
cases=$(grep -A1 '^Test cases:' "$data/st.log" | grep -oE '[0-9]+ generated' | tail -n 1 || true)
operations=$(grep -A2 '^API Operations:' "$data/st.log" | grep -oE 'Tested: [0-9]+' | tail -n 1 || true)
if [ "$status" != 0 ]; then
  cp "$data/st.log" "$root/target/schemathesis.log"
  sed -n '/ERRORS\|FAILURES/,$p' "$data/st.log" | head -n 80 >&2
  echo "schemathesis: FAIL (exit $status); the whole log: target/schemathesis.log" >&2
  exit 1
fi
echo "schemathesis: ok: ${cases:-? generated} cases over ${operations#Tested: } operations in ${seconds} s, no 5xx, every response as described"
