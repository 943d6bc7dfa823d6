#!/usr/bin/env bash
# Sourced by the image scripts: `ensure_podman` installs podman, buildah, runc and mmdebstrap from
# Debian's packages when missing, and points podman at infra/images/containers.conf unless the
# caller set CONTAINERS_CONF (on a normal podman host, export CONTAINERS_CONF to
# your own file to keep podman's defaults).

ensure_podman() {
    local missing=()
    command -v podman >/dev/null 2>&1 || missing+=(podman)
    command -v buildah >/dev/null 2>&1 || missing+=(buildah)
    command -v runc >/dev/null 2>&1 || missing+=(runc)
    command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
    if ((${#missing[@]})); then
        echo "images: apt-get install ${missing[*]}" >&2
        local as_root=()
        [[ $(id -u) -eq 0 ]] || as_root=(sudo)
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
            || { "${as_root[@]}" apt-get update -q >&2 \
                && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
    fi
    export CONTAINERS_CONF=${CONTAINERS_CONF:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/containers.conf}
}
