#!/bin/sh
# The PostgreSQL baseline for `make bench`: a throwaway PostgreSQL 15 in a
# temporary folder, with pgcrypto and pgaudit logging every read, holding
# the given JSON lines encrypted with pgp_sym_encrypt. Two ways in:
#  - what clearvault's clients get: TLS 1.3 on 127.0.0.1 with certificate
#    authentication (a throwaway CA signs the server's and the client's
#    certificates; hostssl ... cert, so the client certificate is verified
#    and names the user);
#  - a Unix socket without TLS or authentication, for reference.
# Runs as the postgres user (PostgreSQL refuses root).
#   bench/pg.sh start DIR JSONL KEY   prints two libpq conninfo lines, TLS
#                                     first; the folder above DIR must be
#                                     searchable by the postgres user
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
	port=${PG_PORT:-5499}
	mkdir -p "$dir/tls"
	# Certificates: P-256 keys, as clearvault's.
	t=$dir/tls
	ossl() { openssl "$@" 2>/dev/null; }
	ossl ecparam -name prime256v1 -genkey -noout -out "$t/ca.key"
	ossl req -x509 -new -key "$t/ca.key" -subj /CN=bench-ca -days 2 \
	    -out "$t/ca.pem"
	for who in server postgres; do
		ossl ecparam -name prime256v1 -genkey -noout -out "$t/$who.key"
		ossl req -new -key "$t/$who.key" -subj "/CN=$who" -out "$t/$who.csr"
		printf 'subjectAltName=IP:127.0.0.1\n' >"$t/ext"
		ossl x509 -req -in "$t/$who.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" \
		    -CAcreateserial -days 2 -extfile "$t/ext" -out "$t/$who.pem"
	done
	[ -s "$t/postgres.pem" ] || { echo "bench/pg.sh: openssl failed" >&2; exit 1; }
	chown -R postgres "$dir"
	chmod 700 "$dir"
	chmod 600 "$t"/*.key
	as_pg "$BIN/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
	cat >"$dir/data/pg_hba.conf" <<EOHBA
local all all trust
hostssl all all 127.0.0.1/32 cert
EOHBA
	as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
	    "-c listen_addresses=127.0.0.1 -c unix_socket_directories='$dir' \
	    -c port=$port -c max_connections=100 \
	    -c ssl=on -c ssl_min_protocol_version=TLSv1.3 \
	    -c ssl_cert_file='$t/server.pem' -c ssl_key_file='$t/server.key' \
	    -c ssl_ca_file='$t/ca.pem' \
	    -c shared_preload_libraries=pgaudit \
	    -c pgaudit.log=read -c pgaudit.log_parameter=off \
	    -c synchronous_commit=on -c fsync=on" start >/dev/null
	cp "$jsonl" "$dir/in.jsonl"
	chown postgres "$dir/in.jsonl"
	as_pg "$BIN/psql" -q -h "$dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 \
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
	# The client's key must be the caller's alone: libpq checks.
	cp "$t/postgres.key" "$t/client.key"
	chown "$(id -u)" "$t/client.key"
	chmod 600 "$t/client.key"
	echo "host=127.0.0.1 port=$port user=postgres dbname=postgres sslmode=verify-full sslrootcert=$t/ca.pem sslcert=$t/postgres.pem sslkey=$t/client.key"
	echo "host=$dir port=$port user=postgres dbname=postgres"
	;;
stop)
	as_pg "$BIN/pg_ctl" -D "$dir/data" -w stop -m fast >/dev/null
	;;
*)
	echo "usage: bench/pg.sh start DIR JSONL KEY | stop DIR" >&2
	exit 2
	;;
esac
