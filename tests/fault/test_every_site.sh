#!/bin/bash
# Issue 16: every call of ours to the outside world failing in turn, for
# load, get, rotate, shred, user add, an audit append and a checkpoint
# (every_site.py says what is checked at each N). Two halves of the
# operations run side by side.
#   FAULT_CLASSES  default "file sqlite p11 alloc"
#   FAULT_STRIDE   test every Kth N of the alloc class (default 10 here;
#                  `make check-fault` runs them all)
. "$(dirname "$0")/../cli/lib.sh"

if [ "${CLEARVAULT_TEST_DB:-sqlite}" != sqlite ]; then
	echo "# SQLite only: the digest is of the SQLite file"
	finish
	exit 0
fi
classes=$(echo "${FAULT_CLASSES:-file sqlite p11 alloc}" | tr ' ' ,)
stride=${FAULT_STRIDE:-10}
py=$(dirname "$0")/every_site.py
mkdir "$T/a" "$T/b"
python3 "$py" --cv "$CV" --work "$T/a" --classes "$classes" \
    --stride "$stride" --ops load,rotate,user_add >"$T/a.out" 2>&1 &
pa=$!
python3 "$py" --cv "$CV" --work "$T/b" --classes "$classes" \
    --stride "$stride" --ops get,shred,audit_append,checkpoint \
    >"$T/b.out" 2>&1
rb=$?
wait "$pa"
ra=$?
cat "$T/a.out" "$T/b.out" | sed 's/^/# /'
expect_eq "every site, first half" 0 "$ra"
expect_eq "every site, second half" 0 "$rb"
finish
