/*
 * What scope prints: an aligned table with a totals line, CSV (RFC 4180)
 * or one JSON object; and the RFC 3339 times it reads and writes.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scope.h"

/* Times in the window are written as the audit log writes them. */
#define TIME_LEN 27

/* N decimal digits at S into *v; 0 if any is not a digit. */
static int
digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (s[i] - '0');
	}
	return 1;
}

cv_err
cv_scope_parse_time(const char *s, int64_t *us)
{
	struct tm tm = { 0 }, back;
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, nf = 0;
	const char *p = s;
	time_t t;

	*us = 0;
	if (strlen(s) < 10 || !digits(p, 4, &y) || p[4] != '-' ||
	    !digits(p + 5, 2, &mo) || p[7] != '-' || !digits(p + 8, 2, &d))
		goto bad;
	p += 10;
	if (*p == 'T' || *p == 't') {
		if (strlen(p) < 10 || !digits(p + 1, 2, &h) || p[3] != ':' ||
		    !digits(p + 4, 2, &mi) || p[6] != ':' ||
		    !digits(p + 7, 2, &sec))
			goto bad;
		p += 9;
		if (*p == '.') {
			for (p++; *p >= '0' && *p <= '9'; p++, nf++) {
				if (nf == 6)
					goto bad;	/* finer than the log */
				frac = frac * 10 + (*p - '0');
			}
			if (nf == 0)
				goto bad;
			for (int i = nf; i < 6; i++)
				frac *= 10;
		}
		if ((*p != 'Z' && *p != 'z') || p[1] != '\0')
			goto bad;
	} else if (*p != '\0')
		goto bad;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 59)
		goto bad;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	/* timegm normalises 02-30 into March: a round trip refuses it. */
	if ((t = timegm(&tm)) == (time_t)-1 || gmtime_r(&t, &back) == NULL ||
	    back.tm_mday != d || back.tm_mon != mo - 1)
		goto bad;
	*us = (int64_t)t * 1000000 + frac;
	return CV_OK;
 bad:
	return cv_fail(CV_ERR_INVALID, "'%.40s' is not a UTC time "
	    "(2026-11-25T10:00:00Z) or a date (2026-11-25)", s);
}

void
cv_scope_format_time(int64_t us, char *out, size_t size)
{
	time_t sec = (time_t)(us / 1000000);
	struct tm tm;

	if (us < 0 || gmtime_r(&sec, &tm) == NULL) {
		snprintf(out, size, "?");
		return;
	}
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(us % 1000000));
}

/* "identity,contact" into OUT (room for every name). */
static void
section_list(unsigned mask, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	for (int i = 0; i < CV_RECORD_NSECTIONS; i++) {
		if (mask & (1u << i))
			n += (size_t)snprintf(out + n, size - n, "%s%s",
			    n ? "," : "", cv_record_sections[i]);
	}
}

static json_t *
time_or_null(int64_t us, int open)
{
	char t[40];

	if (open)
		return json_null();
	cv_scope_format_time(us, t, sizeof t);
	return json_string(t);
}

