#!/usr/bin/env bash
# The memory quality set with the real default chat model on every
# conversation (CI runs a sample): expected memories found, stored, failed jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
PAI_QUALITY_ALL=1 cargo test --release -p pai-assistant --test it quality:: -- --nocapture 2>&1 \
  | grep -E "recall@5|real model|test result"
