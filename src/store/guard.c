/*
 * The guard's counts shared by every node of a PostgreSQL vault: what each
 * user read when, what each session read since its last TOTP proof, what
 * the vault returned when, and the locks. One statement decides a read
 * for every node at once (cv_guard_take, a PL/pgSQL function: one round
 * trip, under an advisory lock on the user, so that a user's reads on
 * three nodes are decided one after the other against one count). Each
 * node's own guard stays in front (src/guard: behaviour, alerts, the
 * quick refusals); this is the count no node can escape. A SQLite vault
 * has one server (cv_server_claim) and its guard in memory only: none of
 * this exists there.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store_internal.h"

/*
 * Windows as in src/guard: a record counts in a window once, however
 * often it is read there (the last read's time is kept: *_reads). A take
 * must not cost what the window holds (a day's reads), so each window's
 * count is kept (*_counts.n, as of *_counts.upto) and brought forward at
 * the next take by the rows whose last read left the window since then
 * (t in (upto - w, now - w]: an index range, each row visited once per
 * window as it ages out). Times only move forward: a node whose clock is
 * behind is taken to read at the count's time. Rows past the day are
 * deleted as they age. A row's time is its last read's rounded up to the
 * second, and written only when that moves it: the reads of a record
 * within one second (a record's sections, a page that asks twice) then
 * write its row once, where each wrote a new version of the row and of
 * its time index's entry, aged again later as a dead entry. A record
 * stays in a window up to a second longer: counted longer, never less.
 *
 * The vault-wide ceiling is the sum of the users' counts, kept in 16
 * rows by user (guard_vault_sums, hashtext(u) & 15), each changed by what
 * a take changes its user's count by (what the take adds less what aged
 * out of the user's windows since the user's last take), under the row's
 * lock; the others are read as they stand. The grants nodes hold are
 * summed there too. The vault's decision itself (the ceiling, a grant)
 * is one take at a time, from the read of the sums to the commit: the
 * short end of a take, after the user's own work (the give-back, the
 * settled records, the windows). A record that two users read counts
 * twice (the memory guard of a SQLite vault counts it once), and a user
 * who stopped reading is counted as of the last take until
 * cv_guard_expire brings the user forward (a minute or two): the ceiling
 * refuses early, never late. The sums are, by definition, those of guard_user_counts and
 * guard_grants by row: an upgrade makes them so (store_guard_upgrade).
 */
/* The two-number key space of the guard's advisory locks that are not a
 * user's (those are one number: hashtext of 'cv_guard ' and the name):
 * 1, the vault's decisions; 2, cv_guard_expire. */
#define GUARD_LOCK_SPACE "1668702837"
#define VAULT_SUMS \
    "CREATE TABLE guard_vault_sums(k INT PRIMARY KEY, n INT[] NOT NULL," \
    " g INT NOT NULL);"
#define PG_TABLES \
    "CREATE TABLE guard_user_reads(u TEXT NOT NULL, rid TEXT NOT NULL," \
    " t BIGINT NOT NULL, PRIMARY KEY (u, rid));" \
    "CREATE INDEX guard_user_reads_t ON guard_user_reads(u, t);" \
    "CREATE TABLE guard_user_counts(u TEXT PRIMARY KEY," \
    " upto BIGINT NOT NULL, n INT[] NOT NULL);" \
    "CREATE TABLE guard_session_reads(s TEXT NOT NULL, rid TEXT NOT NULL," \
    " proof BIGINT NOT NULL, PRIMARY KEY (s, rid));" \
    "CREATE TABLE guard_session_counts(s TEXT PRIMARY KEY," \
    " proof BIGINT NOT NULL, n INT NOT NULL);" \
    VAULT_SUMS \
    "INSERT INTO guard_vault_sums SELECT k, '{0,0,0}', 0" \
    " FROM generate_series(0, 15) AS k;" \
    "CREATE TABLE guard_locks(u TEXT PRIMARY KEY, reason TEXT NOT NULL," \
    " since BIGINT NOT NULL);" \
    "CREATE TABLE guard_grants(node TEXT NOT NULL, u TEXT NOT NULL," \
    " s TEXT, g INT NOT NULL, until BIGINT NOT NULL," \
    " PRIMARY KEY (node, u));" \
    "CREATE INDEX guard_grants_u ON guard_grants(u);" \
    "CREATE INDEX guard_grants_until ON guard_grants(until);"

