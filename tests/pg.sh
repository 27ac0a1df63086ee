#!/bin/sh
# A throwaway PostgreSQL 15 for the tests: a cluster of its own in DIR,
# reachable only on a Unix socket in DIR (listen_addresses=''), with peer
# authentication only (the caller's system user is the database role, as
# the issue asks of a production vault: no password anywhere), fsync and
# synchronous_commit on as in production. Every statement is logged with
# its parameters (log_statement=all), so that a test that searches the
# server's log for plaintext searches everything the server was sent.
#
# Runs the server as the postgres user (PostgreSQL refuses root). DIR
# must not exist; its parent must be searchable by the postgres user
# (chmod 711 on a mktemp -d folder).
#
#   tests/pg.sh start DIR   prints a libpq URI for database clearvault,
#                           owned by the caller's role (not a superuser)
#   tests/pg.sh stop DIR    stops it (DIR is the caller's to remove)
set -eu
BIN=/usr/lib/postgresql/15/bin
cmd=${1:-}
dir=${2:-}
as_pg() { runuser -u postgres -- "$@"; }
fail() { echo "tests/pg.sh: $*" >&2; exit 1; }

case $cmd in
start)
	[ -n "$dir" ] || fail "usage: tests/pg.sh start DIR"
	[ -x "$BIN/initdb" ] || fail "no PostgreSQL 15 in $BIN (scripts/deps.sh)"
	[ ! -e "$dir" ] || fail "$dir exists"
	mkdir -m 711 "$dir"
	dir=$(cd "$dir" && pwd)
	chown postgres "$dir"
	as_pg test -x "$dir" ||
	    fail "the postgres user cannot reach $dir (chmod 711 its parent)"
	# The socket's path must fit a sockaddr_un (107 bytes).
	[ ${#dir} -le 80 ] || fail "$dir is too long for a socket path"
	me=$(id -un)
	as_pg "$BIN/initdb" -D "$dir/data" -A peer -U postgres -E UTF8 \
	    --locale=C >"$dir/initdb.log" 2>&1 ||
	    fail "initdb failed: $(tail -5 "$dir/initdb.log")"
	# Nothing but the socket, nothing but peer authentication.
	echo "local all all peer" >"$dir/data/pg_hba.conf"
	as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
	    "-c listen_addresses='' -c unix_socket_directories='$dir' \
	    -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
	    -c log_statement=all -c log_parameter_max_length=-1 \
	    -c log_parameter_max_length_on_error=-1 \
	    -c max_connections=200 -c shared_buffers=16MB" \
	    start >/dev/null ||
	    fail "the server did not start: $(tail -5 "$dir/log")"
	as_pg "$BIN/psql" -q -X -h "$dir" -U postgres -d postgres \
	    -v ON_ERROR_STOP=1 >/dev/null <<EOSQL ||
CREATE ROLE "$me" LOGIN;
CREATE DATABASE clearvault OWNER "$me";
EOSQL
	    fail "cannot create the role and database"
	echo "postgresql:///clearvault?host=$dir"
	;;
stop)
	[ -n "$dir" ] || fail "usage: tests/pg.sh stop DIR"
	[ -f "$dir/data/postmaster.pid" ] || exit 0
	as_pg "$BIN/pg_ctl" -D "$dir/data" -w stop -m fast >/dev/null
	;;
*)
	echo "usage: tests/pg.sh start DIR | stop DIR" >&2
	exit 2
	;;
esac
