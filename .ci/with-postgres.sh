#!/usr/bin/env bash
# Runs "$@" next to a throwaway PostgreSQL server (cbr-advisor's `postgres` feature tests):
# installs Debian's `postgresql` when no server binaries are there, initialises a cluster in a
# temporary folder as a non-root user (initdb refuses root), starts it on a free loopback port,
# exports FUNDALLOC_TEST_POSTGRES, and stops and removes it on exit, whatever happens.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ -z "$bin" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
dir=$(mktemp -d)
as_user=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  chown postgres "$dir"
  as_user=(runuser -u postgres --)
fi
stop() {
  "${as_user[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
"${as_user[@]}" "$bin/initdb" -D "$dir/data" -U fundalloc --auth=trust -E UTF8 >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 54329)
"${as_user[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
export FUNDALLOC_TEST_POSTGRES="postgres://fundalloc@127.0.0.1:$port/postgres"
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on port $port"
"$@"
