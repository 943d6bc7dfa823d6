#!/usr/bin/env bash
# Deploys one region's release in the order docs/kubernetes.md ("Deploying a release") gives:
# the namespace and configuration, then `kefu migrate` to completion, then everything else.
#
#   infra/k8s/deploy.sh infra/k8s/overlays/eu-central [kubectl arguments, e.g. --context eu-central]
#
# Needs kubectl with kustomize (any kubectl of the last years) and the two Secrets in place.
set -euo pipefail

overlay=${1:?usage: infra/k8s/deploy.sh OVERLAY_DIR [kubectl arguments…]}
shift
kc=(kubectl "$@")
say() { printf '==> %s\n' "$*" >&2; }

rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
kubectl kustomize "$overlay" >"$rendered"
# The Namespace's metadata.name: kustomize writes `metadata:` keys sorted, labels before name.
namespace=$(awk '/^kind: Namespace$/ { found = 1 } found && /^  name: / { print $2; exit }' "$rendered")
[[ -n $namespace ]] || { echo "deploy: no Namespace in $overlay" >&2; exit 1; }
ns=("${kc[@]}" -n "$namespace")

say "namespace $namespace and configuration"
"${kc[@]}" apply -f "$rendered" -l 'app.kubernetes.io/component in (namespace,config)'
for secret in kefu-api kefu-edge; do
    "${ns[@]}" get secret "$secret" >/dev/null \
        || { echo "deploy: create the Secret $secret in $namespace first (docs/kubernetes.md, \"Secrets\")" >&2; exit 1; }
done

say "migration: the previous Job out, the new one in"
"${ns[@]}" delete job kefu-migrate --ignore-not-found --wait=true
"${kc[@]}" apply -f "$rendered" -l app.kubernetes.io/component=migrate
# Until the Job completes or fails (its activeDeadlineSeconds bounds the wait).
while true; do
    state=$("${ns[@]}" get job kefu-migrate -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type} {end}')
    case " $state " in
        *" Complete "*) break ;;
        *" Failed "*)
            "${ns[@]}" logs job/kefu-migrate --tail=50 >&2 || true
            echo "deploy: kefu migrate failed; the running release is untouched. Fix, then run this again." >&2
            exit 1
            ;;
    esac
    sleep 5
done
"${ns[@]}" logs job/kefu-migrate --tail=5 >&2 || true

say "rollout"
"${kc[@]}" apply -f "$rendered"
"${ns[@]}" rollout status deployment/kefu-api --timeout=20m
"${ns[@]}" rollout status deployment/kefu-edge --timeout=10m
say "done: $namespace"
