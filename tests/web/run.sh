#!/usr/bin/env bash
# The web app in Debian's headless Chromium, driven by Playwright
# (playwright-core, pinned in package-lock.json), against a real `pai serve`
# on the default models. Screenshots of every page land in
# target/web-screenshots/. Called by `make test`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pai="$root/target/release/pai"
shots="$root/target/web-screenshots"

[ -x "$pai" ] || cargo build --release -p pai --manifest-path "$root/Cargo.toml"
[ -x /usr/bin/chromium ] || { echo "web: /usr/bin/chromium is missing: run scripts/install-deps.sh" >&2; exit 1; }
(cd "$here" && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --silent; })

data=$(mktemp -d)
log="$data/serve.log"
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
fail() { echo "web: FAIL $*" >&2; echo "--- server log:" >&2; tail -n 30 "$log" >&2 || true; exit 1; }

export PAI_MODELS_DIR=${PAI_MODELS_DIR:-${PAI_HOME:-$HOME/.local/share/pai}/models}
export RUST_LOG=${RUST_LOG:-warn}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://localhost:$port"

echo "minji-password-1" | "$pai" --data-dir "$data" user add minji --password-stdin --timezone Asia/Seoul >/dev/null
echo "tom-password-123" | "$pai" --data-dir "$data" user add tom --password-stdin --timezone UTC >/dev/null
"$pai" --data-dir "$data" serve --addr "127.0.0.1:$port" >"$log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
  curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || fail "pai serve exited"
  sleep 0.5
done

rm -rf "$shots" && mkdir -p "$shots"
PAI_URL=$url SHOTS=$shots node "$here/test.mjs" || fail "the browser checks"
echo "web: all passed (screenshots in target/web-screenshots)"
