#!/usr/bin/env bash
# Point-in-time recovery of one Postgres cluster into a new data directory (docs/backups.md).
#
#   restore-pitr.sh --backup <base backup dir> --archive <WAL archive dir> --pgdata <new data dir>
#                   (--time '2026-12-10 09:30:00+00' | --name <restore point> | --lsn 0/3000060 | --latest)
#                   [--port 5433] [--no-archiving] [--pause]
#
# Copies the base backup into the new data directory (which must not exist or be empty), points
# restore_command at the archive (restore-wal.sh beside this script), sets the recovery target and
# creates recovery.signal. It does not start the server: start it (pg_ctl -D <pgdata> start, or
# through your service manager) and recovery replays the archive up to the target, then promotes
# (--pause: stops there for inspection; `select pg_wal_replay_resume()` promotes). The old data
# directory is never touched. Run as the user that runs Postgres (the files must be theirs).
#
# --no-archiving turns archive_mode off in the restored cluster (a drill, a copy for
# inspection). A cluster that takes over production keeps archiving: it continues on a new
# timeline, whose files never collide with the old ones in the archive.
set -euo pipefail

die() { printf 'restore-pitr.sh: %s\n' "$*" >&2; exit 1; }

backup='' archive='' pgdata='' target='' port='' archiving=1 action=promote
while (($#)); do
    case $1 in
        --backup) backup=$2; shift 2 ;;
        --archive) archive=$2; shift 2 ;;
        --pgdata) pgdata=$2; shift 2 ;;
        --time) target="recovery_target_time = '$2'"; shift 2 ;;
        --name) target="recovery_target_name = '$2'"; shift 2 ;;
        --lsn) target="recovery_target_lsn = '$2'"; shift 2 ;;
        --latest) target="#"; shift ;;
        --port) port=$2; shift 2 ;;
        --no-archiving) archiving=0; shift ;;
        --pause) action=pause; shift ;;
        *) die "unknown argument '$1' (see the header of $0)" ;;
    esac
done
[[ -n $backup && -n $archive && -n $pgdata && -n $target ]] ||
    die "give --backup, --archive, --pgdata and one of --time, --name, --lsn, --latest"
[[ -f $backup/backup_label && -f $backup/PG_VERSION ]] || die "$backup is not a plain-format base backup"
[[ -d $archive ]] || die "no WAL archive at $archive"
[[ $target != *"'"*"'"*"'"* ]] || die "the recovery target must not contain quotes"
if [[ -e $pgdata ]] && [[ -n $(ls -A -- "$pgdata") ]]; then
    die "$pgdata is not empty; restore into a new directory"
fi
here=$(cd "$(dirname "$0")" && pwd)
archive=$(cd "$archive" && pwd)

mkdir -p -- "$pgdata"
chmod 700 -- "$pgdata"
cp -a -- "$backup/." "$pgdata/"
rm -f -- "$pgdata/postmaster.pid" "$pgdata/postmaster.opts"
{
    echo
    echo "# Point-in-time recovery set up by restore-pitr.sh on $(date -u +%FT%TZ) from $backup"
    echo "restore_command = '$here/restore-wal.sh \"%f\" \"%p\" \"$archive\"'"
    [[ $target == "#" ]] || echo "$target"
    echo "recovery_target_action = '$action'"
    echo "recovery_target_timeline = 'latest'"
    [[ -z $port ]] || echo "port = $port"
    ((archiving)) || echo "archive_mode = off"
} >>"$pgdata/postgresql.auto.conf"
touch -- "$pgdata/recovery.signal"
sync -- "$pgdata" "$pgdata/postgresql.auto.conf"
printf 'restore-pitr.sh: %s is ready; start it (pg_ctl -D %s start) and it recovers to: %s\n' \
    "$pgdata" "$pgdata" "${target#\#}" >&2
