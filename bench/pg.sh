#!/bin/sh
# The PostgreSQL baseline for `make bench`: a throwaway PostgreSQL 15 in a
# temporary folder (Unix socket only, no TCP), with pgcrypto and pgaudit
# logging every read, holding the given JSON lines encrypted with
# pgp_sym_encrypt. Runs as the postgres user (PostgreSQL refuses root).
#   bench/pg.sh start DIR JSONL KEY   prints the libpq conninfo; the
#                                     folder above DIR must be searchable
#                                     by the postgres user
#   bench/pg.sh stop DIR
set -eu
BIN=/usr/lib/postgresql/15/bin
cmd=$1
dir=$2
as_pg() { runuser -u postgres -- "$@"; }

case $cmd in
start)
	jsonl=$3
	key=$4
	mkdir -p "$dir"
	chown postgres "$dir"
	chmod 700 "$dir"
	as_pg "$BIN/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
	as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
	    "-c listen_addresses='' -c unix_socket_directories='$dir' \
	    -c port=5499 -c shared_preload_libraries=pgaudit \
	    -c pgaudit.log=read -c pgaudit.log_parameter=off \
	    -c synchronous_commit=on -c fsync=on" start >/dev/null
	cp "$jsonl" "$dir/in.jsonl"
	chown postgres "$dir/in.jsonl"
	as_pg "$BIN/psql" -q -h "$dir" -p 5499 -U postgres -v ON_ERROR_STOP=1 \
	    >/dev/null <<EOSQL
CREATE EXTENSION pgcrypto;
CREATE EXTENSION pgaudit;
CREATE TABLE staging(doc text);
\copy staging(doc) FROM '$dir/in.jsonl'
CREATE TABLE records(id text PRIMARY KEY, data bytea NOT NULL);
INSERT INTO records SELECT doc::json->>'id', pgp_sym_encrypt(doc, '$key')
    FROM staging;
DROP TABLE staging;
EOSQL
	rm -f "$dir/in.jsonl"
	echo "host=$dir port=5499 user=postgres dbname=postgres"
	;;
stop)
	as_pg "$BIN/pg_ctl" -D "$dir/data" -w stop -m fast >/dev/null
	;;
*)
	echo "usage: bench/pg.sh start DIR JSONL KEY | stop DIR" >&2
	exit 2
	;;
esac
