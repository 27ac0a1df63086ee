/*
 * The baseline of the server benchmark: PostgreSQL with pgcrypto and
 * pgaudit doing the equivalent decrypt-and-select, audited, through libpq
 * at the same concurrency. CONNS threads, one connection each, read random
 * ids for SECONDS once all are connected (connections and handshakes are
 * not timed, as in bench_tls). Prints
 * "postgres CONNS READS SECONDS P50_MS P99_MS ERRORS".
 * Usage: bench_pg CONNINFO KEY IDS CONNS SECONDS
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#define MAX_CONNS 64
#define MAX_SAMPLES 2000000

static const char *conninfo, *key;
static char **ids;
static size_t nids;
static double until;
static pthread_barrier_t ready;

struct worker {
	double *lat;
	size_t n;
	unsigned errors, seed;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	PGconn *c = PQconnectdb(conninfo);
	PGresult *res;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "bench_pg: %s", PQerrorMessage(c));
		w->errors++;
	} else {
		res = PQprepare(c, "get", "SELECT pgp_sym_decrypt(data, $2) "
		    "FROM records WHERE id = $1", 2, NULL);
		PQclear(res);
	}
	/* Once all are connected main sets the clock; then all go. */
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&ready);
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return NULL;
	}
	while (now() < until && w->n < MAX_SAMPLES / MAX_CONNS) {
		const char *params[2] = { ids[(size_t)rand_r(&w->seed) % nids],
		    key };
		double t0 = now();
		res = PQexecPrepared(c, "get", 2, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
			w->errors++;
		else
			w->lat[w->n++] = now() - t0;
		PQclear(res);
	}
	PQfinish(c);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static struct worker w[MAX_CONNS];
	pthread_t t[MAX_CONNS];
	char line[128];
	size_t cap = 0, total = 0, k = 0;
	unsigned errors = 0;
	double *all, t0, secs;
	int conns;
	FILE *f;

	if (argc != 6 || (conns = atoi(argv[4])) < 1 || conns > MAX_CONNS) {
		fprintf(stderr, "usage: bench_pg CONNINFO KEY IDS CONNS "
		    "SECONDS\n");
		return 2;
	}
	conninfo = argv[1];
	key = argv[2];
	if ((f = fopen(argv[3], "r")) == NULL)
		return 1;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (nids == cap && (ids = realloc(ids, (cap = cap ? cap * 2 :
		    1024) * sizeof *ids)) == NULL)
			return 1;
		ids[nids++] = strdup(line);
	}
	fclose(f);
	if (nids == 0)
		return 1;
	if (pthread_barrier_init(&ready, NULL, (unsigned)conns + 1) != 0)
		return 1;
	for (int i = 0; i < conns; i++) {
		w[i].seed = (unsigned)i + 1;
		if ((w[i].lat = malloc(MAX_SAMPLES / MAX_CONNS *
		    sizeof(double))) == NULL ||
		    pthread_create(&t[i], NULL, run, &w[i]) != 0)
			return 1;
	}
	pthread_barrier_wait(&ready);
	t0 = now();
	until = t0 + atof(argv[5]);
	pthread_barrier_wait(&ready);
	for (int i = 0; i < conns; i++) {
		pthread_join(t[i], NULL);
		total += w[i].n;
		errors += w[i].errors;
	}
	secs = now() - t0;
	if ((all = malloc((total ? total : 1) * sizeof *all)) == NULL)
		return 1;
	for (int i = 0; i < conns; i++) {
		memcpy(all + k, w[i].lat, w[i].n * sizeof *all);
		k += w[i].n;
		free(w[i].lat);
	}
	qsort(all, total, sizeof *all, cmp);
	printf("postgres %d %zu %.3f %.3f %.3f %u\n", conns, total, secs,
	    total ? all[total / 2] * 1e3 : 0, total ? all[total * 99 / 100] *
	    1e3 : 0, errors);
	free(all);
	return 0;
}