/* Named in the function's body: a database with another body (an older
 * release's) is given this one when a store opens it. */
#define TAKE_VERSION "cv_guard_take 7: one probe a record"

/*
 * cv_guard_take returns {verdict, grant}: verdict 0 (allowed and counted),
 * 10 + window (soft), 14 (session), 20 + window (hard), 30 + window
 * (ceiling), 40 (a lock row); grant, the records p_node may let out for
 * this user without asking until p_lease has passed (guard_grants: every
 * other node's decisions count them as read). p_settle: what p_node let
 * out under its last grant for the user, counted first whatever the
 * verdict (p_chunk -1 is that count's own call: no lock check, no
 * limits). vn: the vault's count in each window, the sum of every user's
 * with this user's as the take would leave it; vg: the grants' sum.
 */
#define PG_TAKE \
    "CREATE OR REPLACE FUNCTION cv_guard_take(p_u TEXT, p_s TEXT, p_proof BIGINT,\n" \
    " p_budget INT, p_rids TEXT[], p_now BIGINT, p_soft INT[], p_hard INT[],\n" \
    " p_vhard INT[], p_up BOOLEAN, p_node TEXT, p_settle TEXT[], p_chunk INT,\n" \
    " p_lease BIGINT) RETURNS INT[] LANGUAGE plpgsql AS $$\n" \
    "DECLARE\n" \
    " w BIGINT[] := ARRAY[60000000, 3600000000, 86400000000];\n" \
    " big INT[] := ARRAY[2147483647, 2147483647, 2147483647];\n" \
    " ids TEXT[]; up BIGINT; tu BIGINT; ku INT := hashtext(p_u) & 15;\n" \
    " n INT[]; a INT[]; ag INT[]; vn INT[]; sp BIGINT; sn INT := 0;\n" \
    " sa INT := 0; had BOOLEAN; og INT[]; osg INT; vg INT; gr INT;\n" \
    " back INT := 0; v INT := 0; fresh TEXT[];\n" \
    " sec CONSTANT BIGINT := 1000000;\n" \
    "BEGIN\n" \
    " -- " TAKE_VERSION "\n" \
    " -- (each statement sees what was committed before it: what the locks\n" \
    " -- below decide; one snapshot for all would hide other takes)\n" \
    " IF current_setting('transaction_isolation') <> 'read committed' THEN\n" \
    "  RAISE EXCEPTION 'the shared guard needs READ COMMITTED';\n" \
    " END IF;\n" \
    " PERFORM set_config('synchronous_commit', 'off', true);\n" \
    " PERFORM pg_advisory_xact_lock(hashtext('cv_guard ' || p_u));\n" \
    " IF p_node IS NOT NULL THEN\n" \
    "  -- this node's grant for the user ends here: what it let out is\n" \
    "  -- counted whatever happens next (it has left), the rest goes back.\n" \
    "  -- (Other nodes' grants a day past their lease are cv_guard_expire's,\n" \
    "  -- on the database's clock, not this node's.)\n" \
    "  WITH gone AS (DELETE FROM guard_grants WHERE u = p_u AND\n" \
    "   node = p_node RETURNING guard_grants.g)\n" \
    "  SELECT coalesce(sum(gone.g), 0) INTO back FROM gone;\n" \
    " END IF;\n" \
    " -- Locks in one order for every call: the user's, the user's grants'\n" \
    " -- rows, the user's row of the vault's sums (here, to its commit),\n" \
    " -- the vault's decision (below); cv_guard_expire takes grants' rows\n" \
    " -- before sums' rows and only tries users' locks.\n" \
    " IF back <> 0 THEN\n" \
    "  UPDATE guard_vault_sums vs SET g = vs.g - back WHERE vs.k = ku;\n" \
    " ELSE\n" \
    "  PERFORM 1 FROM guard_vault_sums vs WHERE vs.k = ku FOR UPDATE;\n" \
    " END IF;\n" \
    " IF NOT FOUND THEN\n" \
    "  RAISE EXCEPTION 'guard_vault_sums has no row %', ku;\n" \
    " END IF;\n" \
    " IF p_node IS NOT NULL THEN\n" \
    "  IF cardinality(p_settle) > 0 THEN\n" \
    "   PERFORM cv_guard_take(p_u, p_s, p_proof, big[1], p_settle, p_now, big,\n" \
    "    big, big, true, NULL, NULL, -1, 0);\n" \
    "  END IF;\n" \
    " END IF;\n" \
    " IF p_chunk >= 0 AND EXISTS (SELECT 1 FROM guard_locks WHERE u = p_u) THEN\n" \
    "  RETURN ARRAY[40, 0];\n" \
    " END IF;\n" \
    " ids := ARRAY(SELECT DISTINCT x FROM unnest(p_rids) AS x);\n" \
    " -- the user's windows, brought forward to tu\n" \
    " -- (a range of the index each, bounded by the row's upto: a plan\n" \
    " -- that is kept; with the bounds as values, or the ranges OR-ed in\n" \
    " -- one scan, it was planned again at every call)\n" \
    " SELECT uc.upto, uc.n, ARRAY[\n" \
    "  (SELECT count(*) FROM guard_user_reads ur WHERE ur.u = uc.u AND\n" \
    "   ur.t > uc.upto - w[1] AND ur.t <= greatest(p_now, uc.upto) - w[1]),\n" \
    "  (SELECT count(*) FROM guard_user_reads ur WHERE ur.u = uc.u AND\n" \
    "   ur.t > uc.upto - w[2] AND ur.t <= greatest(p_now, uc.upto) - w[2]),\n" \
    "  (SELECT count(*) FROM guard_user_reads ur WHERE ur.u = uc.u AND\n" \
    "   ur.t > uc.upto - w[3] AND ur.t <= greatest(p_now, uc.upto) - w[3])]\n" \
    "  INTO up, n, ag FROM guard_user_counts uc WHERE uc.u = p_u;\n" \
    " IF NOT FOUND THEN up := p_now; n := '{0,0,0}'; ag := '{0,0,0}'; END IF;\n" \
    " tu := greatest(p_now, up);\n" \
    " -- new to each window: the ids less those read in it, one probe of\n" \
    " -- the key each (LIMIT 1 keeps the subquery a probe: a join, or\n" \
    " -- = ANY(ids), may be planned, for good, while the table is small,\n" \
    " -- as a scan of all the user has read with each row sought in ids\n" \
    " -- one by one: 45 ms a take of 512 records among 7,000)\n" \
    " SELECT ARRAY[\n" \
    "  cardinality(ids) - count(*) FILTER (WHERE ur.t > tu - w[1]),\n" \
    "  cardinality(ids) - count(*) FILTER (WHERE ur.t > tu - w[2]),\n" \
    "  cardinality(ids) - count(*) FILTER (WHERE ur.t > tu - w[3])] INTO a\n" \
    "  FROM unnest(ids) AS x, LATERAL (SELECT r.t FROM guard_user_reads r\n" \
    "  WHERE r.u = p_u AND r.rid = x LIMIT 1) ur;\n" \
    " FOR i IN 1..3 LOOP n[i] := n[i] - ag[i]; END LOOP;\n" \
    " -- what other nodes may let out of this user's budgets, and of the\n" \
    " -- vault's, without asking (a grant a node did not give back holds\n" \
    " -- each window until it has left that window)\n" \
    " SELECT ARRAY[\n" \
    "  coalesce(sum(gg.g) FILTER (WHERE gg.until + w[1] > tu), 0),\n" \
    "  coalesce(sum(gg.g) FILTER (WHERE gg.until + w[2] > tu), 0),\n" \
    "  coalesce(sum(gg.g) FILTER (WHERE gg.until + w[3] > tu), 0)],\n" \
    "  coalesce(sum(gg.g) FILTER (WHERE gg.s = p_s AND gg.until + w[3] > tu), 0)\n" \
    "  INTO og, osg FROM guard_grants gg WHERE gg.u = p_u;\n" \
    " -- the vault's: every user's count as it stands (this user's as\n" \
    " -- the take would leave it), and every node's grants. Decided one\n" \
    " -- take at a time over the whole vault from here to the commit: the\n" \
    " -- rows' locks alone would let takes of users of different rows each\n" \
    " -- pass the same headroom (a grant, half of it). The user's own work\n" \
    " -- (the give-back, its count, the windows) is done before.\n" \
    " IF p_chunk >= 0 THEN\n" \
    "  PERFORM pg_advisory_xact_lock(" GUARD_LOCK_SPACE ", 1);\n" \
    " END IF;\n" \
    " SELECT ARRAY[sum(vs.n[1]), sum(vs.n[2]), sum(vs.n[3])], sum(vs.g)\n" \
    "  INTO vn, vg FROM guard_vault_sums vs;\n" \
    " FOR i IN 1..3 LOOP vn[i] := vn[i] - ag[i] + a[i]; END LOOP;\n" \
    " -- the session's budget since its proof (a later proof starts it\n" \
    " -- again; a node with an older one counts against the newer)\n" \
    " IF p_s IS NOT NULL THEN\n" \
    "  SELECT sc.proof, sc.n INTO sp, sn FROM guard_session_counts sc\n" \
    "   WHERE sc.s = p_s;\n" \
    "  had := FOUND;\n" \
    "  IF NOT had OR sp < p_proof THEN\n" \
    "   IF had THEN DELETE FROM guard_session_reads WHERE s = p_s; END IF;\n" \
    "   sp := p_proof; sn := 0;\n" \
    "  END IF;\n" \
    "  -- the records new to the session are the rows its insert adds\n" \
    "  -- (probing them first cost more than the insert), taken out\n" \
    "  -- again below if the take is refused\n" \
    "  WITH ins AS (INSERT INTO guard_session_reads SELECT p_s, x, sp\n" \
    "   FROM unnest(ids) AS x ON CONFLICT DO NOTHING RETURNING rid)\n" \
    "  SELECT array_agg(ins.rid) INTO fresh FROM ins;\n" \
    "  sa := coalesce(cardinality(fresh), 0);\n" \
    " END IF;\n" \
    " -- (records already let out, p_chunk < 0, are counted whatever\n" \
    " -- the limits say)\n" \
    " FOR i IN 1..3 LOOP\n" \
    "  EXIT WHEN p_chunk < 0;\n" \
    "  IF n[i] + a[i] + og[i] > p_hard[i] THEN v := 20 + i;\n" \
    "  ELSIF NOT p_up AND n[i] + a[i] + og[i] > p_soft[i] THEN v := 10 + i;\n" \
    "  ELSIF vn[i] + vg > p_vhard[i] THEN v := 30 + i;\n" \
    "  END IF;\n" \
    "  EXIT WHEN v > 0;\n" \
    " END LOOP;\n" \
    " IF v = 0 AND p_chunk >= 0 AND p_s IS NOT NULL AND\n" \
    "  sn + sa + osg > p_budget THEN\n" \
    "  v := 14;\n" \
    " END IF;\n" \
    " IF v > 0 THEN\n" \
    "  IF sa > 0 THEN\n" \
    "   DELETE FROM guard_session_reads WHERE s = p_s AND rid = ANY(fresh);\n" \
    "  END IF;\n" \
    "  RETURN ARRAY[v, 0];\n" \
    " END IF;\n" \
    " IF p_s IS NOT NULL THEN\n" \
    "  INSERT INTO guard_session_counts VALUES (p_s, sp, sn + sa)\n" \
    "   ON CONFLICT (s) DO UPDATE SET proof = excluded.proof,\n" \
    "   n = excluded.n;\n" \
    " END IF;\n" \
    " -- allowed: counted\n" \
    " INSERT INTO guard_user_counts VALUES (p_u, tu,\n" \
    "  ARRAY[n[1] + a[1], n[2] + a[2], n[3] + a[3]])\n" \
    "  ON CONFLICT (u) DO UPDATE SET upto = excluded.upto, n = excluded.n;\n" \
    " IF a <> ag THEN\n" \
    "  UPDATE guard_vault_sums vs SET n = ARRAY[vs.n[1] + a[1] - ag[1],\n" \
    "   vs.n[2] + a[2] - ag[2], vs.n[3] + a[3] - ag[3]] WHERE vs.k = ku;\n" \
    " END IF;\n" \
    " INSERT INTO guard_user_reads SELECT p_u, x, tu + sec - 1 - (tu + sec - 1) % sec\n" \
    "  FROM unnest(ids) AS x ON CONFLICT (u, rid) DO UPDATE SET t = excluded.t\n" \
    "  WHERE guard_user_reads.t < excluded.t;\n" \
    " -- rows past the day are counted nowhere: deleted once a minute\n" \
    " IF tu / w[1] <> up / w[1] THEN\n" \
    "  DELETE FROM guard_user_reads WHERE u = p_u AND t <= tu - w[3];\n" \
    " END IF;\n" \
    " -- a grant: what this node may let out of this user's budgets without\n" \
    " -- asking, until p_lease has passed; half of what is left above a\n" \
    " -- reserve of 32 in every window, the session's and the vault's, so that\n" \
    " -- the last records of any budget are decided one by one\n" \
    " IF p_node IS NULL OR p_chunk <= 0 THEN RETURN ARRAY[0, 0]; END IF;\n" \
    " gr := p_chunk;\n" \
    " FOR i IN 1..3 LOOP\n" \
    "  gr := least(gr, ((CASE WHEN p_up THEN p_hard[i]\n" \
    "   ELSE least(p_soft[i], p_hard[i]) END) - n[i] - a[i] - og[i] - 32) / 2,\n" \
    "   (p_vhard[i] - vn[i] - vg - 32) / 2);\n" \
    " END LOOP;\n" \
    " IF p_s IS NOT NULL THEN\n" \
    "  gr := least(gr, (p_budget - sn - sa - osg - 32) / 2);\n" \
    " END IF;\n" \
    " IF gr <= 0 THEN RETURN ARRAY[0, 0]; END IF;\n" \
    " INSERT INTO guard_grants VALUES (p_node, p_u, p_s, gr, tu + p_lease);\n" \
    " UPDATE guard_vault_sums vs SET g = vs.g + gr WHERE vs.k = ku;\n" \
    " RETURN ARRAY[0, gr];\n" \
    "END $$;\n"

