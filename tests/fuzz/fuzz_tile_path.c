/*
 * The tlog-tiles path parser (src/api/tiles.c) on any path: nothing may
 * crash, what is accepted is in range, and one tile has one path: a
 * path accepted is exactly the canonical encoding of what it parsed to.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The spec's encoding of T, as a client writes it. */
static void
encode(const struct api_tile *t, char *out, size_t cap)
{
	char groups[64] = "", g[8];
	uint64_t n = t->index;
	size_t len;

	snprintf(groups, sizeof groups, "%03u", (unsigned)(n % 1000));
	for (n /= 1000; n; n /= 1000) {
		snprintf(g, sizeof g, "x%03u/", (unsigned)(n % 1000));
		len = strlen(groups);
		memmove(groups + strlen(g), groups, len + 1);
		memcpy(groups, g, strlen(g));
	}
	if (t->entries)
		len = (size_t)snprintf(out, cap, "entries/%s", groups);
	else
		len = (size_t)snprintf(out, cap, "%u/%s", t->level, groups);
	if (t->width != 256)
		snprintf(out + len, cap - len, ".p/%u", t->width);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_tile t;
	char *path, again[128];
	unsigned r;

	if ((path = malloc(size + 1)) == NULL)
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	r = api_tile_parse(path, &t);
	if (r != 0 && r != 400 && r != 404)
		abort();
	if (r == 0) {
		if (t.level > 63 || (t.entries && t.level != 0) ||
		    t.width < 1 || t.width > 256 ||
		    t.index >= 1000000000000000000ULL)
			abort();
		encode(&t, again, sizeof again);
		if (strcmp(again, path) != 0)
			abort();
	}
	free(path);
	return 0;
}
