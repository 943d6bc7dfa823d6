#!/usr/bin/env bash
# Builds the visitor widget (edge/widget → edge/widget/dist), checks its size budgets and runs its
# unit tests (vitest; `--no-test` skips them).
# Needs Node ≥ 20.19 on PATH (make dev and make test run it with the edge toolchain's Node 22).
# `npm install`, not `npm ci`: the registry mirror has no non-Linux builds of esbuild and
# rollup, so the committed lock cannot list them and `npm ci` would call it out of sync.
set -euo pipefail
cd "$(dirname "$0")/../../edge/widget"
echo "widget: npm install" >&2
npm install --no-audit --no-fund --loglevel=error >&2
echo "widget: typecheck and build" >&2
npm run --silent build >&2
npm run --silent size >&2
if [[ ${1:-} != --no-test ]]; then
    echo "widget: unit tests" >&2
    npm test --silent >&2
fi
