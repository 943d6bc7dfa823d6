#!/usr/bin/env bash
# Builds the agent console (console → console/dist), checks its weight budget (scripts/size.mjs)
# and runs its unit tests (vitest).
# `npm run build` first generates the REST types from docs/openapi.json and type-checks against
# them and the protocol's generated types, so an api change the console does not follow fails here.
# Needs Node ≥ 20.19 on PATH (make dev and make test run it with the edge toolchain's Node 22).
# `npm install`, not `npm ci`: see widget.sh (the mirror lacks non-Linux builds the lock would list).
set -euo pipefail
cd "$(dirname "$0")/../../console"
echo "console: npm install" >&2
npm install --no-audit --no-fund --loglevel=error >&2
echo "console: typecheck and build" >&2
npm run --silent build >&2
echo "console: weight budget" >&2
npm run --silent size >&2
if [[ ${1:-} != --no-test ]]; then
    echo "console: unit tests" >&2
    npm test --silent >&2
fi