/*
 * Once a minute from each node's tick, one node at a time. Grants a day
 * past their lease (their nodes died or lost the database before giving
 * them back) out of the vault's sums. Then users who have not read for a
 * minute, up to 500 or a tenth of a second a call, those with a minute's
 * count first, then the oldest: their counts brought forward as a take
 * would (each under its user's lock, skipped if a take holds it), so
 * that what aged out of their windows leaves the vault's sums too, and
 * their rows past the day deleted. At p_now, but never past the
 * database's clock. Returns what came back of grants.
 */
#define PG_EXPIRE \
    "CREATE OR REPLACE FUNCTION cv_guard_expire(p_now BIGINT) RETURNS INT" \
    " LANGUAGE plpgsql AS $$\n" \
    "DECLARE\n" \
    " w BIGINT[] := ARRAY[60000000, 3600000000, 86400000000];\n" \
    " back INT := 0; c RECORD; up BIGINT; ag INT[]; tn BIGINT; k INT;\n" \
    " d INT[] := array_fill(0, ARRAY[64]); t0 TIMESTAMPTZ := clock_timestamp();\n" \
    "BEGIN\n" \
    " IF current_setting('transaction_isolation') <> 'read committed' THEN\n" \
    "  RAISE EXCEPTION 'the shared guard needs READ COMMITTED';\n" \
    " END IF;\n" \
    " PERFORM set_config('synchronous_commit', 'off', true);\n" \
    " -- one node at a time\n" \
    " IF NOT pg_try_advisory_xact_lock(" GUARD_LOCK_SPACE ", 2) THEN\n" \
    "  RETURN 0;\n" \
    " END IF;\n" \
    " -- never past the database's clock: a node whose clock is ahead would\n" \
    " -- age every user's windows, and end grants, early for all nodes\n" \
    " tn := least(p_now,\n" \
    "  (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT);\n" \
    " -- what changes in each row of the sums (row k: its grants at\n" \
    " -- d[4k+1], its windows at d[4k+2..4k+4]), applied at the end in one\n" \
    " -- statement, so that no take waits on a row for the whole call\n" \
    " FOR c IN WITH gone AS (DELETE FROM guard_grants WHERE ctid = ANY(ARRAY(\n" \
    "  SELECT gg.ctid FROM guard_grants gg WHERE gg.until + w[3] <= tn\n" \
    "  FOR UPDATE SKIP LOCKED)) RETURNING guard_grants.u, guard_grants.g)\n" \
    "  SELECT hashtext(gone.u) & 15 AS k, sum(gone.g)::INT AS g FROM gone\n" \
    "  GROUP BY 1 LOOP\n" \
    "  d[4 * c.k + 1] := d[4 * c.k + 1] + c.g;\n" \
    "  back := back + c.g;\n" \
    " END LOOP;\n" \
    " -- (the minute's first: a user with none changes only in the hour\n" \
    " -- and the day, whose counts a minute moves little; a tenth of a\n" \
    " -- second at most, the rest at the next tick)\n" \
    " FOR c IN SELECT uc.u FROM guard_user_counts uc\n" \
    "  WHERE uc.upto <= tn - w[1] AND uc.n <> '{0,0,0}'\n" \
    "  ORDER BY uc.n[1] > 0 DESC, uc.upto LIMIT 500 LOOP\n" \
    "  EXIT WHEN clock_timestamp() - t0 > interval '100 ms';\n" \
    "  CONTINUE WHEN NOT pg_try_advisory_xact_lock(hashtext('cv_guard ' || c.u));\n" \
    "  -- (read again under the lock: a take may have come between)\n" \
    "  SELECT uc.upto, ARRAY[\n" \
    "   (SELECT count(*) FROM guard_user_reads ur WHERE ur.u = uc.u AND\n" \
    "    ur.t > uc.upto - w[1] AND ur.t <= tn - w[1]),\n" \
    "   (SELECT count(*) FROM guard_user_reads ur WHERE ur.u = uc.u AND\n" \
    "    ur.t > uc.upto - w[2] AND ur.t <= tn - w[2]),\n" \
    "   (SELECT count(*) FROM guard_user_reads ur WHERE ur.u = uc.u AND\n" \
    "    ur.t > uc.upto - w[3] AND ur.t <= tn - w[3])]\n" \
    "   INTO up, ag FROM guard_user_counts uc WHERE uc.u = c.u;\n" \
    "  CONTINUE WHEN up > tn - w[1];\n" \
    "  UPDATE guard_user_counts uc SET upto = tn, n = ARRAY[uc.n[1] - ag[1],\n" \
    "   uc.n[2] - ag[2], uc.n[3] - ag[3]] WHERE uc.u = c.u;\n" \
    "  DELETE FROM guard_user_reads WHERE u = c.u AND t <= tn - w[3];\n" \
    "  k := hashtext(c.u) & 15;\n" \
    "  FOR i IN 1..3 LOOP d[4 * k + 1 + i] := d[4 * k + 1 + i] + ag[i]; END LOOP;\n" \
    " END LOOP;\n" \
    " UPDATE guard_vault_sums vs SET g = vs.g - d[4 * vs.k + 1],\n" \
    "  n = ARRAY[vs.n[1] - d[4 * vs.k + 2], vs.n[2] - d[4 * vs.k + 3],\n" \
    "  vs.n[3] - d[4 * vs.k + 4]] WHERE d[4 * vs.k + 1] <> 0 OR\n" \
    "  d[4 * vs.k + 2] <> 0 OR d[4 * vs.k + 3] <> 0 OR d[4 * vs.k + 4] <> 0;\n" \
    " RETURN back;\n" \
    "END $$;"

