/*
 * The web console's files, compiled into the binary (src/api/console/,
 * embedded by scripts/embed.py): nothing is fetched from elsewhere, and
 * what the server serves is what was built and reviewed. They are public
 * (no data, no session); the TLS client certificate is still required,
 * as for every route but /healthz and enrolment.
 */
#include <string.h>

#include "api_internal.h"

extern const char cv_console_html[], cv_console_js[], cv_console_views_js[],
    cv_console_css[];

static const struct {
	const char *path, *type;
	const char *text;
} files[] = {
	{ "/", "text/html; charset=utf-8", cv_console_html },
	{ "/console.js", "text/javascript; charset=utf-8", cv_console_js },
	{ "/views.js", "text/javascript; charset=utf-8", cv_console_views_js },
	{ "/console.css", "text/css; charset=utf-8", cv_console_css },
};

int
api_console_path(const char *path)
{
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		if (!strcmp(path, files[i].path))
			return 1;
	}
	return 0;
}

enum MHD_Result
api_console(struct req *r)
{
	struct cv_buf b = { 0 };

	r->action = "console";
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		if (strcmp(r->url, files[i].path) != 0)
			continue;
		if (cv_buf_add(&b, files[i].text, strlen(files[i].text)) !=
		    CV_OK)
			return api_internal(r, CV_ERR_NOMEM);
		return api_reply(r, 200, CV_AUDIT_ALLOWED, files[i].type, &b);
	}
	return api_problem(r, 404, CV_AUDIT_DENIED, "not found",
	    "no such endpoint");
}
