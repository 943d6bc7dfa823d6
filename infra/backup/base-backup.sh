#!/usr/bin/env bash
# A base backup of one Postgres cluster (docs/backups.md): pg_basebackup in plain format with the
# WAL it needs, a checksummed backup manifest, verified with pg_verifybackup; then retention.
#
#   base-backup.sh <connection string> <backup root> [<wal archive dir>]
#
#   KEFU_BACKUP_KEEP=7   base backups kept (older ones removed); with the WAL archive directory
#                        given, archived WAL older than the oldest kept backup is removed too
#                        (pg_archivecleanup), so point-in-time recovery reaches back to the
#                        oldest kept backup.
#
# Prints the new backup's directory on stdout. Run it as a user that may read the cluster over a
# replication connection (a role with REPLICATION, `replication` in pg_hba.conf). Each backup is
# `<root>/<UTC time>`; nothing else is written there.
set -euo pipefail

die() { printf 'base-backup.sh: %s\n' "$*" >&2; exit 1; }
log() { printf 'base-backup.sh: %s\n' "$*" >&2; }

(($# >= 2)) || die "usage: base-backup.sh <connection string> <backup root> [<wal archive dir>]"
conn=$1
root=$2
archive=${3:-}
keep=${KEFU_BACKUP_KEEP:-7}
[[ $keep =~ ^[1-9][0-9]*$ ]] || die "KEFU_BACKUP_KEEP must be a positive number"
bin=${PG_BINDIR:-$(pg_config --bindir 2>/dev/null || true)}
[[ -n $bin && -x $bin/pg_basebackup ]] || bin=$(dirname "$(command -v pg_basebackup)")
mkdir -p -- "$root"

name=$(date -u +%Y%m%dT%H%M%SZ)
dest=$root/$name
[[ ! -e $dest ]] || die "$dest exists already"
partial=$root/.$name.partial
log "base backup into $dest"
"$bin/pg_basebackup" -d "$conn" -D "$partial" --format=plain --wal-method=stream --checkpoint=fast \
    --manifest-checksums=SHA256 --label="kefu $name" --no-password
"$bin/pg_verifybackup" --quiet "$partial" || die "pg_verifybackup failed for $partial; it is kept for inspection"
mv -- "$partial" "$dest"
sync -- "$root"

# Retention: the newest $keep backups stay.
mapfile -t backups < <(find "$root" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*Z' -printf '%f\n' | sort)
if ((${#backups[@]} > keep)); then
    for old in "${backups[@]:0:${#backups[@]}-keep}"; do
        log "removing the old base backup $old"
        rm -rf -- "${root:?}/$old"
    done
fi
if [[ -n $archive ]]; then
    oldest=$(find "$root" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*Z' -printf '%f\n' | sort | head -n1)
    # backup_label: "START WAL LOCATION: 0/3000028 (file 000000010000000000000003)".
    segment=$(sed -n 's/^START WAL LOCATION: .*(file \([0-9A-F]\{24\}\)).*/\1/p' "$root/$oldest/backup_label")
    [[ -n $segment ]] || die "no start segment in $root/$oldest/backup_label"
    log "removing archived WAL before $segment (the oldest kept backup's start)"
    "$bin/pg_archivecleanup" "$archive" "$segment"
fi
printf '%s\n' "$dest"