cv_err
cv_scope_json(const struct cv_scope_query *q, const struct cv_scope_result *r,
    json_t *notify, json_t **out)
{
	json_t *o, *recs, *secs, *tot, *sn;
	char t1[40], t2[40];
	size_t i;

	*out = NULL;
	o = json_pack("{s:{s:s, s:s%}, s:{s:o, s:o}}",
	    "subject", "kind", cv_scope_kind_name(q->kind), "value",
	    q->subject, strlen(q->subject),
	    "window", "from", time_or_null(q->from_us, q->from_us == INT64_MIN),
	    "to", time_or_null(q->to_us, q->to_us == INT64_MAX));
	if (o == NULL)
		return cv_fail(CV_ERR_FORMAT, "scope: the subject is not UTF-8");
	if ((recs = json_array()) == NULL ||
	    json_object_set_new(o, "records", recs) != 0)
		goto nomem;
	for (i = 0; i < r->nrecords; i++) {
		const struct cv_scope_record *x = &r->records[i];
		json_t *id = json_string(x->id), *rec;
		if (id == NULL) {
			json_decref(o);
			return cv_fail(CV_ERR_FORMAT, "scope: a record id in "
			    "the log is not UTF-8");
		}
		if ((secs = json_array()) == NULL) {
			json_decref(id);
			goto nomem;
		}
		for (int k = 0; k < CV_RECORD_NSECTIONS; k++) {
			if (x->sections & (1u << k))
				json_array_append_new(secs,
				    json_string(cv_record_sections[k]));
		}
		cv_scope_format_time(x->first_us, t1, sizeof t1);
		cv_scope_format_time(x->last_us, t2, sizeof t2);
		rec = json_pack("{s:o, s:o, s:s, s:s}", "id", id, "sections",
		    secs, "first_read", t1, "last_read", t2);
		if (rec == NULL || json_array_append_new(recs, rec) != 0)
			goto nomem;
	}
	if (notify && json_object_set(o, "notify", notify) != 0)
		goto nomem;
	if ((sn = json_object()) == NULL)
		goto nomem;
	for (int k = 0; k < CV_RECORD_NSECTIONS; k++)
		json_object_set_new(sn, cv_record_sections[k], json_integer(
		    (json_int_t)r->totals.section_records[k]));
	tot = json_pack("{s:I, s:I, s:I, s:o, s:f}",
	    "records", (json_int_t)r->nrecords,
	    "reads", (json_int_t)r->totals.matched,
	    "entries_scanned", (json_int_t)r->totals.scanned,
	    "sections", sn, "seconds", r->totals.seconds);
	if (tot == NULL || json_object_set_new(o, "totals", tot) != 0)
		goto nomem;
	if (notify) {
		json_t *row;
		json_int_t ok = 0, shredded = 0, other = 0;
		json_array_foreach(notify, i, row) {
			const char *st = json_string_value(json_object_get(row,
			    "status"));
			if (st && !strcmp(st, "ok"))
				ok++;
			else if (st && !strcmp(st, "shredded"))
				shredded++;
			else
				other++;
		}
		json_object_set_new(tot, "notify", json_integer(ok));
		json_object_set_new(tot, "shredded", json_integer(shredded));
		json_object_set_new(tot, "not_notifiable", json_integer(other));
	}
	*out = o;
	return CV_OK;
 nomem:
	json_decref(o);
	return CV_ERR_NOMEM;
}

/* Table cells never carry control characters to a terminal. */
static void
put_clean(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

/* Characters (UTF-8 code points) in S, for alignment. */
static size_t
width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void
cell(FILE *f, const char *s, size_t w, int last)
{
	put_clean(f, s);
	if (last)
		return;
	for (size_t n = width(s); n < w + 2; n++)
		fputc(' ', f);
}

/* An address object as one line: "street, city, state postal, country". */
static void
address_line(json_t *a, char *out, size_t size)
{
	static const char *const keys[] = { "street", "city", "state",
		"postal_code", "country" };
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof keys / sizeof keys[0] && n < size; i++) {
		const char *v = json_string_value(json_object_get(a, keys[i]));
		if (v && *v)
			n += (size_t)snprintf(out + n, size - n, "%s%s",
			    n ? (i == 3 ? " " : ", ") : "", v);
	}
}

/* "mobile +1 555 0100; work ..." */
static void
phone_line(json_t *phones, char *out, size_t size)
{
	json_t *p;
	size_t i, n = 0;

	out[0] = '\0';
	json_array_foreach(phones, i, p) {
		if (n >= size)
			break;
		n += (size_t)snprintf(out + n, size - n, "%s%s %s",
		    n ? "; " : "", json_string_value(json_object_get(p,
		    "type")) ? json_string_value(json_object_get(p, "type")) :
		    "", json_string_value(json_object_get(p, "number")) ?
		    json_string_value(json_object_get(p, "number")) : "");
	}
}

