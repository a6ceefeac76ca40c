#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ are reachable. When one is local and down, start it (installing
# it first when we are root on a Debian/Ubuntu machine); otherwise say exactly what to do and exit 1.
# Non-interactive: safe for CI.
set -euo pipefail

DB_URL=${CC_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/customer_center}
AMQP_URL=${CC_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
WAIT_SECONDS=60

# "scheme://user:pass@host:port/path?query" -> sets HOST and PORT ($2 is the default port).
parse_url() {
  local rest=${1#*://}
  rest=${rest%%[/?]*}
  rest=${rest##*@}
  if [[ $rest == \[* ]]; then            # [::1]:5432
    HOST=${rest%%]*}; HOST=${HOST#[}; rest=${rest#*]}
    PORT=${rest#:}
  elif [[ $rest == *:* ]]; then
    HOST=${rest%:*}; PORT=${rest##*:}
  else
    HOST=$rest; PORT=
  fi
  HOST=${HOST:-127.0.0.1}
  PORT=${PORT:-$2}
}

is_root_with_apt() { [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; }

apt_install() {
  echo "$1: not installed; installing the $2 package (apt-get)"
  apt-get update -qq </dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" </dev/null
}

is_local() { [[ $1 == 127.* || $1 == localhost || $1 == ::1 ]]; }

tcp_open() { timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

reachable() {  # service host port
  if [[ $1 == postgresql ]] && command -v pg_isready >/dev/null; then
    pg_isready -q -h "$2" -p "$3" -t 3
  else
    tcp_open "$2" "$3"
  fi
}

wait_reachable() {  # service host port
  local i
  for ((i = 0; i < WAIT_SECONDS; i++)); do
    reachable "$@" && return 0
    sleep 1
  done
  return 1
}

# The server, not just the client tools.
pg_installed() { command -v postgres >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }

# PostgreSQL, Debian style: every cluster in pg_lsclusters is started (systemd may not be running).
start_postgresql() {
  local fresh=
  if ! pg_installed; then
    is_root_with_apt || return 1
    apt_install postgresql postgresql
    fresh=1
  fi
  command -v pg_lsclusters >/dev/null || return 1
  if [[ -n $fresh ]]; then
    # A fresh install asks for a password over TCP; the default CC_DATABASE_URL has none (local dev).
    for hba in /etc/postgresql/*/*/pg_hba.conf; do
      sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
    done
    echo "postgresql: allowed role postgres from localhost without a password (pg_hba.conf)"
  fi
  local ver name _port status _rest started=1
  while read -r ver name _port status _rest; do
    if [[ $status == online* ]]; then
      [[ -z $fresh ]] || pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload
    else
      echo "postgresql: starting cluster $ver/$name"
      pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start && started=0
    fi
  done < <(pg_lsclusters --no-header)
  [[ -n $fresh ]] || return $started  # nothing started: no point in waiting
}

start_rabbitmq() {
  if ! command -v rabbitmq-server >/dev/null; then
    is_root_with_apt || return 1
    apt_install rabbitmq rabbitmq-server
    # The package starts it when a service manager is running (not in containers).
    reachable rabbitmq "$HOST" "$PORT" && return 0
  fi
  echo "rabbitmq: starting (rabbitmq-server -detached)"
  rabbitmq-server -detached </dev/null || return 1
  if command -v rabbitmqctl >/dev/null; then
    timeout "$WAIT_SECONDS" rabbitmqctl await_startup >/dev/null 2>&1 || true
  fi
}

help_postgresql() {
  if ! is_local "$HOST"; then
    echo "  Start PostgreSQL on $HOST, or set CC_DATABASE_URL to a reachable server."
  elif ! pg_installed; then
    echo "  Install it: sudo apt-get install postgresql   (then run make again)"
    echo "  Or set CC_DATABASE_URL=postgresql://USER:PASSWORD@HOST:PORT/customer_center"
  elif command -v pg_lsclusters >/dev/null && [[ -n $(pg_lsclusters --no-header) ]]; then
    pg_lsclusters --no-header | while read -r ver name port _rest; do
      echo "  Start it: sudo pg_ctlcluster --skip-systemctl-redirect $ver $name start   (port $port; log: /var/log/postgresql/)"
    done
    echo "  It must listen on port $PORT, or set CC_DATABASE_URL to where it listens."
  else
    echo "  Start it (Debian/Ubuntu: sudo pg_createcluster --start <version> main; elsewhere: pg_ctl -D <data dir> start),"
    echo "  listening on port $PORT, or set CC_DATABASE_URL to where it listens."
  fi
}

help_rabbitmq() {
  if ! is_local "$HOST"; then
    echo "  Start RabbitMQ on $HOST, or set CC_AMQP_URL to a reachable broker."
  elif ! command -v rabbitmq-server >/dev/null; then
    echo "  Install it: sudo apt-get install rabbitmq-server   (then run make again)"
    echo "  Or set CC_AMQP_URL=amqp://USER:PASSWORD@HOST:PORT/"
  else
    echo "  Start it: sudo rabbitmq-server -detached   (logs: /var/log/rabbitmq/)"
    echo "  It must listen on port $PORT, or set CC_AMQP_URL to where it listens."
  fi
}

ensure() {  # service url default_port variable
  parse_url "$2" "$3"
  if ! reachable "$1" "$HOST" "$PORT"; then
    if is_local "$HOST"; then
      if "start_$1"; then wait_reachable "$1" "$HOST" "$PORT" || true; fi
    fi
    if ! reachable "$1" "$HOST" "$PORT"; then
      local origin="from $4"
      [[ -n ${!4:-} ]] || origin="the default; set $4 to use another server"
      echo "$1: NOT reachable at $HOST:$PORT ($origin)" >&2
      "help_$1" >&2
      return 1
    fi
  fi
  echo "$1: reachable at $HOST:$PORT"
}

status=0
ensure postgresql "$DB_URL" 5432 CC_DATABASE_URL || status=1
ensure rabbitmq "$AMQP_URL" 5672 CC_AMQP_URL || status=1
exit $status
