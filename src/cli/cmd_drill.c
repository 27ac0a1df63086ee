/* clearvault drill: attack scenarios against a fresh vault and server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../drill/drill.h"
#include "cli.h"

static const char use[] =
    "clearvault drill run (SCENARIO | all) [--records N] [--json FILE] "
    "[--markdown FILE] [--svg FILE] [--vault DIR]";

static const char help[] =
    "usage: clearvault drill run (SCENARIO | all) [--records N]\n"
    "           [--json FILE] [--markdown FILE] [--svg FILE] [--vault DIR]\n\n"
    "Plays an attacker against a fresh vault and server on loopback (made\n"
    "in $TMPDIR and removed afterwards), through the real HTTPS API and the\n"
    "filesystem, and reports for each scenario the records exposed, the\n"
    "time to detection, the control that fired and whether `scope` named\n"
    "exactly the exposed records. Scenarios:\n"
    "  1 stolen password only (no certificate, no TOTP)\n"
    "  2 stolen certificate + live session, reading as fast as possible\n"
    "  3 low and slow under the budget for a simulated week\n"
    "  4 an insider reading outside their cases\n"
    "  5 a stolen database file and backup (without the HSM token)\n"
    "  6 an administrator trying to read records\n"
    "  7 editing, deleting and truncating the audit log\n"
    "  8 a hostile-input flood\n"
    "  9 an administrator trying alone to make anyone able to read\n"
    " 10 two security officers colluding, each approving the other\n"
    " 11 stolen certificate + live session, read slowly (under every\n"
    "    budget per minute, hour and day) for simulated hours\n\n"
    "options:\n"
    "      --records N      records loaded per scenario (default 2000)\n"
    "      --json FILE      the report as JSON\n"
    "      --markdown FILE  the report as Markdown\n"
    "      --svg FILE       the timeline (default: drill-timeline.svg next\n"
    "                       to the JSON file, if --json is given)\n"
    "      --vault DIR      also keep the report in vault DIR (its latest\n"
    "                       ten), where the web console shows the latest\n"
    "                       to security officers and auditors (audited)\n"
    "  -h, --help           this text\n\n"
    "exit status: 0 every goal met, 1 a goal missed or an error,\n"
    "2 usage error\n";

/* The report as text of kind KIND (write_report's) in *OUT (freed by the
 * caller). */
static cv_err
report_text(int kind, const struct cv_drill_result *r, size_t n,
    size_t records, char **out)
{
	size_t len = 0;
	FILE *f = open_memstream(out, &len);
	cv_err e;

	if (f == NULL)
		return CV_ERR_NOMEM;
	e = kind == 0 ? cv_drill_json(f, r, n, records) :
	    cv_drill_svg(f, r, n);
	if (fclose(f) != 0 && e == CV_OK)
		e = CV_ERR_NOMEM;
	if (e != CV_OK) {
		free(*out);
		*out = NULL;
	}
	return e;
}

/* Keeps the report in vault DIR for the web console, on its log. */
static int
keep_report(const char *dir, const struct cv_drill_result *r, size_t n,
    size_t records)
{
	struct cv_vault *v = NULL;
	struct cv_audit *a = NULL;
	char *json = NULL, *svg = NULL, actor[64], reason[128];
	int rc = CLI_FAIL;
	cv_err e;

	if ((e = report_text(0, r, n, records, &json)) != CV_OK ||
	    (e = report_text(2, r, n, records, &svg)) != CV_OK) {
		cli_fail("drill", e);
		goto out;
	}
	if (cli_open("drill", dir, &v, &a) != CLI_OK)
		goto out;
	cli_actor(actor, sizeof actor, 0);
	e = cv_store_report_put(cv_vault_store(v), actor, cv_time_us(), json,
	    svg);
	snprintf(reason, sizeof reason, "drill report of %zu scenario(s) "
	    "kept", n);
	if (cli_record(a, "drill.report", e, e == CV_OK ? reason :
	    cv_err_detail(), NULL, 0, 0) != CV_OK || e != CV_OK) {
		cli_fail("drill", e);
		goto out;
	}
	fprintf(stderr, "drill: report kept in %s\n", dir);
	rc = CLI_OK;
 out:
	free(json);
	free(svg);
	cli_close(v, a);
	return rc;
}

