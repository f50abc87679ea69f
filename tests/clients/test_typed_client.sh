#!/usr/bin/env bash
# A client generated from the running server's /openapi.json: openapi-typescript
# writes its types, `tsc --strict` compiles typed/client.ts against them (a path,
# field or type the description lacks fails here), then the client runs
# against the server. Needs PAI_URL and PAI_KEY (run.sh sets them).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/typed/generated"
C=typed-client
rm -rf "$out" && mkdir -p "$out"
bin="$here/node_modules/.bin"
if ! curl -fsS "$PAI_URL/openapi.json" -o "$out/openapi.json"; then
  echo "FAIL $C: GET /openapi.json"; exit 1
fi
if ! "$bin/openapi-typescript" "$out/openapi.json" -o "$out/pai-api.d.ts" >"$out/generate.log" 2>&1; then
  echo "FAIL $C: openapi-typescript cannot read /openapi.json: $(tail -n 5 "$out/generate.log" | tr '\n' ' ')"; exit 1
fi
echo "ok   $C: openapi-typescript generated types for $(grep -c '^    "/' "$out/pai-api.d.ts") paths"
if ! "$bin/tsc" -p "$here/typed/tsconfig.json" >"$out/tsc.log" 2>&1; then
  echo "FAIL $C: the client does not compile against /openapi.json: $(head -n 20 "$out/tsc.log" | tr '\n' ' ')"; exit 1
fi
echo "ok   $C: tsc --strict compiles the client against the generated types"
node "$out/js/client.js"
