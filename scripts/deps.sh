#!/bin/sh
# Installs the Debian packages that clearvault's build, tests and demo need.
# Idempotent; silent when everything is already present.
set -eu

PKGS="build-essential meson ninja-build pkg-config clang libclang-rt-14-dev \
libsodium-dev libjansson-dev libsqlite3-dev sqlite3 libp11-kit-dev softhsm2 \
libcmocka-dev nettle-dev libgnutls28-dev liboath-dev \
libqrencode-dev libmicrohttpd-dev libseccomp-dev openssl curl \
libpq-dev postgresql-15 libpng-dev libnss3-tools zbar-tools prometheus \
chromium python3-jsonschema python3-cryptography"

# libnss3-tools (certutil, pk12util: a browser's certificate store),
# zbar-tools (zbarimg reads the QR codes back), prometheus (a real
# scraper of /metrics), chromium (the browser of tests/web, headless,
# driven over its DevTools pipe), python3-jsonschema (the JSON Schema
# validator that checks the server's replies against docs/openapi.json,
# tests/cli/openapi_check.py) and python3-cryptography (the Ed25519 of
# the independent cosignature check, tests/cli/cosig_check.py) are the
# tests'.
# libpq is the PostgreSQL storage driver's (src/store/db_pg.c); the tests
# start a throwaway PostgreSQL 15 of their own (tests/pg.sh). make bench's
# PostgreSQL baseline also needs pgaudit.
[ "${CLEARVAULT_BENCH:-}" = 1 ] && PKGS="$PKGS postgresql-15-pgaudit"
# make check-valgrind runs the command-level tests under Valgrind.
[ "${CLEARVAULT_VALGRIND:-}" = 1 ] && PKGS="$PKGS valgrind"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "clearvault: missing Debian packages:$missing" >&2
	echo "clearvault: run as root (or: sudo apt-get install$missing)" >&2
	exit 1
fi
echo "clearvault: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
