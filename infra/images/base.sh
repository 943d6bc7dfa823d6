#!/usr/bin/env bash
# Builds the base image `localhost/kefu-base:bookworm` offline from Debian 12 packages:
# mmdebstrap extracts libc6, libgcc-s1, ca-certificates, tzdata, netbase and base-files (no
# shell, no package manager, no maintainer scripts), adds the CA bundle, /etc/passwd and
# /etc/group with `nonroot` (65532) and a writable /tmp, and podman imports it FROM scratch.
# With SOURCE_DATE_EPOCH and the same package versions (pin the mirror to a
# snapshot.debian.org date for that: KEFU_DEBIAN_MIRROR) the result is byte-for-byte the same.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/images/podman.sh
ensure_podman

mirror=${KEFU_DEBIAN_MIRROR:-http://deb.debian.org/debian}
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
work=${CARGO_TARGET_DIR:-$PWD/target}/images/base
rm -rf "$work"
mkdir -p "$work"

echo "images: mmdebstrap (bookworm from $mirror)" >&2
# shellcheck disable=SC2016 # the hooks are run by mmdebstrap with the root as $1
SOURCE_DATE_EPOCH=$epoch mmdebstrap --quiet --variant=extract --mode=root \
    --include=libc6,libgcc-s1,ca-certificates,tzdata,netbase,base-files \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --customize-hook='cat "$1"/usr/share/ca-certificates/mozilla/*.crt > "$1/etc/ssl/certs/ca-certificates.crt"' \
    --customize-hook='printf "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" > "$1/etc/passwd"' \
    --customize-hook='printf "root:x:0:\nnonroot:x:65532:\n" > "$1/etc/group"' \
    --customize-hook='printf "passwd: files\ngroup: files\nhosts: files dns\n" > "$1/etc/nsswitch.conf"' \
    --customize-hook='mkdir -p "$1/home/nonroot" "$1/var/lib/kefu" "$1/etc/kefu" && chown 65532:65532 "$1/home/nonroot" "$1/var/lib/kefu" && chmod 1777 "$1/tmp"' \
    --customize-hook='rm -rf "$1/etc/apt" "$1/var/lib/apt" "$1/var/cache/apt" "$1/etc/dpkg" "$1/var/lib/dpkg" "$1/dev"/*' \
    bookworm "$work/rootfs.tar" "$mirror" >&2

cp infra/images/kefu-base.Containerfile "$work/Containerfile"
echo "images: podman build localhost/kefu-base:bookworm" >&2
podman build --quiet --no-cache --timestamp "$epoch" -f "$work/Containerfile" -t localhost/kefu-base:bookworm "$work" >&2
