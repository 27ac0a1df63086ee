/*
 * A load generator for `clearvault serve`: CONNS keep-alive HTTPS
 * connections with a client certificate (libcurl multi; common HTTP load
 * tools cannot present one), each reading random records of a case for
 * SECONDS, audited by the server like any read. With RATE > 0 requests are
 * paced (open loop) at RATE per second in total. Prints
 *   server CONNS READS SECONDS P50_MS P99_MS ERRORS
 * Usage: bench_server URL CA CERT KEY TOKEN CASE IDS CONNS SECONDS [RATE]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define MAX_CONNS 256
#define MAX_SAMPLES 4000000

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
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
	static double lat[MAX_SAMPLES];
	const char *url, *ca, *cert, *key, *token, *kase;
	char **ids = NULL, line[128], auth[128];
	size_t nids = 0, cap = 0, nlat = 0;
	struct curl_slist *hdr;
	CURL *e[MAX_CONNS];
	double started[MAX_CONNS], t0, until, next, rate = 0;
	int conns, running, busy[MAX_CONNS] = { 0 };
	unsigned seed = 1, errors = 0;
	CURLM *m;
	FILE *f;

	if (argc < 10 || argc > 11) {
		fprintf(stderr, "usage: bench_server URL CA CERT KEY TOKEN CASE "
		    "IDS CONNS SECONDS [RATE]\n");
		return 2;
	}
	url = argv[1]; ca = argv[2]; cert = argv[3]; key = argv[4];
	token = argv[5]; kase = argv[6];
	conns = atoi(argv[8]);
	if (conns < 1 || conns > MAX_CONNS)
		return 2;
	if (argc == 11)
		rate = atof(argv[10]);
	if ((f = fopen(argv[7], "r")) == NULL)
		return 1;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (nids == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((ids = realloc(ids, cap * sizeof *ids)) == NULL)
				return 1;
		}
		ids[nids++] = strdup(line);
	}
	fclose(f);
	if (nids == 0)
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
	hdr = curl_slist_append(NULL, auth);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conns);
	for (int i = 0; i < conns; i++) {
		e[i] = curl_easy_init();
		curl_easy_setopt(e[i], CURLOPT_CAINFO, ca);
		curl_easy_setopt(e[i], CURLOPT_SSLCERT, cert);
		curl_easy_setopt(e[i], CURLOPT_SSLKEY, key);
		curl_easy_setopt(e[i], CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(e[i], CURLOPT_PRIVATE, (void *)(intptr_t)i);
		curl_easy_setopt(e[i], CURLOPT_TCP_NODELAY, 1L);
	}
	t0 = now();
	until = t0 + atof(argv[9]);
	next = t0;
	/* Bounded by time; each connection has one request in flight. */
	for (;;) {
		double tnow = now();
		int done = tnow >= until, idle = 1;
		for (int i = 0; i < conns && !done; i++) {
			char u[512];
			if (busy[i] || (rate > 0 && tnow < next))
				continue;
			snprintf(u, sizeof u, "%sv1/records/%s?purpose=%s", url,
			    ids[(size_t)rand_r(&seed) % nids], kase);
			curl_easy_setopt(e[i], CURLOPT_URL, u);
			curl_multi_add_handle(m, e[i]);
			busy[i] = 1;
			/* Open loop: the schedule, not the replies, sets the
			 * pace, and latency counts from the scheduled time. */
			started[i] = rate > 0 ? next : tnow;
			if (rate > 0)
				next += 1.0 / rate;
		}
		curl_multi_perform(m, &running);
		for (CURLMsg *msg; (msg = curl_multi_info_read(m, &running));) {
			long code = 0;
			intptr_t i;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&i);
			curl_easy_getinfo(msg->easy_handle,
			    CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result != CURLE_OK || code != 200)
				errors++;
			else if (nlat < MAX_SAMPLES)
				lat[nlat++] = now() - started[i];
			curl_multi_remove_handle(m, msg->easy_handle);
			busy[i] = 0;
		}
		for (int i = 0; i < conns; i++)
			idle &= !busy[i];
		if (done && idle)
			break;
		curl_multi_poll(m, NULL, 0, 1, NULL);
	}
	qsort(lat, nlat, sizeof *lat, cmp);
	printf("server %d %zu %.3f %.3f %.3f %u\n", conns, nlat, until - t0,
	    nlat ? lat[nlat / 2] * 1e3 : 0, nlat ? lat[nlat * 99 / 100] * 1e3 :
	    0, errors);
	for (int i = 0; i < conns; i++)
		curl_easy_cleanup(e[i]);
	curl_multi_cleanup(m);
	curl_slist_free_all(hdr);
	curl_global_cleanup();
	return 0;
}
