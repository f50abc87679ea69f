# Sourced by the benchmarks that score answers of a real `pai serve` for two
# users and compare builds side by side (bench/grounded.sh,
# bench/summaries.sh), after setting `root`. Reads the script's arguments:
# each `--pai BIN` (this build, built if missing, when none) goes to `bins`,
# the rest to `args`. `each_build NAME` then runs, for each build in turn, a
# throwaway server (scripts/test-server.sh) with the users "en"
# (Europe/London) and "ko" (Asia/Seoul) and calls `bench_one URL KEYS OUT
# LABEL`, which the script defines: KEYS is {"en": KEY, "ko": KEY}, OUT is
# target/NAME/run-N.json, and `results` lists every OUT.
bins=()
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pai) bins+=("$2"); shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ ${#bins[@]} = 0 ]; then
  bins=("$root/target/release/pai")
  [ -x "${bins[0]}" ] || cargo build --release -p pai --manifest-path "$root/Cargo.toml"
fi

each_build() {
  local bench=$1 n=0 out="$root/target/$1"
  mkdir -p "$out"
  results=()
  for pai in "${bins[@]}"; do
    n=$((n + 1))
    (
      name=$bench
      . "$root/scripts/test-server.sh"
      for lang in en ko; do
        tz=$([ "$lang" = ko ] && echo Asia/Seoul || echo Europe/London)
        echo "correct-horse-battery" | "$pai" --data-dir "$data" user add "$lang" --password-stdin --timezone "$tz" >/dev/null
      done
      keys="{\"en\": \"$("$pai" --data-dir "$data" key create --user en --name bench 2>/dev/null)\", \
\"ko\": \"$("$pai" --data-dir "$data" key create --user ko --name bench 2>/dev/null)\"}"
      start_server
      url="http://127.0.0.1:$port"
      echo "$bench: $pai at $url"
      bench_one "$url" "$keys" "$out/run-$n.json" "$n:$pai"
    )
    results+=("$out/run-$n.json")
  done
}
