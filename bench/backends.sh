#!/usr/bin/env bash
# SQLite and PostgreSQL side by side, in one run (issue "PostgreSQL backend"):
#  1. the recall benchmark (crates/pai-assistant/benches/recall.rs) builds the same
#     data on both and prints recall latency and indexing rate with their ratio;
#  2. bench/serve.sh without chat on each database: seeding memories over REST,
#     memory pages and recall at 64 connections, and the database's size.
# PAI_BENCH_SCALE (recall data size, default 1.0 = 300k items for one user),
# BENCH_MEMORIES / BENCH_SECONDS as in bench/serve.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "=== recall benchmark (PAI_BENCH_SCALE=${PAI_BENCH_SCALE:-1.0})"
PAI_BENCH_BACKENDS=sqlite,postgres cargo bench -p pai-assistant --bench recall 2>/dev/null | tee "$out/recall.txt"
for db in sqlite postgres; do
  echo "=== pai serve on $db"
  BENCH_DATABASE=$db BENCH_CHAT=0 bench/serve.sh 2>&1 | tee "$out/serve-$db.txt"
done
echo "=== pai serve, side by side"
python3 - "$out/serve-sqlite.txt" "$out/serve-postgres.txt" <<'PY'
import re, sys
def figures(path):
    text = open(path).read()
    f = {}
    f["seed s"] = float(re.search(r"seeded in ([\d.]+) s", text).group(1))
    f["size MB"] = int(re.search(r"database size after seeding: (\d+) bytes", text).group(1)) / 1e6
    for name, section in [("memories", "GET /api/memories"), ("recall", "POST /api/recall")]:
        part = text.split(section, 1)[1]
        f[f"{name} rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", part).group(1))
        p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", part)
        scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
        f[f"{name} p99 ms"] = float(p99.group(1)) * scale
    return f
a, b = figures(sys.argv[1]), figures(sys.argv[2])
print(f"{'':24}{'SQLite':>12}{'PostgreSQL':>12}{'PG/SQLite':>12}")
for k in a:
    print(f"{k:24}{a[k]:>12.2f}{b[k]:>12.2f}{b[k] / a[k]:>12.2f}")
PY
