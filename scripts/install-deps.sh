#!/usr/bin/env bash
# Installs the system packages pai needs to build and test on Debian/Ubuntu.
# As root it installs what is missing with apt; otherwise it lists them.
set -euo pipefail
pkgs=(cmake clang libclang-dev pkg-config make gcc g++ python3 python3-pip python3-venv unzip curl
      chromium fonts-noto-cjk nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# pip may come from elsewhere (pyenv, venv): only insist on the Debian one if there is none.
if python3 -m pip --version >/dev/null 2>&1; then
  missing=("${missing[@]/python3-pip}")
fi
# Same for venv (the OpenAI SDK test installs the SDK into one).
if python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing=("${missing[@]/python3-venv}")
fi
# Node may come from elsewhere too (nodesource ships npm inside its nodejs):
# the web-app test only needs `node` and `npm` on the PATH.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}")
  missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "install-deps: missing system packages: ${missing[*]}" >&2
    echo "install-deps: run: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
if ! command -v cargo >/dev/null; then
  echo "install-deps: cargo is missing: install Rust from rustup (https://rustup.rs)" >&2
  exit 1
fi
# PostgreSQL 15 with pgvector: the store suite and the CLI tests run on it too.
if [ ! -x /usr/lib/postgresql/15/bin/initdb ] || [ ! -f /usr/share/postgresql/15/extension/vector.control ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "install-deps: installing PostgreSQL 15 and building pgvector"
    "$(dirname "$0")/postgres.sh" install
  else
    echo "install-deps: PostgreSQL 15 with pgvector is missing: run sudo scripts/postgres.sh install" >&2
    exit 1
  fi
fi