/* The notify columns of row ROW: name, email, phones, address. */
static void
notify_cells(json_t *row, const char **status, const char **name,
    const char **email, char *phones, size_t psize, char *addr,
    size_t asize)
{
	*status = json_string_value(json_object_get(row, "status"));
	*name = json_string_value(json_object_get(row, "name"));
	*email = json_string_value(json_object_get(row, "email"));
	if (*status == NULL)
		*status = "";
	if (*name == NULL)
		*name = "";
	if (*email == NULL)
		*email = "";
	phone_line(json_object_get(row, "phones"), phones, psize);
	address_line(json_object_get(row, "address"), addr, asize);
}

static void
print_table(FILE *f, const struct cv_scope_query *q,
    const struct cv_scope_result *r, json_t *notify)
{
	char t1[40], t2[40], secs[128], ph[512], ad[512];
	const char *st, *nm, *em;
	size_t wid = strlen("RECORD"), wn = 4, we = 5, wp = 6, i;
	json_t *row;

	for (i = 0; i < r->nrecords; i++) {
		if (width(r->records[i].id) > wid)
			wid = width(r->records[i].id);
	}
	if (r->nrecords) {
		cell(f, "RECORD", wid, 0);
		cell(f, "FIRST READ", TIME_LEN, 0);
		cell(f, "LAST READ", TIME_LEN, 0);
		cell(f, "READS", 5, 0);
		cell(f, "SECTIONS", 0, 1);
		fputc('\n', f);
	}
	for (i = 0; i < r->nrecords; i++) {
		const struct cv_scope_record *x = &r->records[i];
		char reads[24];
		cv_scope_format_time(x->first_us, t1, sizeof t1);
		cv_scope_format_time(x->last_us, t2, sizeof t2);
		section_list(x->sections, secs, sizeof secs);
		snprintf(reads, sizeof reads, "%llu",
		    (unsigned long long)x->reads);
		cell(f, x->id, wid, 0);
		cell(f, t1, TIME_LEN, 0);
		cell(f, t2, TIME_LEN, 0);
		cell(f, reads, 5, 0);
		cell(f, secs, 0, 1);
		fputc('\n', f);
	}
	if (notify && json_array_size(notify)) {
		json_array_foreach(notify, i, row) {
			notify_cells(row, &st, &nm, &em, ph, sizeof ph, ad,
			    sizeof ad);
			wn = width(nm) > wn ? width(nm) : wn;
			we = width(em) > we ? width(em) : we;
			wp = width(ph) > wp ? width(ph) : wp;
		}
		fprintf(f, "\npeople to notify:\n");
		cell(f, "RECORD", wid, 0);
		cell(f, "NAME", wn, 0);
		cell(f, "EMAIL", we, 0);
		cell(f, "PHONES", wp, 0);
		cell(f, "ADDRESS / STATUS", 0, 1);
		fputc('\n', f);
		json_array_foreach(notify, i, row) {
			notify_cells(row, &st, &nm, &em, ph, sizeof ph, ad,
			    sizeof ad);
			cell(f, json_string_value(json_object_get(row, "id")),
			    wid, 0);
			cell(f, nm, wn, 0);
			cell(f, em, we, 0);
			cell(f, ph, wp, 0);
			if (json_object_get(row, "error"))
				st = json_string_value(json_object_get(row,
				    "error"));
			cell(f, strcmp(st, "ok") ? st : ad, 0, 1);
			fputc('\n', f);
		}
	}
	if (r->nrecords || notify)
		fputc('\n', f);
	fprintf(f, "totals: %zu record%s (%llu read%s) returned to %s '",
	    r->nrecords, r->nrecords == 1 ? "" : "s",
	    (unsigned long long)r->totals.matched,
	    r->totals.matched == 1 ? "" : "s", cv_scope_kind_name(q->kind));
	put_clean(f, q->subject);
	fputs("', ", f);
	if (q->from_us == INT64_MIN && q->to_us == INT64_MAX)
		fputs("all time", f);
	if (q->from_us != INT64_MIN) {
		cv_scope_format_time(q->from_us, t1, sizeof t1);
		fprintf(f, "from %s%s", t1, q->to_us != INT64_MAX ? " " : "");
	}
	if (q->to_us != INT64_MAX) {
		cv_scope_format_time(q->to_us, t2, sizeof t2);
		fprintf(f, "to %s", t2);
	}
	for (int k = 0; k < CV_RECORD_NSECTIONS; k++) {
		if (r->totals.section_records[k])
			fprintf(f, "; %s %llu", cv_record_sections[k],
			    (unsigned long long)r->totals.section_records[k]);
	}
	fprintf(f, "; %llu entries scanned in %.2f s",
	    (unsigned long long)r->totals.scanned, r->totals.seconds);
	if (notify) {
		size_t ok = 0, gone = 0;
		json_array_foreach(notify, i, row) {
			st = json_string_value(json_object_get(row, "status"));
			ok += st && !strcmp(st, "ok");
			gone += st && !strcmp(st, "shredded");
		}
		fprintf(f, "; %zu to notify, %zu shredded", ok, gone);
	}
	fputc('\n', f);
}

