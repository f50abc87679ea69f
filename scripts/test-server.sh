# Sourced by the scripts that drive a real `pai serve` on the default models
# (tests/openai-sdk/run.sh, tests/web/run.sh, bench/conversation.sh): a
# throwaway data directory removed on exit with the server, a free port, and
# `fail` that shows the server's log.
# Before sourcing set: pai (the binary), name (for messages).
# Gives: data, log, port, server, fail MESSAGE, start_server (waits for /readyz).
data=$(mktemp -d)
log="$data/serve.log"
server=
cleanup() {
  # Wait for it to exit, so the next suite does not share the cores with it.
  if [ -n "$server" ] && kill "$server" 2>/dev/null; then wait "$server" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT
fail() { echo "$name: FAIL $*" >&2; echo "--- server log:" >&2; tail -n 30 "$log" >&2 || true; exit 1; }

export PAI_MODELS_DIR=${PAI_MODELS_DIR:-${PAI_HOME:-$HOME/.local/share/pai}/models}
export RUST_LOG=${RUST_LOG:-warn}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

start_server() {
  "$pai" --data-dir "$data" serve --addr "127.0.0.1:$port" >"$log" 2>&1 &
  server=$!
  for _ in $(seq 1 240); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$server" 2>/dev/null || fail "pai serve exited"
    sleep 0.5
  done
  fail "pai serve was not ready after two minutes"
}
