#!/usr/bin/env bash
# Offline checks of the Kubernetes manifests (infra/k8s) and the monitoring files
# (infra/observability); what they check and what they do not: docs/kubernetes.md, "Validating".
# Needs the test venv (kubernetes-validate, prometheus-operator's types) and promtool from
# infra/local/test-tools.sh; kubectl (for `kubectl kustomize`) is used when it is installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ -z ${KEFU_TEST_PYTHON:-} || -z ${KEFU_TEST_PROMTOOL:-} ]]; then
    eval "$(infra/local/test-tools.sh)"
fi
KEFU_TEST_PROMTOOL=$KEFU_TEST_PROMTOOL exec "$KEFU_TEST_PYTHON" infra/local/validate_manifests.py "$@"