/* One CSV field, quoted when it must be (RFC 4180). */
static void
csv_field(FILE *f, const char *s, int last)
{
	if (strpbrk(s, ",\"\r\n") == NULL)
		fputs(s, f);
	else {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	}
	fputs(last ? "\r\n" : ",", f);
}

static void
print_csv(FILE *f, const struct cv_scope_result *r, json_t *notify)
{
	char t1[40], t2[40], secs[128], reads[24], ph[512], ad[512];
	const char *st = "", *nm = "", *em = "";

	fputs("id,sections,first_read,last_read,reads,notify_status,name,"
	    "email,phones,address\r\n", f);
	for (size_t i = 0; i < r->nrecords; i++) {
		const struct cv_scope_record *x = &r->records[i];
		cv_scope_format_time(x->first_us, t1, sizeof t1);
		cv_scope_format_time(x->last_us, t2, sizeof t2);
		section_list(x->sections, secs, sizeof secs);
		snprintf(reads, sizeof reads, "%llu",
		    (unsigned long long)x->reads);
		ph[0] = ad[0] = '\0';
		if (notify)
			notify_cells(json_array_get(notify, i), &st, &nm, &em,
			    ph, sizeof ph, ad, sizeof ad);
		csv_field(f, x->id, 0);
		csv_field(f, secs, 0);
		csv_field(f, t1, 0);
		csv_field(f, t2, 0);
		csv_field(f, reads, 0);
		csv_field(f, st, 0);
		csv_field(f, nm, 0);
		csv_field(f, em, 0);
		csv_field(f, ph, 0);
		csv_field(f, ad, 1);
	}
}

cv_err
cv_scope_print(FILE *f, enum cv_scope_format fmt,
    const struct cv_scope_query *q, const struct cv_scope_result *r,
    json_t *notify)
{
	json_t *j;
	int bad = 0;
	cv_err e;

	if (notify && json_array_size(notify) != r->nrecords)
		return cv_fail(CV_ERR_INTERNAL, "scope: notify rows");
	if (fmt == CV_SCOPE_JSON) {
		if ((e = cv_scope_json(q, r, notify, &j)) != CV_OK)
			return e;
		bad = json_dumpf(j, f, JSON_INDENT(2)) != 0 ||
		    fputc('\n', f) == EOF;
		json_decref(j);
	} else if (fmt == CV_SCOPE_CSV)
		print_csv(f, r, notify);
	else
		print_table(f, q, r, notify);
	if (bad || ferror(f) || fflush(f) != 0)
		return cv_fail(CV_ERR_IO, "scope: cannot write the output");
	return CV_OK;
}
