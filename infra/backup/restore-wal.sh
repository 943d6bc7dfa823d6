#!/usr/bin/env bash
# Kefu's restore_command (docs/backups.md): copies one archived WAL file back for recovery.
#
#   restore_command = '/opt/kefu/infra/backup/restore-wal.sh %f %p /var/backups/kefu/wal/<cluster>'
#
# A file the archive does not have exits 1 quietly: that is how recovery learns it reached the
# end of the archive (or probes for a timeline history that never existed). Anything else that
# goes wrong (no archive directory, a copy that fails) exits 126, which PostgreSQL treats like a
# shell error and aborts recovery, instead of taking it for the end of the archive and stopping
# early at the wrong point.
set -uo pipefail

fatal() { printf 'restore-wal.sh: %s\n' "$*" >&2; exit 126; }

(($# >= 2)) || fatal "usage: restore-wal.sh %f %p [archive-dir]"
name=$1
dest=$2
dir=${3:-${KEFU_WAL_ARCHIVE:-}}
[[ -n $dir && -d $dir ]] || fatal "archive directory '${dir}' does not exist"
[[ -f $dir/$name ]] || exit 1
cp -- "$dir/$name" "$dest" || fatal "copying $dir/$name to $dest failed"
