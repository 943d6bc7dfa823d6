#!/usr/bin/env bash
# `make dev`: services, build, migrate, demo tenant, then the api in the foreground.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/toolchain.sh

eval "$(infra/local/services.sh env)"

# A stable development signing key, kept out of git under .dev/.
mkdir -p .dev
if [[ ! -s .dev/signing-key ]]; then
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > .dev/signing-key
fi
export KEFU_MODE=development
export KEFU_AUTH__SIGNING_KEYS="dev-1:$(cat .dev/signing-key)"
export KEFU_LISTEN=${KEFU_LISTEN:-127.0.0.1:8080}
export KEFU_PUBLIC_URL=${KEFU_PUBLIC_URL:-http://$KEFU_LISTEN}
export KEFU_HTTP__CORS_ORIGINS=${KEFU_HTTP__CORS_ORIGINS:-[\"http://127.0.0.1:5173\",\"http://localhost:5173\"]}
export REDIS_URL DATABASE_URL

echo "dev: building kefu" >&2
cargo build --locked -p kefu-api --bin kefu
./target/debug/kefu migrate
login=$(./target/debug/kefu seed-demo)

cat <<MSG

  Kefu is running (development mode)
  ----------------------------------
  API           $KEFU_PUBLIC_URL/api/v1
  API docs      $KEFU_PUBLIC_URL/api/docs/
  Health        $KEFU_PUBLIC_URL/readyz
  Dev mailbox   $KEFU_PUBLIC_URL/dev/mailbox   (verification and invitation links)
  Metrics       $KEFU_PUBLIC_URL/metrics
  Postgres      $DATABASE_URL
  Redis         $REDIS_URL

  $login

  Ctrl-C stops it.

MSG
exec ./target/debug/kefu serve
