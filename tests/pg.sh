#!/bin/sh
# A throwaway PostgreSQL 15 for the tests: a cluster of its own in DIR,
# reachable only on a Unix socket in DIR (listen_addresses=''), with peer
# authentication only (the caller's system user is the database role, as
# the issue asks of a production vault: no password anywhere), fsync and
# synchronous_commit on as in production. Every statement is logged with
# its parameters (log_statement=all; PG_LOG_STATEMENT=none in the
# environment for a benchmark, as a setting given here on the command line
# overrides ALTER SYSTEM), so that a test that searches the
# server's log for plaintext searches everything the server was sent.
# 16 MB of shared buffers, so that the suite's many clusters fit
# side by side; PG_SHARED_BUFFERS (a size PostgreSQL reads, 1GB) gives a
# benchmark's cluster the cache a deployment would.
#
# Runs the server as the postgres user (PostgreSQL refuses root). DIR
# must not exist; its parent must be searchable by the postgres user
# (chmod 711 on a mktemp -d folder).
#
#   tests/pg.sh start DIR   prints a libpq URI for database clearvault,
#                           owned by the caller's role (not a superuser)
#   tests/pg.sh stop DIR    stops it (DIR is the caller's to remove)
#   tests/pg.sh standby PRIMARY DIR
#                           a streaming standby of the cluster in PRIMARY
#                           (pg_basebackup), in DIR, on its own socket,
#                           made the primary's synchronous standby: a
#                           COMMIT there returns once the standby has the
#                           WAL. Prints its URI.
#   tests/pg.sh promote DIR the standby in DIR becomes a primary
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
	case ${PG_LOG_STATEMENT:-all} in
	none | ddl | mod | all) ;;
	*) fail "PG_LOG_STATEMENT is none, ddl, mod or all" ;;
	esac
	case ${PG_SHARED_BUFFERS:-16MB} in
	*[!0-9A-Za-z]* | '') fail "PG_SHARED_BUFFERS is a size, as 1GB" ;;
	esac
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
	# Nothing but the socket, nothing but peer authentication (and
	# replication for a standby this script makes, the same way).
	printf '%s\n' "local all all peer" "local replication postgres peer" \
	    >"$dir/data/pg_hba.conf"
	as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
	    "-c listen_addresses='' -c unix_socket_directories='$dir' \
	    -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
	    -c log_statement=${PG_LOG_STATEMENT:-all} \
	    -c log_parameter_max_length=-1 \
	    -c log_parameter_max_length_on_error=-1 \
	    -c max_connections=200 \
	    -c shared_buffers=${PG_SHARED_BUFFERS:-16MB}" \
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
standby)
	primary=$dir
	dir=${3:-}
	[ -n "$primary" ] && [ -n "$dir" ] ||
	    fail "usage: tests/pg.sh standby PRIMARY DIR"
	[ ! -e "$dir" ] || fail "$dir exists"
	mkdir -m 711 "$dir"
	dir=$(cd "$dir" && pwd)
	primary=$(cd "$primary" && pwd)
	chown postgres "$dir"
	[ ${#dir} -le 80 ] || fail "$dir is too long for a socket path"
	as_pg "$BIN/pg_basebackup" -h "$primary" -U postgres -D "$dir/data" \
	    -R -X stream -c fast >"$dir/basebackup.log" 2>&1 ||
	    fail "pg_basebackup failed: $(tail -5 "$dir/basebackup.log")"
	as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
	    "-c listen_addresses='' -c unix_socket_directories='$dir' \
	    -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
	    -c log_statement=all -c max_connections=200 \
	    -c shared_buffers=16MB -c cluster_name=standby" \
	    start >/dev/null ||
	    fail "the standby did not start: $(tail -5 "$dir/log")"
	# Synchronous from now on: the primary waits for it at each COMMIT.
	as_pg "$BIN/psql" -q -X -h "$primary" -U postgres -d postgres \
	    -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET synchronous_standby_names = 'standby'" \
	    -c "SELECT pg_reload_conf()" >/dev/null ||
	    fail "cannot make the standby synchronous"
	for _ in $(seq 1 100); do
		s=$(as_pg "$BIN/psql" -X -t -A -h "$primary" -U postgres \
		    -d postgres -c "SELECT sync_state FROM pg_stat_replication")
		[ "$s" = sync ] && break
		sleep 0.1
	done
	[ "$s" = sync ] || fail "the standby is not synchronous ($s)"
	echo "postgresql:///clearvault?host=$dir"
	;;
promote)
	[ -n "$dir" ] || fail "usage: tests/pg.sh promote DIR"
	as_pg "$BIN/pg_ctl" -D "$dir/data" -w promote >/dev/null ||
	    fail "cannot promote $dir"
	;;
*)
	echo "usage: tests/pg.sh start DIR | stop DIR | standby PRIMARY DIR |" \
	    "promote DIR" >&2
	exit 2
	;;
esac
