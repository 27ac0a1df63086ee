# Shared by the kill loops (issue 16: test_kill_load.sh, test_kill_rotate.sh,
# test_kill_serve.sh). Source after lib.sh.
#
# The moments of the kills come from bash's RANDOM seeded with KILL_SEED
# (random unless given, printed first): a failure's line names its round
# and delay, and KILL_SEED=S repeats the same delays (the timing of the
# processes killed is the machine's, so a rerun comes close, not exact).
# Each script kills until it has killed KILL_ROUNDS_<NAME> processes, or
# KILL_ROUNDS, or its default: 45 + 35 + 40 in the whole suite (and at
# most twice as many rounds: a process that ended before its kill is
# checked too, but not counted).

KILL_SEED=${KILL_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
RANDOM=$KILL_SEED
echo "kill seed $KILL_SEED (KILL_SEED=$KILL_SEED repeats these delays)"
KILLS=0

kill_target() {	# NAME DEFAULT: the kills wanted
	local v="KILL_ROUNDS_$1"
	echo "${!v:-${KILL_ROUNDS:-$2}}"
}
rand_ms() {	# MAX: 0 .. MAX-1
	echo $(((RANDOM * 32768 + RANDOM) % ($1 > 0 ? $1 : 1)))
}
sleep_ms() {	# MS
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}
now_ms() { date +%s%3N; }

# Whether process PID is gone (a zombie no one reaped counts as gone).
gone() {	# PID
	local s
	s=$(sed -n 's/^.*) \(.\).*/\1/p' /proc/"$1"/stat 2>/dev/null)
	[ -z "$s" ] || [ "$s" = Z ]
}
wait_gone() {	# PID...: each gone within 20 s; 1 if one is not
	local p
	for p in "$@"; do
		for _ in $(seq 1 200); do
			gone "$p" && break
			sleep 0.1
		done
		gone "$p" || return 1
	done
}

# The audit entries of vault DIR from index FROM on, as JSON lines, into
# OUT; the count of entries (the next index) in $LOG_SIZE. Needs the
# verify just done: its output in $T/out ("verified N entries").
log_since() {	# DIR FROM OUT
	LOG_SIZE=$(sed -n 's/^verified \([0-9]*\) entries.*/\1/p' "$T/out")
	"$CV" audit tail --dir "$1" --json -n $((${LOG_SIZE:-0} - $2 + 2)) |
	    awk -v from="$2" 'match($0, /"index":[0-9]+/) &&
	    substr($0, RSTART + 8, RLENGTH - 8) + 0 >= from' >"$3"
}

# A private token's token.object that a kill left torn is put back by
# the next command (src/keys/softhsm.c), which says so on stderr: counted
# from the first command after each kill ($T/err).
TORN=0
torn_seen() {
	grep -q "token.object was torn" "$T/err" && TORN=$((TORN + 1))
	return 0
}

kills_done() {	# NAME SECONDS: the summary line
	echo "$1: $KILLS kills in $2 s (seed $KILL_SEED)"
}