/* The sums as they are by definition, made at an upgrade (from a release
 * that kept the vault's reads by record) while no take may change a
 * count or a grant. */
#define PG_SUMS \
    "SET LOCAL lock_timeout = '5s';" \
    "LOCK TABLE guard_grants, guard_user_counts IN SHARE ROW EXCLUSIVE MODE;" \
    "DROP TABLE IF EXISTS guard_vault_reads, guard_vault_counts," \
    " guard_vault_grants, guard_vault_sums;" \
    VAULT_SUMS \
    "INSERT INTO guard_vault_sums SELECT k," \
    " ARRAY[coalesce(sum(uc.n[1]), 0), coalesce(sum(uc.n[2]), 0)," \
    " coalesce(sum(uc.n[3]), 0)], coalesce((SELECT sum(gg.g) FROM guard_grants" \
    " gg WHERE hashtext(gg.u) & 15 = k), 0)" \
    " FROM generate_series(0, 15) AS k LEFT JOIN guard_user_counts uc" \
    " ON hashtext(uc.u) & 15 = k GROUP BY k;"

/* Whether the database's cv_guard_take is this release's: 1, 0, or -1
 * (the question failed). */
static int
take_current(struct cv_store *s)
{
	struct cv_db_stmt *st;
	int rc, current = 1;

	if (store_stmt(s, "SELECT position('" TAKE_VERSION "' IN prosrc) > 0"
	    " FROM pg_proc WHERE proname = 'cv_guard_take'", &st) != CV_OK)
		return -1;
	if ((rc = db_step(st)) == CV_DB_ROW)
		current = (int)db_column_int64(st, 0);
	store_release(st);
	return rc == CV_DB_ROW || rc == CV_DB_DONE ? current : -1;
}

