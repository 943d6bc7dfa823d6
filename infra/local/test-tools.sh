#!/usr/bin/env bash
# Test-only tools that are real servers, installed into a rebuildable venv under target/:
# aiosmtpd (a real SMTP server) for the mail delivery test. Prints `export KEFU_TEST_PYTHON=…`.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/test-tools/py
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1; then
    echo "test-tools: installing aiosmtpd into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'aiosmtpd==1.4.6' >&2
fi
echo "export KEFU_TEST_PYTHON=$PWD/$venv/bin/python"
