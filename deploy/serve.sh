#!/usr/bin/env bash
# `make serve`: the production stack on this machine, in the foreground.
#
#   1. PostgreSQL: the database DATABASE_URL names, or else a cluster of its own
#      under instance/pg (127.0.0.1:$POOL_PG_PORT, password in instance/pg-password);
#   2. the login rate limit's shared store: RATELIMIT_STORAGE_URI, or else a
#      redis-server on the unix socket instance/redis.sock (nothing on the network);
#   3. `pool init`, and the demo pool when the database has no logins yet;
#   4. the scheduler as its own single process (`flask pool scheduler`);
#   5. gunicorn with several workers (gunicorn.conf.py: POOL_BIND, WEB_CONCURRENCY, ...).
#
# Ctrl-C (or TERM) stops everything this script started; a PostgreSQL that was
# already running is left running. Missing PostgreSQL or redis-server packages
# are installed from Debian's when run as root. See docs/deployment.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
export POOL_INSTANCE_DIR=${POOL_INSTANCE_DIR:-$ROOT/instance}
# Served over plain http on this machine (production: HTTPS at the proxy, where
# the session cookie stays Secure, the default).
export SESSION_COOKIE_SECURE=${SESSION_COOKIE_SECURE:-0}
INSTANCE=$POOL_INSTANCE_DIR
mkdir -p "$INSTANCE"
FLASK=("$VENV/bin/flask" --app run.py)

log() { echo "serve: $*" >&2; }
# The stack's processes get no Ctrl-C of their own: this script stops them
# gracefully (TERM: gunicorn finishes the requests under way).
DETACH=""
if command -v setsid >/dev/null; then DETACH=setsid; fi

STARTED=()      # pids to stop, gunicorn first
PG_STOP=()      # the command that stops the cluster we started
cleanup() {
  trap - EXIT INT TERM
  local pid
  for pid in "${STARTED[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${STARTED[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ ${#PG_STOP[@]} -gt 0 ]; then "${PG_STOP[@]}" >/dev/null 2>&1 || true; fi
  log "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A Debian package when its program is missing (root only, like .ci/run).
need_package() {  # need_package PROGRAM PACKAGE
  if command -v "$1" >/dev/null 2>&1 || ls $1 >/dev/null 2>&1; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing $2 from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  else
    log "$1 is missing: install the package $2 (or set the variable that names a server)"
    exit 1
  fi
}

# 1. PostgreSQL ---------------------------------------------------------------
if [ -z "${DATABASE_URL:-}" ]; then
  need_package "/usr/lib/postgresql/*/bin/initdb" postgresql
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  PGDATA=${POOL_PG_DIR:-$INSTANCE/pg}
  PGPORT=${POOL_PG_PORT:-54320}
  # PostgreSQL refuses to run as root: then its files belong to the user postgres.
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  PWFILE=$INSTANCE/pg-password
  if [ ! -s "$PWFILE" ]; then
    (umask 077; head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 >"$PWFILE")
  fi
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    log "creating a PostgreSQL cluster in $PGDATA"
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    [ "$(id -u)" = 0 ] && chown postgres: "$PGDATA"
    if ! as_pg test -w "$PGDATA"; then
      log "the user postgres cannot reach $PGDATA: set POOL_PG_DIR to a folder it can"
      exit 1
    fi
    PWCOPY=$(mktemp)   # initdb reads the password as the user postgres
    cat "$PWFILE" >"$PWCOPY"
    [ "$(id -u)" = 0 ] && chown postgres: "$PWCOPY"
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U pool --pwfile="$PWCOPY" -A scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >/dev/null || { rm -f "$PWCOPY"; exit 1; }
    rm -f "$PWCOPY"
  fi
  if as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    log "PostgreSQL in $PGDATA is already running: it stays running"
  else
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -w -l "$PGDATA/server.log" \
      -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDATA" start >/dev/null
    PG_STOP=(as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop)
    log "PostgreSQL on 127.0.0.1:$PGPORT (log: $PGDATA/server.log)"
  fi
  PGPW=$(cat "$PWFILE")
  if [ -z "$(PGPASSWORD=$PGPW "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U pool -d postgres \
        -tAc "SELECT 1 FROM pg_database WHERE datname = 'pool'")" ]; then
    PGPASSWORD=$PGPW "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U pool -d postgres \
      -qc "CREATE DATABASE pool"
  fi
  export DATABASE_URL="postgresql+psycopg://pool:$PGPW@127.0.0.1:$PGPORT/pool"
fi

# 2. The shared store of the login rate limit ----------------------------------
if [ -z "${RATELIMIT_STORAGE_URI:-}" ]; then
  need_package redis-server redis-server
  SOCK=$INSTANCE/redis.sock
  rm -f "$SOCK"
  $DETACH redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --save "" \
    --appendonly no --daemonize no --logfile "$INSTANCE/redis.log" &
  STARTED=($! "${STARTED[@]}")
  for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
  [ -S "$SOCK" ] || { log "redis-server did not start (see $INSTANCE/redis.log)"; exit 1; }
  export RATELIMIT_STORAGE_URI="redis+unix://$SOCK"
  log "rate-limit store: redis-server on $SOCK"
fi

# 3. Schema, permissions, roles; the demo pool in an empty database ------------
"${FLASK[@]}" pool init
if "$VENV/bin/python" - <<'EOF'
import sys

from sqlalchemy import text

from app.extensions import db
from run import app

with app.app_context():
    sys.exit(0 if db.session.execute(text("SELECT count(*) FROM ab_user")).scalar() == 0 else 1)
EOF
then
  "${FLASK[@]}" pool demo-data
else
  log "the database has logins already: no demo data added"
fi

# 4. The scheduler: one process for the whole installation ---------------------
$DETACH "${FLASK[@]}" pool scheduler &
STARTED=($! "${STARTED[@]}")

# 5. gunicorn in the foreground ------------------------------------------------
BIND=${POOL_BIND:-127.0.0.1:8000}
log "serving on http://${BIND%%,*}/login/ (Ctrl-C stops everything)"
$DETACH "$VENV/bin/gunicorn" -c gunicorn.conf.py &
STARTED=($! "${STARTED[@]}")
# Whichever ends first (gunicorn, the scheduler, redis) ends the stack.
set +e
wait -n "${STARTED[@]}"
rc=$?
log "a process of the stack ended (exit $rc): stopping the others"
exit "$rc"
