#!/usr/bin/env bash
# `make dev`: services, build (api, edge, widget), migrate, demo tenant, then the api, the native
# edge, the demo shop page on its own origin and a fake Stripe (Ctrl-C stops them all).
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/toolchain.sh

eval "$(infra/local/services.sh env)"

# A stable development signing key, kept out of git under .dev/.
mkdir -p .dev
for secret in signing-key visitor-key edge-secret visitor-secret stripe-webhook-secret; do
    if [[ ! -s .dev/$secret ]]; then
        head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > ".dev/$secret"
    fi
done
export KEFU_MODE=development
export KEFU_AUTH__SIGNING_KEYS="dev-1:$(cat .dev/signing-key)"
export KEFU_AUTH__VISITOR_KEYS="dev-visitor-1:$(cat .dev/visitor-key)"
export KEFU_LISTEN=${KEFU_LISTEN:-127.0.0.1:8080}
export KEFU_PUBLIC_URL=${KEFU_PUBLIC_URL:-http://$KEFU_LISTEN}
export KEFU_EDGE__SECRET="$(cat .dev/edge-secret)"
# Webhook endpoints may be a receiver on this machine (http://127.0.0.1:…); never in production.
export KEFU_WEBHOOKS__ALLOW_PRIVATE_TARGETS=${KEFU_WEBHOOKS__ALLOW_PRIVATE_TARGETS:-true}
export KEFU_ATTACHMENTS__LOCAL_DIR=${KEFU_ATTACHMENTS__LOCAL_DIR:-$PWD/.dev/attachments}
EDGE_LISTEN=${EDGE_LISTEN:-127.0.0.1:8787}
EDGE_URL="http://$EDGE_LISTEN"
export KEFU_HTTP__CORS_ORIGINS=${KEFU_HTTP__CORS_ORIGINS:-[\"http://127.0.0.1:5173\",\"http://localhost:5173\"]}
export REDIS_URL DATABASE_URL
# Billing against the tests' fake Stripe (docs/billing.md, "Trying it locally"): its Checkout and
# portal pages deliver signed events to the api's webhook; no Stripe account, no card.
STRIPE_LISTEN=${STRIPE_LISTEN:-127.0.0.1:8791}
export KEFU_BILLING__STRIPE_SECRET_KEY=sk_test_kefu_dev
export KEFU_BILLING__STRIPE_WEBHOOK_SECRET="whsec_$(cat .dev/stripe-webhook-secret)"
export KEFU_BILLING__STRIPE_API_BASE=http://$STRIPE_LISTEN

# Where cargo puts the binaries (CARGO_TARGET_DIR may point elsewhere, e.g. a shared target).
bin=${CARGO_TARGET_DIR:-target}/debug
echo "dev: building kefu, kefu-edge and kefu-fake-stripe" >&2
cargo build --locked -p kefu-api --bin kefu -p kefu-edge --bin kefu-edge -p kefu-tests --bin kefu-fake-stripe
# The widget needs Node ≥ 20.19: the edge toolchain's Node 22 (cached under ~/.cache/kefu).
NODE_PATH_DIR=$(eval "$(infra/local/edge-toolchain.sh node)" && dirname "$(command -v node)")
PATH=$NODE_PATH_DIR:$PATH infra/local/widget.sh --no-test
PATH=$NODE_PATH_DIR:$PATH infra/local/console.sh --no-test
# The api serves the built console at / (one origin: no CORS, the mailed links open it).
export KEFU_HTTP__CONSOLE_DIR=$PWD/console/dist
export KEFU_EDGE__PUBLIC_URL=$EDGE_URL
DEMO_LISTEN=${DEMO_LISTEN:-127.0.0.1:8788}
"$bin"/kefu migrate
login=$("$bin"/kefu seed-demo)
# The fake Stripe's prices (a real deployment sets its own: kefu plans set pro stripe_price_id=…).
"$bin"/kefu plans set starter stripe_price_id=price_starter >/dev/null
"$bin"/kefu plans set pro stripe_price_id=price_pro >/dev/null
site_key=$(grep -o 'site_[0-9a-f]*' <<<"$login" | head -1)

cat > .dev/edge.toml <<TOML
# Written by infra/local/dev.sh; see docs/edge.md.
public_url = "$EDGE_URL"
api_secret = "$KEFU_EDGE__SECRET"
visitor_secret = "$(cat .dev/visitor-secret)"
widget_dir = "$PWD/edge/widget/dist"
[[regions]]
name = "local"
api_url = "$KEFU_PUBLIC_URL"
visitor_keys = "$KEFU_AUTH__VISITOR_KEYS"
TOML

cat <<MSG

  Kefu is running (development mode)
  ----------------------------------
  Console       $KEFU_PUBLIC_URL/   (log in with the demo login below, or sign up)
  API           $KEFU_PUBLIC_URL/api/v1
  API docs      $KEFU_PUBLIC_URL/api/docs/
  Health        $KEFU_PUBLIC_URL/readyz
  Dev mailbox   $KEFU_PUBLIC_URL/dev/mailbox   (verification and invitation links)
  Metrics       $KEFU_PUBLIC_URL/metrics
  Stripe (fake) http://$STRIPE_LISTEN   (Settings → Billing: Checkout and portal in test mode, no card)
  Edge          $EDGE_URL   (widget loader $EDGE_URL/w/$site_key.js)
  Demo shop     http://$DEMO_LISTEN/   (a tenant's page with the widget: chat as a visitor)
  Postgres      $DATABASE_URL
  Redis         $REDIS_URL

  $login

  Ctrl-C stops it.

MSG
"$bin"/kefu serve &
api_pid=$!
"$bin"/kefu-edge --config .dev/edge.toml --listen "$EDGE_LISTEN" &
edge_pid=$!
"$NODE_PATH_DIR/node" edge/widget/scripts/demo-server.mjs --host "${DEMO_LISTEN%:*}" --port "${DEMO_LISTEN##*:}" \
    --edge "$EDGE_URL" --site-key "$site_key" &
demo_pid=$!
"$bin"/kefu-fake-stripe --listen "$STRIPE_LISTEN" --webhook "$KEFU_PUBLIC_URL/api/v1/stripe/webhook" &
stripe_pid=$!
trap 'kill "$api_pid" "$edge_pid" "$demo_pid" "$stripe_pid" 2>/dev/null; wait' INT TERM EXIT
# Stop everything as soon as any process ends.
wait -n "$api_pid" "$edge_pid" "$demo_pid" "$stripe_pid"
