/*
 * The baseline of `make bench`: the same JSON lines inserted as plain rows
 * into SQLite, in one transaction with the pragmas the vault uses (16 KiB
 * pages, WAL, synchronous=FULL), keyed by record id as the vault is. No
 * validation, no encryption, no blind indexes: what storing the text
 * costs. Prints "plain_sqlite RECORDS SECONDS".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	FILE *in;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long count = 0;
	double t0;

	if (argc != 3) {
		fprintf(stderr, "usage: plain_sqlite DB JSONL\n");
		return 2;
	}
	if ((in = fopen(argv[2], "r")) == NULL ||
	    sqlite3_open(argv[1], &db) != SQLITE_OK) {
		fprintf(stderr, "plain_sqlite: cannot open\n");
		return 1;
	}
	t0 = now();
	if (sqlite3_exec(db, "PRAGMA page_size=16384; PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=FULL; PRAGMA cache_size=-262144;"
	    "CREATE TABLE plain(id INTEGER PRIMARY KEY, rid TEXT UNIQUE,"
	    " doc TEXT NOT NULL); BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO plain(rid, doc) VALUES (?, ?)",
	    -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "plain_sqlite: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	while ((n = getline(&line, &cap, in)) > 0) {
		/* The id is the first field of every generated record:
		 * {"id":"CV-...", -- cut it out without a JSON parser. */
		char *q = strchr(line + 7, '"');
		if (strncmp(line, "{\"id\":\"", 7) != 0 || q == NULL) {
			fprintf(stderr, "plain_sqlite: unexpected line\n");
			return 1;
		}
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, line + 7, (int)(q - line - 7),
		    SQLITE_STATIC);
		sqlite3_bind_text(st, 2, line, (int)n - 1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			fprintf(stderr, "plain_sqlite: %s\n",
			    sqlite3_errmsg(db));
			return 1;
		}
		count++;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "plain_sqlite: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	printf("plain_sqlite %ld %.3f\n", count, now() - t0);
	free(line);
	fclose(in);
	return 0;
}
