#!/usr/bin/env bash
# Kefu local services: make sure Postgres and Redis are available for dev/tests.
#
#   eval "$(infra/local/services.sh env)"   # ensure services, print export lines
#   infra/local/services.sh check           # exit 0 iff both are reachable
#   infra/local/services.sh chromium        # ensure /usr/bin/chromium (+ CJK fonts)
#
# stdout carries only machine-readable output (export lines / a path);
# all human logging goes to stderr. See infra/local/README.md.
set -euo pipefail

PROG=services.sh

PG_PORT=${KEFU_PG_PORT:-5432}
PG_DB=${KEFU_PG_DB:-kefu_dev}
PG_ROLE=kefu
PG_PASSWORD=kefu
REDIS_PORT=${KEFU_REDIS_PORT:-6379}
WORK_TMP=${TMPDIR:-/tmp}
LOCK_FILE="$WORK_TMP/kefu-services-$(id -u).lock"
APT_LOG="$WORK_TMP/kefu-services-apt-$(id -u).log"

PG_WAIT=30      # seconds to wait for Postgres to accept connections
REDIS_WAIT=15   # seconds to wait for a Redis we started
URL_WAIT=30     # seconds to wait for user-supplied DATABASE_URL / REDIS_URL

# ---------------------------------------------------------------- helpers ---

log()  { printf '%s: %s\n' "$PROG" "$*" >&2; }
warn() { printf '%s: WARNING: %s\n' "$PROG" "$*" >&2; }
die()  { printf '%s: ERROR: %s\n' "$PROG" "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

is_port() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 > 0 && $1 < 65536 )); }

# Run as root (directly, or through sudo for a non-root developer).
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif have sudo; then
        sudo "$@"
    else
        die "need root to run '$*' (not root and sudo is missing); rerun as root"
    fi
}

# Run as the postgres OS user (Postgres refuses to run as root).
as_postgres() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    elif [[ $(id -un) == postgres ]]; then
        "$@"
    elif have sudo; then
        sudo -u postgres -- "$@"
    else
        die "need root or sudo to act as the postgres user"
    fi
}

# wait_for SECONDS CMD...: poll CMD every 0.5 s until it succeeds or time runs out.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS >= deadline)) && return 1
        sleep 0.5
    done
}

