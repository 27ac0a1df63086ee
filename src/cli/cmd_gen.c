#include <stdio.h>

#include <sodium.h>

#include "../gen/gen.h"
#include "cli.h"

static const char use[] = "clearvault gen --count N [--seed S] [--start I]";

static const char help[] =
    "usage: clearvault gen --count N [--seed S] [--start I]\n\n"
    "Writes N synthetic SF-86-style records as JSON Lines to stdout\n"
    "(schema: docs/schema.md). The same seed gives the same records on\n"
    "every machine. SSNs come only from the never-issued area numbers\n"
    "900-999; names are invented combinations.\n\n"
    "options:\n"
    "  -n, --count N     how many records (required)\n"
    "  -s, --seed S      which set of records (default: a random one,\n"
    "                    so that nobody can regenerate the set and tell\n"
    "                    a vault's canaries from it)\n"
    "      --start I     index of the first record (default 0)\n"
    "  -j, --threads T   generating threads (default: one per processor)\n"
    "  -h, --help        this text\n";

int
cmd_gen(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_OPT_HELP,
		{ "count", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "start", required_argument, NULL, 'S' },
		{ "threads", required_argument, NULL, 'j' },
		{ 0, 0, 0, 0 }
	};
	unsigned long long count = 0, seed = 1, start = 0, threads = 0;
	int c, ok = 1, have_count = 0, have_seed = 0;
	cv_err r;

	while ((c = getopt_long(argc, argv, "n:s:j:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': count = cli_number(optarg, &ok); have_count = 1;
			break;
		case 's': seed = cli_number(optarg, &ok); have_seed = 1;
			break;
		case 'S': start = cli_number(optarg, &ok); break;
		case 'j': threads = cli_number(optarg, &ok); break;
		case 'h': return cli_help(help);
		default: return cli_usage("gen", use, "bad option");
		}
		if (!ok)
			return cli_usage("gen", use, "'%s' is not a number",
			    optarg);
	}
	if (optind != argc)
		return cli_usage("gen", use, "unexpected argument '%s'",
		    argv[optind]);
	if (!have_count)
		return cli_usage("gen", use, "--count is required");
	if (!have_seed)
		randombytes_buf(&seed, sizeof seed);
	if (threads > 64)
		return cli_usage("gen", use, "--threads at most 64");
	if ((r = cv_gen_write(stdout, seed, start, count,
	    (unsigned)threads)) != CV_OK)
		return cli_fail("gen", r);
	return CLI_OK;
}
