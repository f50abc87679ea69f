#!/usr/bin/env bash
# The web app in Debian's headless Chromium, driven by Playwright
# (playwright-core, pinned in package-lock.json), against a real `pai serve`
# on the default models. Screenshots of every page land in
# target/web-screenshots/. Called by `make test`. The binary embeds the web
# app when built: the checks stop at once if it embeds other files than
# crates/pai-server/web/ holds; PAI_WEB_FROM_DISK=1 serves those files to the
# browser instead, to try web-app changes without rebuilding. The browser's
# microphone is Chromium's fake one, playing crates/pai-voice/tests/fixtures/speech-en.wav.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pai="$root/target/release/pai"
shots="$root/target/web-screenshots"

[ -x "$pai" ] || cargo build --release -p pai --manifest-path "$root/Cargo.toml"
[ -x /usr/bin/chromium ] || { echo "web: /usr/bin/chromium is missing: run scripts/install-deps.sh" >&2; exit 1; }
(cd "$here" && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --silent; })

name=web
. "$root/scripts/test-server.sh"
url="http://localhost:$port"

echo "minji-password-1" | "$pai" --data-dir "$data" user add minji --password-stdin --timezone Asia/Seoul >/dev/null
echo "tom-password-123" | "$pai" --data-dir "$data" user add tom --password-stdin --timezone UTC >/dev/null
start_server

rm -rf "$shots" && mkdir -p "$shots"
PAI_URL=$url SHOTS=$shots node "$here/test.mjs" || fail "the browser checks"
echo "web: all passed (screenshots in target/web-screenshots)"