cv_err
store_guard_upgrade(struct cv_store *s)
{
	char why[256] = "";
	int current;

	if (!cv_store_shared(s))
		return CV_OK;
	/* Nodes that start together replace it one after the other (each
	 * asks again before it tries). One that may not (a role without
	 * the right) goes on with the older body and its tables, as the
	 * transaction leaves them. Every node is to run one release (stop
	 * them all, start them on the new one): a node of an older one that
	 * opens the database puts its body back, which finds none of its
	 * tables: every read refused until a node of this release opens
	 * it. */
	for (int i = 0; i < 5; i++) {
		struct timespec pause = { 0, 200000000 };

		if ((current = take_current(s)) < 0)
			return cv_fail(CV_ERR_STORE, "guard: %s",
			    db_errmsg(s->db));
		if (current)
			return CV_OK;
		if (db_begin(s->db, CV_DB_IMMEDIATE) != CV_OK)
			break;
		if (db_exec(s->db, PG_SUMS PG_TAKE PG_EXPIRE) == CV_OK &&
		    db_commit(s->db) == CV_OK)
			return CV_OK;
		snprintf(why, sizeof why, "%s", db_errmsg(s->db));
		(void)db_rollback(s->db);
		/* Takes of nodes still running (the tables' locks, a
		 * deadlock PostgreSQL broke with this side): again. */
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "clearvault: cannot bring the shared guard's functions "
	    "to this release (the older ones stay): %s\n", why);
	return CV_OK;
}