# tcp_open HOST PORT: something accepts TCP connections there (bash /dev/tcp).
tcp_open() {
    # shellcheck disable=SC2016  # $1/$2 expand in the inner bash
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# url_host_port URL DEFAULT_PORT -> "host port" (best effort, for fallbacks only).
url_host_port() {
    local rest=${1#*://} hp host port
    rest=${rest%%[/?]*}
    hp=${rest##*@}
    if [[ $hp == \[* ]]; then                 # [ipv6]:port
        host=${hp%%]*}; host=${host#[}
        port=${hp##*]}; port=${port#:}
    else
        host=${hp%%:*}
        port=${hp#"$host"}; port=${port#:}
    fi
    printf '%s %s\n' "${host:-localhost}" "${port:-$2}"
}

# Serialise the slow paths (install / create / start) between concurrent runs.
# The lock lives on fd 9; every daemon-spawning command closes fd 9 (9>&-),
# otherwise postgres/redis would inherit it and hold the lock forever.
LOCKED=0
take_lock() {
    ((LOCKED)) && return 0
    if ! { exec 9>>"$LOCK_FILE"; } 2>/dev/null; then
        warn "cannot open lock file $LOCK_FILE; continuing without locking"
        LOCKED=1
        return 0
    fi
    if ! flock -w 900 9; then
        die "timed out after 900 s waiting for another $PROG run (lock $LOCK_FILE)"
    fi
    LOCKED=1
}

APT_UPDATED=0
apt_install() {
    have apt-get || die "apt-get not found: install $* yourself, or set DATABASE_URL / REDIS_URL"
    take_lock
    log "installing $* with apt-get (output in $APT_LOG) ..."
    if ((!APT_UPDATED)); then
        if ! as_root apt-get -o DPkg::Lock::Timeout=300 update </dev/null >>"$APT_LOG" 2>&1 9>&-; then
            tail -n 20 "$APT_LOG" >&2 || true
            die "apt-get update failed (see $APT_LOG); check network / apt sources and retry"
        fi
        APT_UPDATED=1
    fi
    local -a envs=(DEBIAN_FRONTEND=noninteractive)
    # A cluster auto-created by the postgresql package inherits the locale of
    # this environment; make it UTF-8 rather than C/SQL_ASCII.
    if locale_available C.UTF-8; then envs+=(LANG=C.UTF-8 LC_ALL=C.UTF-8); fi
    if ! as_root env "${envs[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$@" \
            </dev/null >>"$APT_LOG" 2>&1 9>&-; then
        tail -n 20 "$APT_LOG" >&2 || true
        die "apt-get install $* failed (see $APT_LOG); fix apt and retry"
    fi
    log "installed $*"
}

# ---------------------------------------------------------------- locales ---

# locale_available NAME: glibc knows NAME (case- and utf-8/utf8-insensitive).
locale_available() {
    local want
    want=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]' | sed 's/utf-8/utf8/')
    locale -a 2>/dev/null | tr '[:upper:]' '[:lower:]' | sed 's/utf-8/utf8/' | grep -qxF "$want"
}

# Print a UTF-8 locale to use for the cluster / database (C.UTF-8, else
# en_US.UTF-8, generating it if needed). LC_CTYPE must be UTF-8: pg_trgm's
# handling of Chinese text depends on it.
# Sets PICKED_LOCALE (call directly, not in $(...), so apt/die work normally).
PICKED_LOCALE=
pick_locale() {
    [[ -n $PICKED_LOCALE ]] && return 0
    if locale_available C.UTF-8; then
        PICKED_LOCALE=C.UTF-8
    elif locale_available en_US.UTF-8; then
        PICKED_LOCALE=en_US.UTF-8
    else
        log "no UTF-8 locale found; generating en_US.UTF-8"
        take_lock
        if ! have locale-gen || [[ ! -e /usr/share/i18n/locales/en_US ]]; then
            apt_install locales
        fi
        if [[ -f /etc/locale.gen ]] && grep -q '^# *en_US.UTF-8 UTF-8' /etc/locale.gen; then
            as_root sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' /etc/locale.gen
        elif ! grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen 2>/dev/null; then
            echo 'en_US.UTF-8 UTF-8' | as_root tee -a /etc/locale.gen >/dev/null
        fi
        as_root locale-gen >&2 </dev/null 9>&- || die "locale-gen failed; install the 'locales' package and generate en_US.UTF-8"
        locale_available en_US.UTF-8 || die "could not generate the en_US.UTF-8 locale"
        PICKED_LOCALE=en_US.UTF-8
    fi
}

# --------------------------------------------------------------- postgres ---

pg_url() { printf 'postgres://%s:%s@127.0.0.1:%s/%s' "$PG_ROLE" "$PG_PASSWORD" "$PG_PORT" "$PG_DB"; }

# pg_probe_local: 0 = accepting, 1 = up but rejecting (starting), 2 = nothing there.
pg_probe_local() {
    local rc=0
    if have pg_isready; then
        pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 2 || rc=$?
        case $rc in 0) return 0 ;; 1) return 1 ;; *) return 2 ;; esac
    fi
    tcp_open 127.0.0.1 "$PG_PORT" && return 0
    return 2
}
pg_ready_local() { pg_probe_local; }

pg_url_ready() {
    local rc=0 h p
    if have pg_isready; then
        pg_isready -q -t 2 -d "$1" 2>/dev/null || rc=$?
        # 3 = pg_isready could not parse the URL (e.g. driver-only query
        # parameters libpq does not know): fall back to a TCP probe.
        ((rc == 3)) || return "$rc"
        read -r h p < <(url_host_port "$1" 5432)
        tcp_open "$h" "$p"
    elif have psql; then
        PGCONNECT_TIMEOUT=2 psql "$1" -w -X -q -tA -c 'select 1' >/dev/null 2>&1
    else
        read -r h p < <(url_host_port "$1" 5432)
        tcp_open "$h" "$p"
    fi
}

# Query run as kefu over TCP with the password; prints one of:
#   ok            everything as wanted
#   bad:<reason>  connected but something needs fixing
# Fails if the password login does not work at all.
PG_STATE_SQL="select case
  when not r.rolcreatedb then 'bad:role kefu lacks CREATEDB'
  when pg_get_userbyid(d.datdba) <> current_user then 'bad:database not owned by kefu'
  when pg_encoding_to_char(d.encoding) <> 'UTF8' or d.datctype !~* 'utf-?8'
    then 'bad:encoding=' || pg_encoding_to_char(d.encoding) || ' ctype=' || d.datctype
  else 'ok' end
from pg_database d, pg_roles r
where d.datname = current_database() and r.rolname = current_user"

kefu_state() {
    have psql || return 1
    PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_ROLE" -d "$PG_DB" \
        -w -X -q -tA -c "$PG_STATE_SQL" 2>/dev/null
}

# Superuser access: TCP as postgres (trust setups), else peer over the socket.
SU_MODE=
su_psql() {
    if [[ $SU_MODE == tcp ]]; then
        PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -w -X -q -v ON_ERROR_STOP=1 "$@"
    else
        (cd / && as_postgres psql -p "$PG_PORT" -d postgres -X -q -v ON_ERROR_STOP=1 "$@")
    fi
}
detect_superuser() {
    local q="select rolsuper from pg_roles where rolname = current_user"
    local out
    SU_MODE=tcp
    out=$(su_psql -tA -c "$q" 2>/dev/null) || out=
    [[ $out == t ]] && return 0
    if id postgres >/dev/null 2>&1 && [[ -S /var/run/postgresql/.s.PGSQL.$PG_PORT ]]; then
        SU_MODE=socket
        out=$(su_psql -tA -c "$q" 2>/dev/null) || out=
        [[ $out == t ]] && return 0
    fi
    die "no superuser access to Postgres on 127.0.0.1:$PG_PORT (tried TCP as 'postgres' and peer auth via runuser); create role '$PG_ROLE' (password '$PG_PASSWORD', CREATEDB) and database '$PG_DB' yourself, or set DATABASE_URL"
}

pg_installed() {
    have pg_lsclusters && have pg_ctlcluster && have pg_createcluster &&
        compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

# Highest installed server major version.
pg_latest_version() {
    local d v best=
    for d in /usr/lib/postgresql/*/bin/postgres; do
        [[ -x $d ]] || continue
        v=${d#/usr/lib/postgresql/}; v=${v%%/*}
        if [[ -z $best ]] || [[ $(printf '%s\n%s\n' "$best" "$v" | sort -V | tail -n1) == "$v" ]]; then best=$v; fi
    done
    printf '%s\n' "$best"
}

# Start or create a Debian-managed cluster on PG_PORT.
pg_start_local_cluster() {
    local line ver name status
    # Prefer a cluster already registered for this port.
    line=$(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2, $4; exit }') || line=
    if [[ -n $line ]]; then
        read -r ver name status <<<"$line"
        if [[ $status == online* ]]; then
            die "cluster $ver/$name is online on port $PG_PORT but 127.0.0.1:$PG_PORT does not answer; check listen_addresses in /etc/postgresql/$ver/$name/postgresql.conf"
        fi
        log "starting existing Postgres cluster $ver/$name on port $PG_PORT"
    else
        ver=$(pg_latest_version)
        [[ -n $ver ]] || die "no Postgres server binaries under /usr/lib/postgresql; install postgresql"
        name=kefu
        if pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "kefu" { f = 1 } END { exit !f }'; then
            name=kefu_$PG_PORT   # 'kefu' exists on another port
        fi
        local loc
        pick_locale; loc=$PICKED_LOCALE
        log "creating Postgres $ver cluster '$name' on port $PG_PORT (locale $loc)"
        if ! as_root pg_createcluster --locale "$loc" -p "$PG_PORT" "$ver" "$name" </dev/null >&2 9>&-; then
            die "pg_createcluster --locale $loc -p $PG_PORT $ver $name failed (see above); is port $PG_PORT free?"
        fi
    fi
    local out rc=0
    out=$(mktemp)
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start </dev/null >"$out" 2>&1 9>&- || rc=$?
    cat "$out" >&2; rm -f "$out"
    if ((rc != 0)); then
        tail -n 15 "/var/log/postgresql/postgresql-$ver-$name.log" >&2 2>/dev/null || true
        die "could not start Postgres cluster $ver/$name (see /var/log/postgresql/postgresql-$ver-$name.log); try: pg_ctlcluster --skip-systemctl-redirect $ver $name start"
    fi
}

# Create/repair role and database (as superuser).
pg_provision() {
    detect_superuser
    local loc l err ok=0 tried=()
    pick_locale; loc=$PICKED_LOCALE
    for l in "$loc" en_US.UTF-8; do
        [[ " ${tried[*]-} " == *" $l "* ]] && continue
        tried+=("$l")
        if err=$(su_psql -v db="$PG_DB" -v loc="$l" -v role="$PG_ROLE" -v pw="$PG_PASSWORD" 2>&1 <<'SQL'
SELECT format(CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')
                   THEN 'ALTER ROLE %I LOGIN CREATEDB PASSWORD %L'
                   ELSE 'CREATE ROLE %I LOGIN CREATEDB PASSWORD %L' END, :'role', :'pw')
\gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L LC_COLLATE %L LC_CTYPE %L TEMPLATE template0',
              :'db', :'role', 'UTF8', :'loc', :'loc')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'db', :'role')
  FROM pg_database d
 WHERE d.datname = :'db' AND pg_get_userbyid(d.datdba) <> :'role'
\gexec
SQL
        ); then
            ok=1
            break
        fi
    done
    ((ok)) || die "creating role '$PG_ROLE' / database '$PG_DB' failed: ${err//$'\n'/ }"
}

ensure_pg() {
    if [[ -n ${DATABASE_URL:-} ]]; then
        if ! pg_url_ready "$DATABASE_URL"; then
            log "waiting up to ${URL_WAIT}s for \$DATABASE_URL to accept connections ..."
            wait_for "$URL_WAIT" pg_url_ready "$DATABASE_URL" ||
                die "Postgres at \$DATABASE_URL is not accepting connections after ${URL_WAIT}s; start it or unset DATABASE_URL to use a local one"
        fi
        PG_EXPORT=$(printf 'export DATABASE_URL=%q' "$DATABASE_URL")
        return
    fi

    is_port "$PG_PORT" || die "KEFU_PG_PORT='$PG_PORT' is not a valid port"
    [[ -n $PG_DB ]] || die "KEFU_PG_DB is empty"

    # Fast path: everything already set up.
    local state
    if state=$(kefu_state) && [[ $state == ok ]]; then
        PG_EXPORT=$(printf 'export DATABASE_URL=%q' "$(pg_url)")
        return
    fi

    take_lock
    local rc=0
    pg_probe_local || rc=$?
    if ((rc == 1)); then
        log "Postgres on 127.0.0.1:$PG_PORT is starting; waiting ..."
        wait_for "$PG_WAIT" pg_ready_local || die "Postgres on 127.0.0.1:$PG_PORT still rejects connections after ${PG_WAIT}s; check its log"
    elif ((rc == 2)); then
        if ! pg_installed; then
            log "Postgres server not installed"
            apt_install postgresql postgresql-contrib
            hash -r
            pg_installed || die "postgresql installed but pg_lsclusters/pg_ctlcluster not found"
        fi
        # The package may have started a cluster on our port by itself.
        if ! pg_ready_local; then
            pg_start_local_cluster
            wait_for "$PG_WAIT" pg_ready_local ||
                die "Postgres on 127.0.0.1:$PG_PORT did not accept connections within ${PG_WAIT}s; see /var/log/postgresql/"
        fi
    fi
    have psql || apt_install postgresql-client

    pg_provision

    # Verify TCP password login (scram-sha-256 on stock Debian) and settings.
    if ! state=$(PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_ROLE" -d "$PG_DB" \
            -w -X -q -tA -c "$PG_STATE_SQL" 2>&1); then
        local hba
        hba=$(su_psql -tA -c 'show hba_file' 2>/dev/null) || hba='pg_hba.conf'
        die "password login as $PG_ROLE to 127.0.0.1:$PG_PORT/$PG_DB fails (${state//$'\n'/ }); allow 'host all all 127.0.0.1/32 scram-sha-256' in $hba and reload"
    fi
    if [[ $state != ok ]]; then
        warn "database $PG_DB: ${state#bad:} - Chinese search (pg_trgm) needs a UTF-8 LC_CTYPE; drop it (dropdb -h 127.0.0.1 -p $PG_PORT -U postgres $PG_DB) and rerun"
    fi
    local trgm
    trgm=$(PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_ROLE" -d "$PG_DB" -w -X -q -tA \
        -c "select count(*) from pg_available_extensions where name = 'pg_trgm'" 2>/dev/null) || trgm=0
    [[ $trgm == 1 ]] || warn "extension pg_trgm is not available on 127.0.0.1:$PG_PORT; install postgresql-contrib"

    log "Postgres ready: $(pg_url)"
    PG_EXPORT=$(printf 'export DATABASE_URL=%q' "$(pg_url)")
}

# ------------------------------------------------------------------ redis ---

# redis_ping_hp HOST PORT: prints the reply to PING (PONG when healthy).
redis_ping_hp() {
    if have redis-cli; then
        timeout 3 redis-cli -h "$1" -p "$2" ping 2>/dev/null | head -n1
    else
        # No redis-cli: speak RESP by hand ("+PONG\r\n").
        # shellcheck disable=SC2016  # $1/$2 expand in the inner bash
        timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
            printf "PING\r\n" >&3
            IFS= read -r l <&3 || exit 1
            printf "%s\n" "${l#[+-]}" | tr -d "\r"' _ "$1" "$2" 2>/dev/null
    fi
}
redis_local_ok() { [[ $(redis_ping_hp 127.0.0.1 "$REDIS_PORT" || true) == PONG ]]; }
redis_url_ok() {
    local out
    if have redis-cli; then
        out=$(timeout 3 redis-cli -u "$1" ping 2>/dev/null | head -n1) || true
    else
        local h p
        read -r h p < <(url_host_port "$1" 6379)
        out=$(redis_ping_hp "$h" "$p") || true
    fi
    [[ $out == PONG ]]
}

redis_start_local() {
    local dir="$WORK_TMP/kefu-redis-$REDIS_PORT"
    if mkdir -p "$dir" 2>/dev/null; then chmod 700 "$dir" 2>/dev/null || true; fi
    [[ -d $dir && -O $dir && -w $dir ]] || die "redis work dir $dir is missing or not owned by $(id -un); remove it and retry"
    log "starting redis-server on 127.0.0.1:$REDIS_PORT (dir $dir)"
    if ! redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" \
            --save '' --appendonly no --dir "$dir" \
            --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" \
            </dev/null >"$dir/start.out" 2>&1 9>&-; then
        cat "$dir/start.out" >&2 || true
        tail -n 15 "$dir/redis.log" >&2 2>/dev/null || true
        die "redis-server failed to start on port $REDIS_PORT (see $dir/redis.log)"
    fi
    if ! wait_for "$REDIS_WAIT" redis_local_ok; then
        tail -n 15 "$dir/redis.log" >&2 || true
        die "redis on 127.0.0.1:$REDIS_PORT does not answer PING after ${REDIS_WAIT}s (see $dir/redis.log); is the port taken?"
    fi
}

ensure_redis() {
    if [[ -n ${REDIS_URL:-} ]]; then
        if ! redis_url_ok "$REDIS_URL"; then
            log "waiting up to ${URL_WAIT}s for \$REDIS_URL to answer PING ..."
            wait_for "$URL_WAIT" redis_url_ok "$REDIS_URL" ||
                die "Redis at \$REDIS_URL does not answer PING after ${URL_WAIT}s; start it or unset REDIS_URL to use a local one"
        fi
        REDIS_EXPORT=$(printf 'export REDIS_URL=%q' "$REDIS_URL")
        return
    fi
    is_port "$REDIS_PORT" || die "KEFU_REDIS_PORT='$REDIS_PORT' is not a valid port"
    local url="redis://127.0.0.1:$REDIS_PORT"

    if ! redis_local_ok; then
        take_lock
        local reply
        reply=$(redis_ping_hp 127.0.0.1 "$REDIS_PORT") || reply=
        if [[ -n $reply && $reply != PONG ]]; then
            die "something on 127.0.0.1:$REDIS_PORT answers PING with '$reply' (password-protected?); set REDIS_URL or KEFU_REDIS_PORT"
        fi
        if ! redis_local_ok; then
            if ! have redis-server; then
                log "redis-server not installed"
                apt_install redis-server redis-tools
                hash -r
                # The package may have started its own server on 6379.
                wait_for 3 redis_local_ok || true
            fi
            redis_local_ok || redis_start_local
        fi
        log "Redis ready: $url"
    fi
    REDIS_EXPORT=$(printf 'export REDIS_URL=%q' "$url")
}

# ------------------------------------------------------------- subcommands ---

cmd_env() {
    # Our own targeting must not be redirected by the caller's libpq settings.
    unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE
    ensure_pg
    ensure_redis
    # Printed only once both are ready, so a failure never leaves half an env.
    printf '%s\n%s\n' "$PG_EXPORT" "$REDIS_EXPORT"
}

cmd_check() {
    unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE
    local ok=0 url
    url=${DATABASE_URL:-$(pg_url)}
    if have psql; then
        if PGCONNECT_TIMEOUT=3 psql "$url" -w -X -q -tA -c 'select 1' >/dev/null 2>&1; then
            log "postgres: OK ($url)"
        elif pg_url_ready "$url"; then
            log "postgres: server up but login to $url fails; run: $PROG env"; ok=1
        else
            log "postgres: NOT reachable ($url); run: $PROG env"; ok=1
        fi
    elif pg_url_ready "$url"; then
        log "postgres: port open (psql not installed, login not verified) ($url)"
    else
        log "postgres: NOT reachable ($url); run: $PROG env"; ok=1
    fi
    url=${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}
    if redis_url_ok "$url"; then
        log "redis: OK ($url)"
    else
        log "redis: NOT reachable ($url); run: $PROG env"; ok=1
    fi
    return "$ok"
}

cmd_chromium() {
    local -a pkgs=()
    [[ -x /usr/bin/chromium ]] || pkgs+=(chromium)
    if ! dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q 'install ok installed'; then
        pkgs+=(fonts-noto-cjk)
    fi
    if ((${#pkgs[@]})); then
        apt_install "${pkgs[@]}"
    fi
    [[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium still missing after install"
    log "chromium ready: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    printf '%s\n' /usr/bin/chromium
}

# A second local Postgres cluster (port KEFU_PG2_PORT, 5433), for tests of tenants placed in
# several tenant databases on several clusters. It allows prepared transactions (two-phase commit
# of tenant and control writes: docs/tenancy.md). Prints its base URL (database postgres); tests
# create their own databases on it.
PG2_PORT=${KEFU_PG2_PORT:-5433}
PG2_NAME=kefu2
pg2_ready() { pg_isready -q -h 127.0.0.1 -p "$PG2_PORT" -t 2; }
cmd_second_pg() {
    unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE
    is_port "$PG2_PORT" || die "KEFU_PG2_PORT='$PG2_PORT' is not a valid port"
    pg_installed || die "Postgres is not installed; run '$PROG env' first"
    local ver line name status url
    url="postgres://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$PG2_PORT/postgres"
    if ! pg2_ready; then
        take_lock
        line=$(pg_lsclusters -h 2>/dev/null | awk -v p="$PG2_PORT" '$3 == p { print $1, $2, $4; exit }') || line=
        if [[ -n $line ]]; then
            read -r ver name status <<<"$line"
        else
            ver=$(pg_latest_version)
            name=$PG2_NAME
            pick_locale
            log "creating the second Postgres $ver cluster '$name' on port $PG2_PORT"
            as_root pg_createcluster --locale "$PICKED_LOCALE" -p "$PG2_PORT" \
                -o max_prepared_transactions=64 -o max_connections=200 "$ver" "$name" </dev/null >&2 9>&- ||
                die "pg_createcluster for the second cluster failed; is port $PG2_PORT free?"
        fi
        pg2_ready || as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start </dev/null >&2 9>&- ||
            die "could not start Postgres cluster $ver/$name (see /var/log/postgresql/postgresql-$ver-$name.log)"
        wait_for "$PG_WAIT" pg2_ready || die "the second Postgres on port $PG2_PORT did not come up"
    fi
    local PG_PORT=$PG2_PORT
    detect_superuser
    local prepared
    prepared=$(su_psql -tA -c "show max_prepared_transactions")
    if [[ $prepared == 0 ]]; then
        take_lock
        log "enabling prepared transactions on the cluster at port $PG2_PORT (restart)"
        su_psql -c "alter system set max_prepared_transactions = 64" >&2
        line=$(pg_lsclusters -h 2>/dev/null | awk -v p="$PG2_PORT" '$3 == p { print $1, $2; exit }')
        read -r ver name <<<"$line"
        as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" restart </dev/null >&2 9>&-
        wait_for "$PG_WAIT" pg2_ready || die "the second Postgres did not come back after its restart"
    fi
    su_psql -v role="$PG_ROLE" -v pw="$PG_PASSWORD" >/dev/null <<'SQL'
SELECT format(CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')
                   THEN 'ALTER ROLE %I LOGIN CREATEDB PASSWORD %L'
                   ELSE 'CREATE ROLE %I LOGIN CREATEDB PASSWORD %L' END, :'role', :'pw')
\gexec
SQL
    log "second Postgres ready: $url"
    printf 'export KEFU_TEST_PG2_URL=%q\n' "$url"
}

usage() {
    cat >&2 <<EOF
usage: $PROG <command>
  env       ensure Postgres + Redis run; print 'export DATABASE_URL=... / REDIS_URL=...'
            use as: eval "\$($0 env)"
  check     exit 0 if Postgres (login works) and Redis (PING) are reachable
  chromium  install Debian chromium + fonts-noto-cjk if missing; print the binary path
  second-pg ensure a second Postgres cluster (port KEFU_PG2_PORT, 5433) with prepared
            transactions; print 'export KEFU_TEST_PG2_URL=...'
env vars: DATABASE_URL, REDIS_URL (used as-is), KEFU_PG_PORT (5432), KEFU_PG_DB (kefu_dev),
          KEFU_REDIS_PORT (6379)
EOF
}

PG_EXPORT=''
REDIS_EXPORT=''
# `eval "$(services.sh env)"` ignores our exit status; on failure print `false`
# so that `eval "$(...)" && cargo test` (or a recipe under set -e) stops.
on_exit() {
    local rc=$?
    if ((rc != 0)) && [[ ${MODE:-} == env || ${MODE:-} == second-pg ]]; then printf 'false\n'; fi
    return "$rc"
}
MODE=${1:-}
trap on_exit EXIT

case $MODE in
    env) cmd_env ;;
    check) cmd_check ;;
    chromium) cmd_chromium ;;
    second-pg) cmd_second_pg ;;
    -h|--help|help) usage ;;
    *) usage; exit 2 ;;
esac
