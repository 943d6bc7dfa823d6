#!/usr/bin/env bash
# Builds the base image `localhost/kefu-base:bookworm` offline from Debian 12 packages:
# mmdebstrap extracts libc6, libgcc-s1, ca-certificates, tzdata, netbase and base-files (no
# shell, no package manager, no maintainer scripts); the CA bundle, /etc/passwd and /etc/group
# with `nonroot` (65532) are made here, and kefu-base.Containerfile puts it all together FROM
# scratch.
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
# The extract variant runs no hooks (nor maintainer scripts): what the packages do not provide is
# made below and added by kefu-base.Containerfile.
SOURCE_DATE_EPOCH=$epoch mmdebstrap --quiet --variant=extract --mode=root \
    --include=libc6,libgcc-s1,ca-certificates,tzdata,netbase,base-files \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    bookworm "$work/rootfs.tar" "$mirror" >&2

# What update-ca-certificates and the passwd package would have made, as distroless has them.
mkdir -p "$work/add/etc/ssl/certs" "$work/add/home/nonroot" "$work/add/var/lib/kefu" "$work/add/etc/kefu"
tar -xOf "$work/rootfs.tar" --wildcards './usr/share/ca-certificates/mozilla/*.crt' > "$work/add/etc/ssl/certs/ca-certificates.crt"
if ! grep -q "BEGIN CERTIFICATE" "$work/add/etc/ssl/certs/ca-certificates.crt"; then
    echo "images: no CA certificates in the ca-certificates package?" >&2
    exit 1
fi
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$work/add/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$work/add/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$work/add/etc/nsswitch.conf"
find "$work/add" -exec touch -h -d "@$epoch" {} +

cp infra/images/kefu-base.Containerfile "$work/Containerfile"
echo "images: podman build localhost/kefu-base:bookworm" >&2
podman build --quiet --no-cache --timestamp "$epoch" -f "$work/Containerfile" -t localhost/kefu-base:bookworm "$work" >&2
