/*
 * Loading JSON Lines: a reader thread cuts the input into batches, worker
 * threads parse, validate, serialise and encrypt them, and the calling
 * thread writes them to the store in input order. SQLite has one writer;
 * everything else runs on the other cores. Into PostgreSQL a batch of new
 * records goes in one go (COPY: cv_store_load_bulk), anything else record
 * by record, as into SQLite.
 *
 * The writes go in short transactions (TX_SECONDS), so that a server's
 * logins and sessions, which write too, never wait long; the records stay
 * hidden until the last transaction marks the load done (store/loads.c),
 * so a load still stores all or nothing. That last transaction also
 * writes the canary list, and it commits only once the load's
 * CV_LOAD_BEGIN entry is durable.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <nettle/sha2.h>
#include <sodium.h>

#include "vault_internal.h"

#define BATCH_RECORDS 256
#define RING 8			/* batches in flight */
#define CHUNK (1u << 20)
/*
 * How long one transaction of a load may hold the write lock: about what
 * a server's login may have to wait. Shorter costs throughput, as each
 * commit rewrites the index pages its rows touched (the blind indexes are
 * random): against one transaction, a 100,000-record load lost ~20 % at
 * 0.1 s, ~9 % at 0.25 s, ~1 % at 0.5 s.
 */
#define TX_SECONDS 0.25
/* After each of them the lock stays free this long, so that a writer
 * waiting for it (polling every millisecond: store.c) gets its turn. */
#define TX_GAP_NS 5000000
#define LOCK_WAIT 10.0		/* for another load to finish */

_Static_assert(SHA256_DIGEST_SIZE == CV_LOAD_DIGEST_BYTES &&
    CV_LOAD_DIGEST_BYTES == CV_STORE_DIGEST_BYTES, "one digest size");

enum { B_EMPTY, B_READ, B_WORKING, B_DONE };

enum { NOT_CANARY, CANARY_IN_PLACE, CANARY_AT_END };

struct slot {
	uint64_t line;
	int canary;		/* NOT_CANARY, CANARY_* */
	size_t off, len;	/* in batch text; len > max: too long */
	int bad;
	struct cv_record_error err;
	struct cv_record_fields f;
	struct cv_buf body;
	struct cv_store_put put;
};

struct batch {
	int state;
	uint64_t seq;
	struct cv_buf text;
	struct slot slot[BATCH_RECORDS];
	size_t n;
	uint64_t bytes;
};

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch ring[RING];
	uint64_t next_read, nbatches;	/* nbatches valid once eof */
	int eof, stop;
	cv_err read_err;
	struct cv_keys *keys;
	FILE *in;
	/* reader state */
	uint8_t *chunk;
	size_t cpos, clen;
	uint64_t line;
	int chunk_eof;
	/* canaries to mix in: after these lines (a regular file), or one
	 * per CV_CANARY_RATE lines at random; the rest at the end */
	int64_t want;		/* still to place; CV_CANARIES_AUTO: by rate */
	int64_t topup;		/* by rate: at least this many in all */
	uint64_t *at;		/* line numbers, ascending */
	size_t nat, next_at;
	int64_t made;
	/* Of every input byte read. nettle's SHA-256 uses the CPU's SHA
	 * extensions: libsodium's took a second of CPU per 260 MB. */
	struct sha256_ctx sha;
};

/* Reads one line into B's text. Returns 0 at end of input. */
static int
read_line(struct pipe *p, struct batch *b, struct slot *s, cv_err *err)
{
	uint8_t *nl;
	size_t take, start = b->text.len;
	int got = 0, toolong = 0;

	for (;;) {
		if (p->cpos == p->clen) {
			if (p->chunk_eof)
				break;
			p->clen = fread(p->chunk, 1, CHUNK, p->in);
			p->cpos = 0;
			sha256_update(&p->sha, p->clen, p->chunk);
			if (p->clen < CHUNK) {
				if (ferror(p->in)) {
					*err = cv_fail(CV_ERR_IO, "read error "
					    "on input");
					return 0;
				}
				p->chunk_eof = 1;
			}
			if (p->clen == 0)
				break;
		}
		got = 1;
		nl = memchr(p->chunk + p->cpos, '\n', p->clen - p->cpos);
		take = (nl ? (size_t)(nl - p->chunk) : p->clen) - p->cpos;
		b->bytes += take + (nl != NULL);
		/* Keep at most max + 1 bytes: enough to know it is too long. */
		if (!toolong) {
			size_t room = CV_RECORD_MAX_BYTES + 1 -
			    (b->text.len - start);
			size_t keep = take < room ? take : room;
			if ((*err = cv_buf_add(&b->text, p->chunk + p->cpos,
			    keep)) != CV_OK)
				return 0;
			toolong = keep < take;
		}
		p->cpos += take + (nl != NULL);
		if (nl)
			break;
	}
	if (!got)
		return 0;
	s->line = ++p->line;
	s->off = start;
	s->len = b->text.len - start;
	if (s->len && b->text.p[start + s->len - 1] == '\r')
		s->len--;
	return 1;
}

