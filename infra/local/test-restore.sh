#!/usr/bin/env bash
# `make test-restore`: the point-in-time recovery drill (docs/backups.md, "The drill").
#
# A throwaway Postgres cluster of its own (initdb under target/test-restore, its own port and
# socket directory, WAL archived by infra/backup/archive-wal.sh) with `kefu migrate` and a real
# `kefu serve` on it. Through the API (tests/src/bin/kefu-restore-drill.rs): sign up a workspace,
# write `a1`; base backup (infra/backup/base-backup.sh); write `a2`; the recovery point
# (pg_create_restore_point); write `b1`, which must not survive; every WAL file archived. Then the
# disaster: the server is killed and its data directory deleted. Restore (infra/backup/
# restore-pitr.sh) into a new data directory up to the recovery point, start kefu on it, and check
# through the API that a1 and a2 are there and b1 is not. Cleans up after itself (set
# KEFU_KEEP_DRILL=1 to keep the directory) and leaves the regular local services alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS

log() { printf 'test-restore: %s\n' "$*" >&2; }
die() { printf 'test-restore: FAILED: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# Postgres 15 (Debian 12's) or the newest installed.
pg_bin=
newest_pg() { printf '%s\n' /usr/lib/postgresql/*/bin | sort -Vr; }
for candidate in /usr/lib/postgresql/15/bin $(newest_pg); do
    if [[ -x $candidate/initdb && -x $candidate/pg_basebackup ]]; then pg_bin=$candidate; break; fi
done
if [[ -z $pg_bin ]]; then
    log "no Postgres server binaries; installing them through infra/local/services.sh"
    infra/local/services.sh env >/dev/null
    pg_bin=$(newest_pg | head -n1)
    [[ -x $pg_bin/initdb ]] || die "Postgres server binaries not found under /usr/lib/postgresql"
fi
have runuser || have sudo || [[ $(id -un) == postgres ]] || die "need runuser or sudo to run Postgres as 'postgres'"
as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -- "$@"; fi
}
as_pg() {
    if [[ $(id -un) == postgres ]]; then "$@"
    elif [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"
    else sudo -u postgres -- "$@"
    fi
}

log "building kefu and kefu-restore-drill"
cargo build --locked --quiet -p kefu-api --bin kefu -p kefu-tests --bin kefu-restore-drill
target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
kefu=$target/debug/kefu
drill=$target/debug/kefu-restore-drill

# The drill's directory must be reachable by the postgres user; else a private one under /tmp.
mkdir -p "$target/test-restore"
work=$target/test-restore/run-$$
mkdir -p "$work"
if ! as_pg test -x "$work" 2>/dev/null; then
    rmdir "$work"
    work=$(mktemp -d "${TMPDIR:-/tmp}/kefu-test-restore.XXXXXX")
    chmod 755 "$work"
fi
mkdir -p "$work"/{archive,backups,bin,attachments}
cp infra/backup/*.sh "$work/bin/"
[[ $(id -un) == postgres ]] || as_root chown -R postgres:postgres "$work"

free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then printf '%s\n' "$port"; return; fi
    done
}
pg_port=$(free_port)
api_port=$(free_port)
api=http://127.0.0.1:$api_port
api_pid=
cleanup() {
    local rc=$?
    [[ -n $api_pid ]] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null
    for dir in "$work/data" "$work/restored"; do
        [[ -f $dir/postmaster.pid ]] && as_pg "$pg_bin/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null 2>&1
    done
    if ((rc != 0)); then
        log "logs: Postgres $work/postgres.log, kefu $work/kefu.log"
        tail -n 30 "$work/postgres.log" "$work/kefu.log" >&2 2>/dev/null || true
    fi
    if [[ -z ${KEFU_KEEP_DRILL:-} && rc -eq 0 ]]; then as_root rm -rf -- "$work"; fi
    exit "$rc"
}
trap cleanup EXIT INT TERM

psql_pg() { "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -X -q -tA -v ON_ERROR_STOP=1 "$@"; }
start_pg() {
    as_pg "$pg_bin/pg_ctl" -D "$1" -l "$work/postgres.log" -w -t 120 start >/dev/null ||
        die "Postgres did not start from $1"
}
kefu_env=(
    PATH="$PATH" HOME="${HOME:-/root}"
    DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/kefu"
    KEFU_MODE=development
    KEFU_AUTH__SIGNING_KEYS="e2e:an-end-to-end-signing-secret-of-enough-length"
    KEFU_AUTH__VISITOR_KEYS="e2e-visitor:an-end-to-end-visitor-key-of-enough-length"
    KEFU_ATTACHMENTS__LOCAL_DIR="$work/attachments"
    KEFU_LISTEN="127.0.0.1:$api_port" KEFU_PUBLIC_URL="$api" RUST_LOG=warn
)
wait_api() {
    "$drill" wait "$api" || die "kefu serve did not become ready (see $work/kefu.log)"
}
serve() {
    # `env` execs kefu: $! is kefu itself.
    env -i "${kefu_env[@]}" "$kefu" serve >>"$work/kefu.log" 2>&1 &
    api_pid=$!
    wait_api
}
stop_api() {
    kill "$api_pid"
    wait "$api_pid" 2>/dev/null || true
    api_pid=
    ! (exec 3<>"/dev/tcp/127.0.0.1/$api_port") 2>/dev/null || die "kefu serve did not stop"
}

log "a throwaway Postgres cluster on port $pg_port in $work"
as_pg "$pg_bin/initdb" -D "$work/data" -A trust -U postgres --locale=C.UTF-8 -E UTF8 >/dev/null
cat >>"$work/data/postgresql.conf" <<CONF
port = $pg_port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
wal_level = replica
archive_mode = on
archive_command = '$work/bin/archive-wal.sh %p %f $work/archive'
CONF
start_pg "$work/data"
psql_pg -d postgres -c "create database kefu"
env -i "${kefu_env[@]}" "$kefu" migrate >>"$work/kefu.log" 2>&1 || die "kefu migrate failed (see $work/kefu.log)"
serve

state=$work/drill.json
"$drill" seed "$api" "$state"
"$drill" write "$api" "$state" a1

t=$SECONDS
backup=$(as_pg "$work/bin/base-backup.sh" "host=127.0.0.1 port=$pg_port user=postgres" "$work/backups" "$work/archive")
backup_secs=$((SECONDS - t))
log "base backup $backup in ${backup_secs}s"

"$drill" write "$api" "$state" a2
point=$(psql_pg -d postgres -c "select pg_create_restore_point('kefu-drill')")
log "recovery point 'kefu-drill' at $point"
"$drill" write "$api" "$state" b1
# Everything written is archived, b1 included: recovery must stop at the point on its own.
segment=$(psql_pg -d postgres -c "select pg_walfile_name(pg_current_wal_lsn())")
psql_pg -d postgres -c "select pg_switch_wal()" >/dev/null
deadline=$((SECONDS + 60))
until [[ $(psql_pg -d postgres -c "select coalesce(last_archived_wal >= '$segment', false) from pg_stat_archiver") == t ]]; do
    ((SECONDS < deadline)) || die "WAL $segment was not archived within 60 s"
    sleep 0.2
done
failed=$(psql_pg -d postgres -c "select failed_count from pg_stat_archiver")
[[ $failed == 0 ]] || die "pg_stat_archiver counts $failed failed archive attempts"

log "the disaster: the server is killed and its data directory deleted"
stop_api
as_pg "$pg_bin/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null
as_pg rm -rf -- "$work/data"

t=$SECONDS
as_pg "$work/bin/restore-pitr.sh" --backup "$backup" --archive "$work/archive" --pgdata "$work/restored" \
    --name kefu-drill --no-archiving
start_pg "$work/restored"
deadline=$((SECONDS + 120))
until [[ $(psql_pg -d postgres -c "select pg_is_in_recovery()" 2>/dev/null) == f ]]; do
    ((SECONDS < deadline)) || die "recovery did not finish within 120 s"
    sleep 0.2
done
recovery_secs=$((SECONDS - t))
log "recovered to 'kefu-drill' and promoted in ${recovery_secs}s"
grep -q 'recovery stopping at restore point "kefu-drill"' "$work/postgres.log" ||
    die "the server log does not say recovery stopped at the restore point"

serve
"$drill" check "$api" "$state" --present a1,a2 --absent b1
stop_api
log "OK in $((SECONDS - started))s (Postgres $("$pg_bin/postgres" --version | awk '{print $3}'); base backup ${backup_secs}s, restore and recovery ${recovery_secs}s): a1 (before the base backup) and a2 (after it, replayed from the archive) are back, b1 (after the recovery point) is not"