const char *const store_guard_schema[2] = {
	[CV_DB_SQLITE] = "",
	[CV_DB_POSTGRESQL] = PG_TABLES PG_TAKE PG_EXPIRE,
};

int
cv_store_shared(const struct cv_store *s)
{
	return s->db->ops->dialect == CV_DB_POSTGRESQL;
}

static cv_err
prep(struct cv_store *s, const char *q, struct cv_db_stmt **st)
{
	if (!cv_store_shared(s))
		return cv_fail(CV_ERR_INVALID, "the shared guard needs a "
		    "PostgreSQL vault");
	if (store_stmt(s, q, st) != CV_OK)
		return cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	return CV_OK;
}

cv_err
cv_store_guard_take(struct cv_store *s, const struct cv_store_take *t,
    enum cv_store_verdict *v, unsigned *window, unsigned *grant)
{
	struct cv_buf rids = { 0 }, soft = { 0 }, hard = { 0 }, vhard = { 0 },
	    settle = { 0 };
	struct cv_db_stmt *st = NULL;
	int rc, code;
	cv_err r;

	*v = CV_TAKE_ALLOW;
	*window = 0;
	*grant = 0;
	if ((r = prep(s, "SELECT x[1], x[2] FROM (SELECT cv_guard_take(?1, "
	    "?2, ?3, ?4, ?5::text[], ?6, ?7::int[], ?8::int[], ?9::int[], "
	    "?10 <> 0, ?11, ?12::text[], ?13, ?14) AS x) AS q", &st)) !=
	    CV_OK)
		return r;
	if ((r = store_array_text(&rids, t->rids, t->n, NULL)) != CV_OK ||
	    (r = store_array_text(&settle, t->settle, t->nsettle, NULL)) != CV_OK ||
	    (r = store_array_text(&soft, NULL, 3, t->soft)) != CV_OK ||
	    (r = store_array_text(&hard, NULL, 3, t->hard)) != CV_OK ||
	    (r = store_array_text(&vhard, NULL, 3, t->vhard)) != CV_OK)
		goto out;
	db_bind_text(st, 1, t->user);
	if (t->session)
		db_bind_text(st, 2, t->session);
	else
		db_bind_null(st, 2);
	db_bind_int64(st, 3, t->proof_us);
	db_bind_int64(st, 4, t->budget);
	db_bind_text(st, 5, (const char *)rids.p);
	db_bind_int64(st, 6, t->now_us);
	db_bind_text(st, 7, (const char *)soft.p);
	db_bind_text(st, 8, (const char *)hard.p);
	db_bind_text(st, 9, (const char *)vhard.p);
	db_bind_int64(st, 10, t->stepped_up);
	if (t->node)
		db_bind_text(st, 11, t->node);
	else
		db_bind_null(st, 11);
	db_bind_text(st, 12, (const char *)settle.p);
	db_bind_int64(st, 13, t->chunk > INT32_MAX ? INT32_MAX : t->chunk);
	db_bind_int64(st, 14, t->lease_us);
	if ((rc = db_step(st)) != CV_DB_ROW) {
		r = cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
		goto out;
	}
	code = (int)db_column_int64(st, 0);
	*grant = (unsigned)db_column_int64(st, 1);
	*window = (unsigned)code % 10;
	*v = code == 0 ? CV_TAKE_ALLOW : code == 40 ? CV_TAKE_LOCKED :
	    code == 14 ? CV_TAKE_SESSION : code < 20 ? CV_TAKE_STEP_UP :
	    code < 30 ? CV_TAKE_DENY : CV_TAKE_CEILING;
 out:
	if (st)
		store_release(st);
	cv_buf_free(&rids);
	cv_buf_free(&soft);
	cv_buf_free(&hard);
	cv_buf_free(&vhard);
	cv_buf_free(&settle);
	return r;
}