/* Appends a canary to B as if it had been read after P's last line;
 * WHERE: CANARY_IN_PLACE, or CANARY_AT_END (to be moved, canary.c). */
static int
add_canary(struct pipe *p, struct batch *b, int where, cv_err *err)
{
	struct slot *s = &b->slot[b->n];
	size_t start = b->text.len;

	if ((*err = vault_canary_make(&b->text)) != CV_OK)
		return 0;
	s->line = p->line;
	s->off = start;
	s->len = b->text.len - start - 1;	/* without the newline */
	s->canary = where;
	b->n++;
	p->made++;
	return 1;
}

/* A canary is due after the line just read. */
static int
canary_due(struct pipe *p)
{
	if (p->at)
		return p->next_at < p->nat && p->at[p->next_at] <= p->line ?
		    (p->next_at++, 1) : 0;
	return p->want == CV_CANARIES_AUTO &&
	    randombytes_uniform(CV_CANARY_RATE) == 0;
}

/* Fills a batch; returns 0 when there was nothing left to read. */
static int
fill(struct pipe *p, struct batch *b, cv_err *err)
{
	b->text.len = 0;
	b->n = 0;
	b->bytes = 0;
	while (b->n < BATCH_RECORDS) {
		struct slot *s = &b->slot[b->n];
		s->canary = NOT_CANARY;
		if (!read_line(p, b, s, err))
			break;
		if (s->len == 0)	/* blank lines are allowed */
			continue;
		b->n++;
		if (b->n < BATCH_RECORDS && canary_due(p) &&
		    !add_canary(p, b, CANARY_IN_PLACE, err))
			return 0;
	}
	/* At the end: whatever the schedule or the rate left over. */
	while (b->n < BATCH_RECORDS && p->chunk_eof && p->cpos == p->clen &&
	    *err == CV_OK && p->made < (p->at ? (int64_t)p->nat :
	    p->want == CV_CANARIES_AUTO ? p->topup : p->want)) {
		if (!add_canary(p, b, CANARY_AT_END, err))
			return 0;
	}
	return b->n > 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The lines of a regular file IN from POS (SPAN bytes): all of them when
 * its first MiB is all there is, or else an estimate from that MiB, an
 * eighth over: lines past an estimate too low would get no canary, while
 * those an estimate too high leaves over are moved among the rows.
 */
static cv_err
count_lines(FILE *in, long pos, uint64_t span, uint64_t *est)
{
	uint8_t *buf;
	ssize_t got;
	uint64_t nl = 0;
	int ends = 1;

	if ((buf = malloc(CHUNK)) == NULL)
		return CV_ERR_NOMEM;
	got = pread(fileno(in), buf, CHUNK, pos);
	for (ssize_t i = 0; i < got; i++)
		nl += buf[i] == '\n';
	if (got > 0)
		ends = buf[got - 1] == '\n';
	free(buf);
	if (got <= 0)
		return cv_fail(CV_ERR_IO, "read error on input");
	if ((uint64_t)got == span)
		*est = nl + !ends;
	else
		*est = nl ? span * nl / (uint64_t)got * 9 / 8 : 1;
	return CV_OK;
}

/*
 * Where the canaries go. A regular file is spread over by line, so that
 * their rows are scattered like any record's: by byte offset, the row
 * before a canary would be longer than most (the longer a line, the more
 * offsets fall in it). The automatic count comes from the file's size. The list is checked first, whatever is planted:
 * a load does not build on a list that is missing or wrong (a replant is
 * what repairs it).
 */
static cv_err
plan_canaries(struct pipe *p, struct cv_vault *v, const struct cv_load_opts *o)
{
	struct cv_buf list = { 0 };
	struct stat sb;
	long pos;
	uint64_t span, n, lines = 1;
	size_t have, dropped;
	int64_t want = o->canaries, target, records, shredded;
	int stored;
	cv_err r;

	p->want = want;
	r = vault_canaries_read(v, o->replant, &list, &have, &dropped,
	    &stored);
	cv_buf_free(&list);
	if (r != CV_OK || want == 0)
		return r;
	target = cv_vault_canaries_min(v);
	/* A replant makes up for a lost list: as many as loads would have
	 * planted among the records there are. */
	if (o->replant) {
		if ((r = cv_store_count(v->store, &records, &shredded)) !=
		    CV_OK)
			return r;
		if (records / CV_CANARY_RATE > target)
			target = records / CV_CANARY_RATE;
	}
	p->topup = (int64_t)have < target ? target - (int64_t)have : 0;
	if (fstat(fileno(p->in), &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (pos = ftell(p->in)) < 0 || (uint64_t)sb.st_size <= (uint64_t)pos)
		return CV_OK;	/* a pipe: by rate */
	span = (uint64_t)sb.st_size - (uint64_t)pos;
	if (want == CV_CANARIES_AUTO) {
		/* ~2.6 KB a record (docs/schema.md); real data may differ,
		 * the minimum holds either way. */
		n = span / 2600 / CV_CANARY_RATE;
		if (n < (uint64_t)p->topup)
			n = (uint64_t)p->topup;
	} else
		n = (uint64_t)want;
	if (n == 0)
		return CV_OK;
	if (n > 10000000)
		return cv_fail(CV_ERR_INVALID, "too many canaries");
	if ((r = count_lines(p->in, pos, span, &lines)) != CV_OK)
		return r;
	if ((p->at = malloc(n * sizeof *p->at)) == NULL)
		return CV_ERR_NOMEM;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t x;
		randombytes_buf(&x, sizeof x);
		p->at[i] = 1 + x % lines;
	}
	qsort(p->at, n, sizeof *p->at, cmp_u64);
	p->nat = n;
	return CV_OK;
}

/* CV_ERR_EXISTS, naming the earlier load, if a done load read DIGEST. */
static cv_err
check_rerun(struct cv_vault *v, const uint8_t digest[static 32])
{
	struct cv_store_load l;
	char hex[65];
	cv_err r;

	if ((r = cv_store_load_find(v->store, digest, &l)) == CV_ERR_NOT_FOUND)
		return CV_OK;
	if (r != CV_OK)
		return r;
	sodium_bin2hex(hex, sizeof hex, digest, 32);
	return cv_fail(CV_ERR_EXISTS, "this input was loaded already, as load "
	    "%lld (%lld records; input sha256 %s): nothing stored; "
	    "--new-version stores every record of it again as a new version",
	    (long long)l.id, (long long)l.records, hex);
}

/*
 * A regular file as long as some done load's input is hashed before any
 * work, so that a rerun is refused at once; any other input is checked
 * when it has been read (in the last transaction).
 */
static cv_err
check_rerun_early(struct cv_vault *v, FILE *in)
{
	struct sha256_ctx sha;
	uint8_t digest[SHA256_DIGEST_SIZE], *buf;
	struct stat sb;
	long pos;
	ssize_t got;
	int same = 0;
	cv_err r;

	if (fstat(fileno(in), &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (pos = ftell(in)) < 0 || sb.st_size < pos)
		return CV_OK;
	if ((r = cv_store_load_sized(v->store, sb.st_size - pos, &same)) !=
	    CV_OK || !same)
		return r;
	if ((buf = malloc(CHUNK)) == NULL)
		return CV_ERR_NOMEM;
	sha256_init(&sha);
	while ((got = pread(fileno(in), buf, CHUNK, pos)) > 0) {
		sha256_update(&sha, (size_t)got, buf);
		pos += got;
	}
	free(buf);
	if (got < 0)
		return cv_fail(CV_ERR_IO, "read error on input");
	sha256_digest(&sha, sizeof digest, digest);
	return check_rerun(v, digest);
}

/*
 * The canaries as the writer stores them. A canary is planted only among
 * records the load adds: a load of new versions alone would otherwise add
 * rows of canaries only (issue 17). The ones written after the last
 * record are moved among the others (vault_canaries_commit).
 */
struct planting {
	int after_version;	/* the last record written was a new version */
	struct cv_buf planted;	/* ids stored, one a line */
	struct cv_buf moved;	/* of those, the ones written at the end */
};

static void *
reader(void *arg)
{
	struct pipe *p = arg;
	struct batch *b;
	cv_err err = CV_OK;
	int more, old;

	/* Cancellable only while reading: a failed load must not wait for
	 * input that may never come (a terminal, an idle pipe). */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	for (;;) {
		pthread_mutex_lock(&p->mu);
		b = &p->ring[p->next_read % RING];
		while (!p->stop && b->state != B_EMPTY)
			pthread_cond_wait(&p->cv, &p->mu);
		pthread_mutex_unlock(&p->mu);
		if (p->stop)
			return NULL;
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
		more = fill(p, b, &err);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
		pthread_mutex_lock(&p->mu);
		if (err != CV_OK) {
			p->read_err = err;
			more = 0;
		}
		if (more) {
			b->seq = p->next_read++;
			b->state = B_READ;
		} else {
			p->eof = 1;
			p->nbatches = p->next_read;
		}
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		if (!more)
			return NULL;
	}
}

static void
prepare(struct pipe *p, struct batch *b, struct slot *s)
{
	const char *text = (const char *)b->text.p + s->off;
	cv_err r;

	s->bad = 0;
	if (s->len > CV_RECORD_MAX_BYTES) {
		s->bad = 1;
		snprintf(s->err.path, sizeof s->err.path, "(record)");
		snprintf(s->err.reason, sizeof s->err.reason, "line longer "
		    "than %d bytes", CV_RECORD_MAX_BYTES);
		return;
	}
	if (cv_record_scan(text, s->len, &s->f, &s->err) != CV_OK) {
		s->bad = 1;
		return;
	}
	if ((r = vault_bidx(p->keys, &s->f, s->put.ssn_bi, s->put.name_bi)) !=
	    CV_OK ||
	    (r = vault_seal(p->keys, &s->f, text, 1, &s->put, &s->body)) !=
	    CV_OK) {
		s->bad = 1;
		snprintf(s->err.path, sizeof s->err.path, "(record)");
		snprintf(s->err.reason, sizeof s->err.reason, "%s",
		    cv_strerror(r));
	}
}

static void *
worker(void *arg)
{
	struct pipe *p = arg;
	struct batch *b;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		for (;;) {
			b = NULL;
			for (i = 0; i < RING; i++) {
				struct batch *c = &p->ring[i];
				if (c->state == B_READ &&
				    (b == NULL || c->seq < b->seq))
					b = c;
			}
			if (b || p->stop || p->eof)
				break;
			pthread_cond_wait(&p->cv, &p->mu);
		}
		if (b == NULL || p->stop) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		b->state = B_WORKING;
		pthread_mutex_unlock(&p->mu);
		for (i = 0; i < b->n; i++)
			prepare(p, b, &b->slot[i]);
		pthread_mutex_lock(&p->mu);
		b->state = B_DONE;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

/* Writes a bad record and its reason to the reject file as JSON. */
static cv_err
reject(FILE *f, const struct batch *b, const struct slot *s)
{
	json_t *j = json_pack("{s:I, s:s, s:s, s:s%}", "line",
	    (json_int_t)s->line, "field", s->err.path, "reason",
	    s->err.reason, "record", (const char *)b->text.p + s->off,
	    s->len > CV_RECORD_MAX_BYTES ? (size_t)0 : s->len);
	int rc;

	if (j == NULL)	/* not UTF-8: keep the position and reason only */
		j = json_pack("{s:I, s:s, s:s}", "line", (json_int_t)s->line,
		    "field", s->err.path, "reason", s->err.reason);
	if (j == NULL)
		return CV_ERR_NOMEM;
	rc = json_dumpf(j, f, JSON_COMPACT);
	json_decref(j);
	if (rc != 0 || fputc('\n', f) == EOF)
		return cv_fail(CV_ERR_IO, "cannot write the reject file");
	return CV_OK;
}

/* Counts and keeps canary S, stored. */
static cv_err
plant(struct planting *pl, const struct slot *s, struct cv_load_stats *st)
{
	size_t n = strlen(s->put.rid);
	cv_err r;

	st->canaries++;
	if ((r = cv_buf_add(&pl->planted, s->put.rid, n)) != CV_OK ||
	    (r = cv_buf_add(&pl->planted, "\n", 1)) != CV_OK)
		return r;
	if (s->canary == CANARY_AT_END &&
	    ((r = cv_buf_add(&pl->moved, s->put.rid, n)) != CV_OK ||
	    (r = cv_buf_add(&pl->moved, "\n", 1)) != CV_OK))
		return r;
	return CV_OK;
}

static cv_err
write_slot(struct cv_vault *v, const struct cv_load_opts *o, struct batch *b,
    struct slot *s, int64_t load, struct planting *pl,
    struct cv_load_stats *st, struct cv_load_error *err)
{
	uint32_t old = 0;
	int exists, own;
	cv_err r;

	/* Canaries go among new records only (see struct planting). */
	if (s->canary && !s->bad && pl->after_version)
		return CV_OK;

	if (s->bad) {
		if (o->reject == NULL) {
			err->line = s->line;
			err->rec = s->err;
			return CV_ERR_INVALID;
		}
		st->rejected++;
		return reject(o->reject, b, s);
	}
	s->put.load = load;
	if ((r = cv_store_load_insert(v->store, &s->put, &exists, &own,
	    &old)) != CV_OK)
		return r;
	/* A canary's id that is taken (one in 2^64 per record): not this
	 * one; a new version would make a record a canary. */
	if (s->canary)
		return exists ? CV_OK : plant(pl, s, st);
	pl->after_version = exists;
	if (exists) {
		/* A new version: new data key, boxes bound to the version. */
		if ((r = vault_seal(v->sk->k, &s->f, (const char *)b->text.p +
		    s->off, old + 1, &s->put, &s->body)) != CV_OK ||
		    (r = cv_store_load_version(v->store, &s->put, own)) != CV_OK)
			return r;
		st->versions++;
	}
	st->stored++;
	return CV_OK;
}

/*
 * B's slots, as write_slot would write them one by one: in one go when
 * the store can (PostgreSQL: COPY) and every record is new, the rejects
 * and canaries then counted and kept as write_slot does. A bad record
 * without a reject file, a rid that is taken (a new version, a canary's
 * id), or a store without a bulk path: slot by slot.
 */
static cv_err
write_batch(struct cv_vault *v, const struct cv_load_opts *o, struct batch *b,
    int64_t load, struct planting *pl, struct cv_load_stats *st,
    struct cv_load_error *err)
{
	const struct cv_store_put *put[BATCH_RECORDS];
	struct slot *s;
	size_t n = 0, i;
	int after = pl->after_version, written = 0;
	cv_err r = CV_OK;

	for (i = 0; i < b->n && (!b->slot[i].bad || o->reject); i++) {
		s = &b->slot[i];
		if (s->bad || (s->canary && after))
			continue;
		after = s->canary ? after : 0;
		s->put.load = load;
		put[n++] = &s->put;
	}
	if (i == b->n && (r = cv_store_load_bulk(v->store, put, n,
	    &written)) != CV_OK)
		return r;
	for (i = 0; !written && r == CV_OK && i < b->n; i++)
		r = write_slot(v, o, b, &b->slot[i], load, pl, st, err);
	for (i = 0; written && r == CV_OK && i < b->n; i++) {
		s = &b->slot[i];
		if (s->bad) {
			st->rejected++;
			r = reject(o->reject, b, s);
		} else if (!s->canary) {
			st->stored++;
			pl->after_version = 0;
		} else if (!pl->after_version)
			r = plant(pl, s, st);
	}
	return r;
}

static void
wipe_batch(struct batch *b)
{
	sodium_memzero(b->text.p, b->text.len);
	for (size_t i = 0; i < b->n; i++)
		sodium_memzero(&b->slot[i].f, sizeof b->slot[i].f);
}

static unsigned
nworkers(const struct cv_load_opts *o)
{
	long n = o->threads ? (long)o->threads : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 16 ? 16 : (unsigned)n;
}

/* Starts the next short transaction; the first one registers the load. */
static cv_err
tx_begin(struct cv_vault *v, struct cv_store_load *ld, double *t0)
{
	cv_err r;

	if ((r = cv_store_begin(v->store)) != CV_OK)
		return r;
	*t0 = cv_now();
	if (ld->id == 0 && (r = cv_store_load_new(v->store,
	    cv_time_us(), &ld->id)) != CV_OK) {
		cv_store_rollback(v->store);
		ld->id = 0;
	}
	return r;
}

/*
 * The end of the input, in the load's last transaction: refuses a rerun,
 * writes the canary list, puts the load on the log (write-ahead) and only
 * then marks it done.
 */
static cv_err
finish(struct cv_vault *v, const struct cv_load_opts *o, struct pipe *p,
    struct planting *pl, struct cv_store_load *ld, struct cv_load_stats *st)
{
	struct cv_load_info li = { 0 };
	cv_err r;

	sha256_digest(&p->sha, sizeof st->digest, st->digest);
	if (st->stored > 0 && !o->new_version &&
	    (r = check_rerun(v, st->digest)) != CV_OK)
		return r;
	if ((r = vault_canaries_commit(v, ld->id, o->replant, &pl->planted,
	    &pl->moved, st->versions, &st->dropped)) != CV_OK)
		return r;
	memcpy(ld->digest, st->digest, sizeof ld->digest);
	ld->bytes = (int64_t)st->bytes;
	ld->records = (int64_t)st->stored;
	ld->versions = (int64_t)st->versions;
	ld->canaries = (int64_t)st->canaries;
	li.id = ld->id;
	memcpy(li.digest, st->digest, sizeof li.digest);
	li.bytes = st->bytes;
	li.records = st->stored;
	li.versions = st->versions;
	li.canaries = st->canaries;
	if (o->audit && (r = o->audit(o->audit_ctx, CV_LOAD_BEGIN, &li)) !=
	    CV_OK)
		return r;
	if (cv_fault("load.begun"))
		kill(getpid(), SIGKILL);	/* as kill -9 */
	if (cv_fault("load.commit"))
		return cv_fail(CV_ERR_IO, "fault injected before commit");
	return cv_store_load_done(v->store, ld, cv_time_us());
}

cv_err
cv_vault_load(struct cv_vault *v, const struct cv_load_opts *o,
    struct cv_load_stats *st, struct cv_load_error *err)
{
	struct pipe *p;
	pthread_t rd, wk[16];
	struct cv_store_load ld = { 0 };
	struct planting pl = { 0 };
	unsigned nw = nworkers(o), started = 0;
	int reading = 0, in_tx = 0, registered = 0, lazy = 0;
	double t0 = cv_now(), last = t0, tx_t0 = 0;
	uint64_t next = 0;
	struct batch *b;
	cv_err r = CV_ERR_INTERNAL;

	memset(st, 0, sizeof *st);
	memset(err, 0, sizeof *err);
	if ((p = calloc(1, sizeof *p)) == NULL ||
	    (p->chunk = malloc(CHUNK)) == NULL) {
		r = CV_ERR_NOMEM;
		goto out;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	sha256_init(&p->sha);
	p->keys = v->sk->k;
	p->in = o->in;
	if ((r = vault_lock(v, LOCK_WAIT)) != CV_OK ||
	    (r = vault_settle(v, o->audit, o->audit_ctx)) != CV_OK ||
	    (r = plan_canaries(p, v, o)) != CV_OK ||
	    (!o->new_version && (r = check_rerun_early(v, o->in)) != CV_OK))
		goto out;
	if (pthread_create(&rd, NULL, reader, p) != 0) {
		r = cv_fail(CV_ERR_INTERNAL, "cannot start a thread");
		goto out;
	}
	reading = 1;
	for (; started < nw; started++) {
		if (pthread_create(&wk[started], NULL, worker, p) != 0) {
			r = cv_fail(CV_ERR_INTERNAL, "cannot start a thread");
			goto out;
		}
	}
	for (;;) {
		pthread_mutex_lock(&p->mu);
		b = &p->ring[next % RING];
		while (!(b->state == B_DONE && b->seq == next) &&
		    !(p->eof && next == p->nbatches))
			pthread_cond_wait(&p->cv, &p->mu);
		if (b->state != B_DONE || b->seq != next) {
			r = p->read_err;
			pthread_mutex_unlock(&p->mu);
			break;
		}
		pthread_mutex_unlock(&p->mu);
		r = CV_OK;
		if (!in_tx && (r = tx_begin(v, &ld, &tx_t0)) == CV_OK)
			in_tx = 1;
		if (r == CV_OK)
			r = write_batch(v, o, b, ld.id, &pl, st, err);
		st->lines = b->slot[b->n - 1].line;
		st->bytes += b->bytes;
		wipe_batch(b);
		pthread_mutex_lock(&p->mu);
		b->state = B_EMPTY;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		if (r != CV_OK)
			goto out;
		next++;
		/* Invisible until the last commit: only the lock is short. */
		if (cv_now() - tx_t0 >= TX_SECONDS) {
			if ((r = cv_store_commit(v->store)) != CV_OK)
				goto out;
			in_tx = 0;
			registered = 1;
			if (cv_fault("load.batch"))
				kill(getpid(), SIGKILL);	/* as kill -9 */
			/* Hidden rows need no fsync each: the last commit's
			 * covers them (the log is one file, synced in order). */
			if (!lazy && (r = cv_store_sync(v->store, 0)) != CV_OK)
				goto out;
			lazy = 1;
			nanosleep(&(struct timespec){ .tv_nsec = TX_GAP_NS },
			    NULL);
		}
		if (o->progress && cv_now() - last >= 0.5) {
			last = cv_now();
			st->seconds = last - t0;
			o->progress(o->ctx, st);
		}
	}
	if (r != CV_OK)
		goto out;
	/*
	 * The load is registered (its row committed, still open) before its
	 * CV_LOAD_BEGIN entry: killed between that entry and the last
	 * commit, it leaves a row for the next open to settle (load.settle),
	 * not an entry announcing a commit that never came and no outcome.
	 * A load that never committed along the way (one short transaction)
	 * commits once more here. The last transaction commits durably (and
	 * the level cannot change inside a transaction).
	 */
	if (!in_tx && ld.id == 0) {
		if ((r = tx_begin(v, &ld, &tx_t0)) != CV_OK)
			goto out;
		in_tx = 1;
	}
	if (in_tx) {
		if ((r = cv_store_commit(v->store)) != CV_OK)
			goto out;
		in_tx = 0;
		registered = 1;
	}
	if (lazy) {
		if ((r = cv_store_sync(v->store, 1)) != CV_OK)
			goto out;
		lazy = 0;
	}
	if ((r = tx_begin(v, &ld, &tx_t0)) != CV_OK)
		goto out;
	in_tx = 1;
	if ((r = finish(v, o, p, &pl, &ld, st)) != CV_OK ||
	    (r = cv_store_commit(v->store)) != CV_OK)
		goto out;
	in_tx = 0;
	registered = 1;
	vault_canaries_file_drop(v);
 out:
	if (p) {
		pthread_mutex_lock(&p->mu);
		p->stop = 1;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		for (unsigned i = 0; i < started; i++)
			pthread_join(wk[i], NULL);
		if (reading) {
			if (r != CV_OK)
				pthread_cancel(rd);
			pthread_join(rd, NULL);
		}
		for (int i = 0; i < RING; i++) {
			b = &p->ring[i];
			wipe_batch(b);
			cv_buf_free(&b->text);
			for (size_t j = 0; j < BATCH_RECORDS; j++)
				cv_buf_free(&b->slot[j].body);
		}
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cv);
		free(p->chunk);
		free(p->at);
		free(p);
	}
	cv_buf_free(&pl.planted);
	cv_buf_free(&pl.moved);
	if (in_tx)
		cv_store_rollback(v->store);
	if (lazy && cv_store_sync(v->store, 1) != CV_OK)
		fprintf(stderr, "clearvault: %s\n", cv_err_detail());
	if (r != CV_OK && registered) {
		/* Hidden rows committed along the way go now. Should that
		 * fail, the next open settles the load. */
		char detail[512];

		snprintf(detail, sizeof detail, "%s", cv_err_detail());
		if (vault_load_discard(v, ld.id) != CV_OK)
			fprintf(stderr, "clearvault: load %lld not rolled back "
			    "yet: %s\n", (long long)ld.id, cv_err_detail());
		cv_err_set("%s", detail);
	}
	/* The lock stays until the outcome is on the log
	 * (cv_vault_load_audited); with nothing committed there is none. */
	st->load = registered ? ld.id : 0;
	if (!registered)
		vault_unlock(v);
	st->seconds = cv_now() - t0;
	if (r != CV_OK)
		st->stored = st->versions = st->canaries = 0;
	return r;
}