static int
write_report(const char *path, int kind, const struct cv_drill_result *r,
    size_t n, size_t records)
{
	FILE *f = fopen(path, "w");
	cv_err e;

	if (f == NULL) {
		fprintf(stderr, "clearvault drill: %s: cannot write\n", path);
		return CLI_FAIL;
	}
	e = kind == 0 ? cv_drill_json(f, r, n, records) : kind == 1 ?
	    cv_drill_markdown(f, r, n) : cv_drill_svg(f, r, n);
	if (fclose(f) != 0 && e == CV_OK)
		e = CV_ERR_IO;
	return e == CV_OK ? CLI_OK : cli_fail("drill", e);
}

int
cmd_drill(int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_OPT_HELP,
		{ "records", required_argument, NULL, 'n' },
		{ "json", required_argument, NULL, 'j' },
		{ "markdown", required_argument, NULL, 'm' },
		{ "svg", required_argument, NULL, 's' },
		{ "vault", required_argument, NULL, 'V' },
		{ 0, 0, 0, 0 }
	};
	struct cv_drill_result res[CV_DRILL_NSCENARIOS];
	struct cv_drill_opts o = { 0 };
	const char *json = NULL, *md = NULL, *svg = NULL, *vault = NULL;
	char exe[4096], svgdef[4200];
	size_t n = 0;
	int c, first, last, ok, rc = CLI_OK, all_met = 1;
	ssize_t el;

	memset(res, 0, sizeof res);
	o.records = 2000;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'h':
			return cli_help(help);
		case 'n':
			o.records = (size_t)cli_number(optarg, &ok);
			if (!ok || o.records < 200 || o.records > 1000000)
				return cli_usage("drill", use, "--records: a "
				    "number from 200 to 1000000");
			break;
		case 'j':
			json = optarg;
			break;
		case 'm':
			md = optarg;
			break;
		case 's':
			svg = optarg;
			break;
		case 'V':
			vault = optarg;
			break;
		default:
			return cli_usage("drill", use, "unknown option");
		}
	}
	if (optind + 2 != argc || strcmp(argv[optind], "run"))
		return cli_usage("drill", use, "expected: run SCENARIO|all");
	if (!strcmp(argv[optind + 1], "all")) {
		first = 1;
		last = CV_DRILL_NSCENARIOS;
	} else {
		first = last = (int)cli_number(argv[optind + 1], &ok);
		if (!ok || cv_drill_name(first) == NULL)
			return cli_usage("drill", use, "no scenario '%s'",
			    argv[optind + 1]);
	}
	if ((el = readlink("/proc/self/exe", exe, sizeof exe - 1)) <= 0) {
		fprintf(stderr, "clearvault drill: cannot find my binary\n");
		return CLI_FAIL;
	}
	exe[el] = '\0';
	o.exe = exe;
	if (svg == NULL && json) {
		const char *sl = strrchr(json, '/');
		snprintf(svgdef, sizeof svgdef, "%.*sdrill-timeline.svg",
		    sl ? (int)(sl - json + 1) : 0, json);
		svg = svgdef;
	}
	for (int s = first; s <= last; s++) {
		cv_err e;

		fprintf(stderr, "drill %d/%d: %s ...\n", s, last,
		    cv_drill_name(s));
		if ((e = cv_drill_run(&o, s, &res[n])) != CV_OK) {
			rc = cli_fail("drill", e);
			cv_drill_result_free(&res[n]);
			goto out;
		}
		fprintf(stderr, "drill %d/%d: %ld exposed, %s, goal %s "
		    "(%lld ms)\n", s, last, res[n].records_exposed,
		    res[n].control, res[n].goal_met ? "met" : "MISSED",
		    (long long)res[n].duration_ms);
		all_met &= res[n].goal_met;
		n++;
	}
	if (cv_drill_text(stdout, res, n) != CV_OK) {
		rc = CLI_FAIL;
		goto out;
	}
	if ((json && (rc = write_report(json, 0, res, n, o.records))) ||
	    (md && (rc = write_report(md, 1, res, n, o.records))) ||
	    (svg && (rc = write_report(svg, 2, res, n, o.records))) ||
	    (vault && (rc = keep_report(vault, res, n, o.records))))
		goto out;
	if (!all_met)
		rc = CLI_FAIL;
out:
	for (size_t i = 0; i < n; i++)
		cv_drill_result_free(&res[i]);
	return rc;
}