cv_err
cv_store_guard_expire(struct cv_store *s, int64_t now_us)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "SELECT cv_guard_expire(?1)", &st)) != CV_OK)
		return r;
	db_bind_int64(st, 1, now_us);
	if (db_step(st) != CV_DB_ROW)
		r = cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_guard_lock(struct cv_store *s, const char *user, const char *reason,
    int64_t *since)
{
	struct cv_db_stmt *st;
	int64_t v = 0;
	cv_err r;

	/* The row's name: a number of one sequence for every node, so that
	 * a later lock has a larger one, even after the row was deleted
	 * (unlocks.c); locked again, the row takes a new one, under the
	 * row's lock, so that approvals given for the lock before count no
	 * more, as in a guard's memory. The first reason stays. */
	if ((r = prep(s, "INSERT INTO guard_locks VALUES (?1, ?2,"
	    " nextval('guard_lock_since')) ON CONFLICT (u) DO UPDATE"
	    " SET since = nextval('guard_lock_since') RETURNING since",
	    &st)) != CV_OK)
		return r;
	db_bind_text(st, 1, user);
	db_bind_text(st, 2, reason);
	if (db_step(st) == CV_DB_ROW)
		v = db_column_int64(st, 0);
	else
		r = cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	store_release(st);
	if (since)
		*since = v;
	return r;
}

