#!/usr/bin/env bash
# Kefu's archive_command (docs/backups.md): copies one WAL file into the archive directory.
#
#   archive_command = '/opt/kefu/infra/backup/archive-wal.sh %p %f /var/backups/kefu/wal/<cluster>'
#
# (the third argument may be left out when KEFU_WAL_ARCHIVE is set in the server's environment).
# Safe as PostgreSQL's documentation asks of an archive_command:
# - it never overwrites an archived file: the same name with the same bytes is success (a retry
#   after a crash between our copy and the server's bookkeeping), different bytes are a failure;
# - the file is written under a temporary name, fsynced, renamed into place and the directory
#   fsynced, so a crash leaves either no file or the whole file, never a torn one;
# - any failure exits non-zero, so the server keeps the segment and retries (pg_stat_archiver
#   counts the failures: monitor it).
set -euo pipefail

die() { printf 'archive-wal.sh: %s\n' "$*" >&2; exit 1; }

(($# >= 2)) || die "usage: archive-wal.sh %p %f [archive-dir]"
src=$1
name=$2
dir=${3:-${KEFU_WAL_ARCHIVE:-}}
[[ -n $dir ]] || die "no archive directory (third argument or KEFU_WAL_ARCHIVE)"
# Only names the server archives: segments, partial segments, backup history and timeline history.
[[ $name =~ ^[0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?$ || $name =~ ^[0-9A-F]{8}\.history$ ]] ||
    die "refusing an unexpected file name '$name'"
[[ -f $src ]] || die "no such file: $src"
[[ -d $dir ]] || die "archive directory $dir does not exist"

dest=$dir/$name
if [[ -e $dest ]]; then
    if cmp -s -- "$src" "$dest"; then
        exit 0
    fi
    die "$dest exists with different content; not overwriting it (another cluster archiving here? see docs/backups.md)"
fi

tmp=$dir/.$name.$$.tmp
trap 'rm -f -- "$tmp"' EXIT
cp -- "$src" "$tmp"
sync -- "$tmp"
# No clobbering: if another copy appeared meanwhile, ln fails instead of replacing it.
ln -- "$tmp" "$dest" || { cmp -s -- "$src" "$dest" && exit 0; die "could not link $dest"; }
rm -f -- "$tmp"
trap - EXIT
sync -- "$dest" "$dir"
