/*
 * The drill report: an aligned table for the terminal, Markdown, JSON
 * (one object per scenario) and an SVG timeline, one lane per scenario.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "drill.h"

static void
detected(char *out, size_t size, const struct cv_drill_result *r)
{
	if (r->detected_after_ms < 0)
		snprintf(out, size, "-");
	else if (r->detected_simulated)
		snprintf(out, size, "%.1f h (sim)",
		    r->detected_after_ms / 3600000.0);
	else
		snprintf(out, size, "%lld ms", (long long)r->detected_after_ms);
}

cv_err
cv_drill_text(FILE *f, const struct cv_drill_result *r, size_t n)
{
	char d[40];

	fprintf(f, "%-2s %-40s %7s %-15s %-20s %-5s %-4s\n", "#", "scenario",
	    "exposed", "detected after", "control", "scope", "goal");
	for (size_t i = 0; i < n; i++) {
		detected(d, sizeof d, &r[i]);
		fprintf(f, "%-2d %-40s %7ld %-15s %-20s %-5s %-4s\n",
		    r[i].scenario, r[i].name, r[i].records_exposed, d,
		    r[i].control, r[i].scope_exact ? "exact" : "WRONG",
		    r[i].goal_met ? "met" : "MISS");
	}
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %d: %s (%lld ms)\n", r[i].scenario, r[i].note,
		    (long long)r[i].duration_ms);
	return ferror(f) ? CV_ERR_IO : CV_OK;
}

cv_err
cv_drill_markdown(FILE *f, const struct cv_drill_result *r, size_t n)
{
	char d[40];

	fprintf(f, "| # | scenario | records exposed | detected after | "
	    "control | scope exact | goal |\n|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		detected(d, sizeof d, &r[i]);
		fprintf(f, "| %d | %s | %ld | %s (%s) | `%s` | %s | %s: %s |\n",
		    r[i].scenario, r[i].name, r[i].records_exposed, d,
		    r[i].detection, r[i].control, r[i].scope_exact ? "yes" :
		    "**no**", r[i].goal, r[i].goal_met ? "met" : "**missed**");
	}
	fputc('\n', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%d. %s\n", r[i].scenario, r[i].note);
	return ferror(f) ? CV_ERR_IO : CV_OK;
}

cv_err
cv_drill_json(FILE *f, const struct cv_drill_result *r, size_t n,
    size_t records)
{
	json_t *a = json_array(), *top = NULL;
	cv_err e = CV_ERR_NOMEM;

	if (a == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:i, s:s, s:I, s:o, s:b, s:s, s:s, s:b, "
		    "s:b, s:s, s:s, s:I}", "scenario", r[i].scenario, "name",
		    r[i].name, "records_exposed", (json_int_t)r[i].records_exposed,
		    "detected_after_ms", r[i].detected_after_ms < 0 ? json_null()
		    : json_integer(r[i].detected_after_ms), "detected_simulated",
		    r[i].detected_simulated, "detection", r[i].detection,
		    "control", r[i].control, "scope_exact", r[i].scope_exact,
		    "goal_met", r[i].goal_met, "goal", r[i].goal, "note",
		    r[i].note, "duration_ms", (json_int_t)r[i].duration_ms);
		if (o == NULL || json_array_append_new(a, o) != 0)
			goto out;
	}
	if ((top = json_pack("{s:I, s:O}", "records", (json_int_t)records,
	    "scenarios", a)) == NULL)
		goto out;
	e = json_dumpf(top, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF ?
	    CV_OK : CV_ERR_IO;
out:
	json_decref(top);
	json_decref(a);
	return e;
}

cv_err
cv_drill_svg(FILE *f, const struct cv_drill_result *r, size_t n)
{
	const int lane = 40, left = 300, width = 700, top = 40;
	int64_t tmax = 1;

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < r[i].nevents; k++)
			if (r[i].events[k].t_ms > tmax)
				tmax = r[i].events[k].t_ms;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%zu\" font-family=\"sans-serif\" font-size=\"12\">\n"
	    "<title>clearvault drill: reads (grey), refusals (blue), alerts "
	    "(orange), locks (red)</title>\n"
	    "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
	    "<text x=\"10\" y=\"20\">clearvault drill timeline (0 to %lld ms "
	    "since each scenario's start): reads grey, refusals blue, alerts "
	    "orange, locks red</text>\n", left + width + 20,
	    top + n * (size_t)lane + 30, (long long)tmax);
	for (size_t i = 0; i < n; i++) {
		int y = top + (int)i * lane;
		int last_x[5] = { -1, -1, -1, -1, -1 };

		fprintf(f, "<g class=\"lane\" data-scenario=\"%d\">\n"
		    "<text x=\"10\" y=\"%d\">%d. %s</text>\n<line x1=\"%d\" "
		    "y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ccc\"/>\n",
		    r[i].scenario, y + 20, r[i].scenario, r[i].name, left,
		    y + 20, left + width, y + 20);
		/* One mark per pixel and kind; alerts and locks on top. */
		for (int kind = 1; kind <= 4; kind++) {
			for (size_t k = 0; k < r[i].nevents; k++) {
				const struct cv_drill_event *ev = &r[i].events[k];
				int x = left + (int)(ev->t_ms * width / tmax);
				static const char *col[5] = { "", "#999",
				    "#4a7bd0", "#f08c00", "#d00000" };
				if ((int)ev->kind != kind || x == last_x[kind])
					continue;
				last_x[kind] = x;
				if (kind <= 2)
					fprintf(f, "<rect x=\"%d\" y=\"%d\" "
					    "width=\"1\" height=\"%d\" fill="
					    "\"%s\"/>\n", x, y + (kind == 1 ?
					    8 : 20), 12, col[kind]);
				else
					fprintf(f, "<circle cx=\"%d\" cy=\"%d\" "
					    "r=\"5\" fill=\"%s\"/>\n", x, y + 20,
					    col[kind]);
			}
		}
		fprintf(f, "</g>\n");
	}
	fprintf(f, "</svg>\n");
	return ferror(f) ? CV_ERR_IO : CV_OK;
}
