#!/usr/bin/env bash
# `make images`: builds the container images `kefu-api` and `kefu-edge` with podman, offline.
#
#   1. podman, buildah, runc and mmdebstrap from Debian's packages (installed when missing);
#   2. the base image `kefu-base:bookworm` (infra/images/base.sh);
#   3. the release binaries `kefu` and `kefu-edge` (cargo, on this Debian 12 host: the same glibc
#      as the base), the console and the widget (npm, with the edge toolchain's Node);
#   4. a staged context per image under target/images/, and `podman build --timestamp`, so the
#      same binaries and assets give the same image id (tested by infra/images/test.sh).
#
# Environment: KEFU_IMAGE_TAG (default `dev`), KEFU_IMAGE_REPO (default `localhost`),
# SOURCE_DATE_EPOCH (default: the last commit's time), CARGO_TARGET_DIR.
# Prints the image names on stdout, one per line.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
source infra/local/toolchain.sh
source infra/images/podman.sh

tag=${KEFU_IMAGE_TAG:-dev}
repo=${KEFU_IMAGE_REPO:-localhost}
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
target=${CARGO_TARGET_DIR:-$root/target}

ensure_podman
# Always rebuilt (seconds, and the same bytes when nothing changed): a base left from an older
# script never slips into new images.
bash infra/images/base.sh >&2

echo "images: cargo build --release (kefu, kefu-edge)" >&2
# Without SOURCE_DATE_EPOCH: C build scripts watch it, and a new value each commit would rebuild
# every crate that compiles C.
env -u SOURCE_DATE_EPOCH cargo build --locked --release -p kefu-api --bin kefu -p kefu-edge --bin kefu-edge >&2

echo "images: console and widget (npm)" >&2
(
    eval "$(infra/local/edge-toolchain.sh node)"
    infra/local/widget.sh --no-test >&2
    infra/local/console.sh --no-test >&2
)

stage=$target/images
rm -rf "$stage/api" "$stage/edge"
mkdir -p "$stage/api" "$stage/edge"
# Symbols stripped, source maps left out: the images carry what runs (a panic still names its
# file and line; keep target/release for symbolizing a backtrace).
strip --strip-all -o "$stage/api/kefu" "$target/release/kefu"
strip --strip-all -o "$stage/edge/kefu-edge" "$target/release/kefu-edge"
cp -r console/dist "$stage/api/console"
cp -r edge/widget/dist "$stage/edge/widget"
find "$stage/api/console" "$stage/edge/widget" -name '*.map' -delete
# Same bytes, same times: the layers then depend only on content.
find "$stage/api" "$stage/edge" -exec touch -h -d "@$epoch" {} +

build() {
    local name=$1 context=$2
    echo "images: podman build $repo/$name:$tag" >&2
    # --no-cache: a cached layer would bring back the time of the build that made it.
    podman build --quiet --no-cache --timestamp "$epoch" --build-arg BASE_IMAGE=localhost/kefu-base:bookworm \
        -f "infra/images/$name.Containerfile" -t "$repo/$name:$tag" "$context" >&2
    echo "$repo/$name:$tag"
}
build kefu-api "$stage/api"
build kefu-edge "$stage/edge"
