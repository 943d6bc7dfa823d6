#!/usr/bin/env bash
# `make test-images`: builds the images (infra/images/build.sh), checks they are reproducible (a
# second build without podman's cache gives the same image ids) and within their size budgets,
# then runs the smoke test tests/tests/images.rs against this machine's Postgres and Redis.
# Slower than CI's budget allows next to `make test` (the release build alone takes minutes), so
# it is its own target; docs/self-hosting.md records a run.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/local/toolchain.sh
source infra/images/podman.sh

step() { printf '\n==> %s\n' "$*" >&2; }

ensure_podman   # and CONTAINERS_CONF for the smoke test's own podman calls

step "services"
eval "$(infra/local/services.sh env)"
export DATABASE_URL REDIS_URL

# One time for the build and the rebuild, even if a commit lands meanwhile.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}

step "build the images"
mapfile -t images < <(bash infra/images/build.sh)
api_image=${images[0]}
edge_image=${images[1]}

step "reproducible: the same inputs rebuilt without cache give the same image ids"
epoch=$SOURCE_DATE_EPOCH
stage=${CARGO_TARGET_DIR:-$PWD/target}/images
for pair in "kefu-api:api:$api_image" "kefu-edge:edge:$edge_image"; do
    IFS=: read -r name dir image tag <<<"$pair"
    first=$(podman image inspect --format '{{.Id}}' "$image:$tag")
    again=$(podman build --quiet --no-cache --timestamp "$epoch" --build-arg BASE_IMAGE=localhost/kefu-base:bookworm \
        -f "infra/images/$name.Containerfile" "$stage/$dir")
    if [[ $first != "$again"* && $again != "$first"* ]]; then
        echo "images: $name is not reproducible: $first then $again" >&2
        exit 1
    fi
    # The same id is the same image (removing it would untag the one built above).
    echo "images: $name reproducible ($first)" >&2
done

step "size budgets"
# Budgets (docs/self-hosting.md): the base is 23 MB of each; the rest is the binary and assets.
check_size() {
    local image=$1 budget_mb=$2 bytes
    bytes=$(podman image inspect --format '{{.Size}}' "$image")
    awk -v b="$bytes" -v i="$image" -v m="$budget_mb" 'BEGIN { printf "images: %s is %.1f MB (budget %d MB)\n", i, b / 1e6, m }' >&2
    if ((bytes > budget_mb * 1000000)); then
        echo "images: $image is over its budget" >&2
        exit 1
    fi
}
check_size "$api_image" 100
check_size "$edge_image" 40

step "smoke test: the images against Postgres and Redis"
export KEFU_TEST_API_IMAGE=$api_image KEFU_TEST_EDGE_IMAGE=$edge_image
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked -p kefu-tests --test images --run-ignored only --no-capture
else
    cargo test --locked -p kefu-tests --test images -- --ignored --nocapture
fi