cv_err
cv_store_guard_unlock(struct cv_store *s, const char *user)
{
	struct cv_db_stmt *st;
	cv_err r;

	if ((r = prep(s, "DELETE FROM guard_locks WHERE u = ?1", &st)) !=
	    CV_OK)
		return r;
	db_bind_text(st, 1, user);
	if (db_step(st) != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_guard_locked(struct cv_store *s, const char *user, int *locked)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	*locked = 0;
	if ((r = prep(s, "SELECT 1 FROM guard_locks WHERE u = ?1", &st)) !=
	    CV_OK)
		return r;
	db_bind_text(st, 1, user);
	if ((rc = db_step(st)) == CV_DB_ROW)
		*locked = 1;
	else if (rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}

cv_err
cv_store_guard_locks(struct cv_store *s,
    void (*fn)(void *ctx, const char *user, const char *reason,
    int64_t since), void *ctx)
{
	struct cv_db_stmt *st;
	int rc;
	cv_err r;

	if ((r = prep(s, "SELECT u, reason, since FROM guard_locks ORDER BY u",
	    &st)) != CV_OK)
		return r;
	while ((rc = db_step(st)) == CV_DB_ROW)
		fn(ctx, db_column_text(st, 0), db_column_text(st, 1),
		    db_column_int64(st, 2));
	if (rc != CV_DB_DONE)
		r = cv_fail(CV_ERR_STORE, "guard: %s", db_errmsg(s->db));
	store_release(st);
	return r;
}
