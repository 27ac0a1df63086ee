/* The configuration parser: every refusal names its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

#define GOOD "vault_id = 0123456789abcdef\n" \
	"pkcs11_module = /usr/lib/x.so  # comment\n" \
	"token_label = clearvault\npin_file = token/pin\n"

static void
expect(const char *text, cv_err want, const char *detail_part)
{
	struct cv_config c;

	assert_int_equal(cv_config_parse(text, strlen(text), &c), want);
	if (detail_part && strstr(cv_err_detail(), detail_part) == NULL)
		fail_msg("detail '%s' lacks '%s'", cv_err_detail(),
		    detail_part);
	if (want != CV_OK)
		assert_int_equal(c.pkcs11_module[0], '\0');
}

static void
test_good(void **state)
{
	struct cv_config c;

	(void)state;
	assert_int_equal(cv_config_parse(GOOD, strlen(GOOD), &c), CV_OK);
	assert_string_equal(c.pkcs11_module, "/usr/lib/x.so");
	assert_string_equal(c.pin_file, "token/pin");
	assert_string_equal(c.softhsm2_conf, "");
	/* Not given: the documented defaults. */
	assert_int_equal(c.ceiling_hour[0], CV_CEILING_HOUR_SOFT);
	assert_int_equal(c.ceiling_hour[1], CV_CEILING_HOUR_HARD);
	assert_int_equal(c.ceiling_day[0], CV_CEILING_DAY_SOFT);
	assert_int_equal(c.ceiling_day[1], CV_CEILING_DAY_HARD);
	assert_int_equal(c.probation_days, CV_PROBATION_DAYS);
	assert_int_equal(c.session_records, CV_SESSION_RECORDS);
	assert_int_equal(c.handshake_timeout, CV_HANDSHAKE_TIMEOUT_S);
	assert_int_equal(c.idle_timeout, CV_IDLE_TIMEOUT_S);
	assert_int_equal(c.given, 0);
}

/* The guard's keys: parsed, each refusal names its line and the form. */
static void
test_guard_keys(void **state)
{
	static const char text[] = GOOD "ceiling_hour = 30 / 60\n"
	    "# the day\nceiling_day=100/100  # equal is fine\n"
	    "probation_days = 0\n";
	struct cv_config c;

	(void)state;
	assert_int_equal(cv_config_parse(text, strlen(text), &c), CV_OK);
	assert_int_equal(c.ceiling_hour[0], 30);
	assert_int_equal(c.ceiling_hour[1], 60);
	assert_int_equal(c.ceiling_day[0], 100);
	assert_int_equal(c.ceiling_day[1], 100);
	assert_int_equal(c.probation_days, 0);
	assert_int_equal(c.given, CV_CONFIG_GIVEN_CEILING_HOUR |
	    CV_CONFIG_GIVEN_CEILING_DAY | CV_CONFIG_GIVEN_PROBATION);
	expect(GOOD "ceiling_hour = 100000000/100000000\n", CV_OK, NULL);
	expect(GOOD "probation_days = 3650\n", CV_OK, NULL);
	expect(GOOD "ceiling_hour = 10/5\n", CV_ERR_CONFIG,
	    "line 5: 'ceiling_hour' must be SOFT/HARD");
	expect(GOOD "\nceiling_day = 0/5\n", CV_ERR_CONFIG,
	    "line 6: 'ceiling_day' must be SOFT/HARD");
	expect(GOOD "ceiling_day = 5\n", CV_ERR_CONFIG, "line 5: 'ceiling_day'");
	expect(GOOD "ceiling_day = 5/\n", CV_ERR_CONFIG, "line 5");
	expect(GOOD "ceiling_day = /5\n", CV_ERR_CONFIG, "line 5");
	expect(GOOD "ceiling_day = 5/6/7\n", CV_ERR_CONFIG, "line 5");
	expect(GOOD "ceiling_day = -5/6\n", CV_ERR_CONFIG, "line 5");
	expect(GOOD "ceiling_day = 5/+6\n", CV_ERR_CONFIG, "line 5");
	expect(GOOD "ceiling_day = 0x10/0x20\n", CV_ERR_CONFIG, "line 5");
	expect(GOOD "ceiling_day = 5 6/7\n", CV_ERR_CONFIG, "line 5");
	expect(GOOD "ceiling_hour = 1/100000001\n", CV_ERR_CONFIG,
	    "<= 100000000");
	expect(GOOD "ceiling_hour = 1/99999999999999999999\n", CV_ERR_CONFIG,
	    "line 5");
	expect(GOOD "ceiling_hour = 1/" "0000000000000000000000"
	    "0000000000000000000002\n", CV_ERR_CONFIG, "too long");
	expect(GOOD "ceiling_hour = 1/2\nceiling_hour = 1/2\n", CV_ERR_CONFIG,
	    "line 6: 'ceiling_hour' given twice");
	expect(GOOD "probation_days = 3651\n", CV_ERR_CONFIG,
	    "line 5: 'probation_days' must be a whole number of days");
	expect(GOOD "probation_days = 1.5\n", CV_ERR_CONFIG, "line 5");
	expect(GOOD "probation_days = 14 days\n", CV_ERR_CONFIG, "line 5");
	expect(GOOD "probation_days =\n", CV_ERR_CONFIG, "is empty");
	/* The session budget: at least one record, no "off". */
	assert_int_equal(cv_config_parse(GOOD "session_records = 5\n",
	    strlen(GOOD) + 20, &c), CV_OK);
	assert_int_equal(c.session_records, 5);
	assert_int_equal(c.given, CV_CONFIG_GIVEN_SESSION_RECORDS);
	expect(GOOD "session_records = 1000000\n", CV_OK, NULL);
	expect(GOOD "session_records = 0\n", CV_ERR_CONFIG,
	    "line 5: 'session_records' must be a whole number of records");
	expect(GOOD "session_records = 1000001\n", CV_ERR_CONFIG, "line 5");
	expect(GOOD "session_records = -1\n", CV_ERR_CONFIG, "line 5");
	expect(GOOD "session_records = 20 a day\n", CV_ERR_CONFIG, "line 5");
}

/* The server's connection deadlines: whole seconds, bounded, never 0. */
static void
test_timeouts(void **state)
{
	static const char text[] = GOOD "handshake_timeout = 3\n"
	    "idle_timeout=3600\n";
	struct cv_config c;

	(void)state;
	assert_int_equal(cv_config_parse(text, strlen(text), &c), CV_OK);
	assert_int_equal(c.handshake_timeout, 3);
	assert_int_equal(c.idle_timeout, 3600);
	assert_int_equal(c.given, CV_CONFIG_GIVEN_HANDSHAKE |
	    CV_CONFIG_GIVEN_IDLE);
	expect(GOOD "handshake_timeout = 300\n", CV_OK, NULL);
	expect(GOOD "handshake_timeout = 0\n", CV_ERR_CONFIG,
	    "line 5: 'handshake_timeout' must be a whole number of seconds, "
	    "1 to 300");
	expect(GOOD "handshake_timeout = 301\n", CV_ERR_CONFIG, "line 5");
	expect(GOOD "idle_timeout = 0\n", CV_ERR_CONFIG,
	    "'idle_timeout' must be a whole number of seconds, 1 to 3600");
	expect(GOOD "idle_timeout = 3601\n", CV_ERR_CONFIG, "line 5");
	expect(GOOD "idle_timeout = 30s\n", CV_ERR_CONFIG, "line 5");
	expect(GOOD "idle_timeout = -1\n", CV_ERR_CONFIG, "line 5");
	expect(GOOD "idle_timeout = 1\nidle_timeout = 2\n", CV_ERR_CONFIG,
	    "given twice");
}

/* What save writes, load reads back; defaults are not written. */
static void
test_save_round_trip(void **state)
{
	char dir[] = "/tmp/cvconf.XXXXXX", path[64];
	struct cv_config c, back;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(cv_config_parse(GOOD "ceiling_day = 7/9\n"
	    "probation_days = 3\nsession_records = 30\nidle_timeout = 45\n",
	    strlen(GOOD) + 76,
	    &c), CV_OK);
	assert_int_equal(cv_config_save(dir, &c), CV_OK);
	assert_int_equal(cv_config_load(dir, &back), CV_OK);
	assert_int_equal(back.ceiling_day[0], 7);
	assert_int_equal(back.ceiling_day[1], 9);
	assert_int_equal(back.probation_days, 3);
	assert_int_equal(back.session_records, 30);
	assert_int_equal(back.idle_timeout, 45);
	assert_int_equal(back.handshake_timeout, CV_HANDSHAKE_TIMEOUT_S);
	assert_int_equal(back.ceiling_hour[0], CV_CEILING_HOUR_SOFT);
	assert_int_equal(back.given, CV_CONFIG_GIVEN_CEILING_DAY |
	    CV_CONFIG_GIVEN_PROBATION | CV_CONFIG_GIVEN_SESSION_RECORDS |
	    CV_CONFIG_GIVEN_IDLE);
	snprintf(path, sizeof path, "%s/%s", dir, CV_CONFIG_FILE);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/*
 * db: a PostgreSQL URI, kept as written (no path resolution), through a
 * save and a load; anything else is refused (the store would take a path
 * for a SQLite file, silently a second database).
 */
static void
test_db(void **state)
{
	static const char uri[] = "postgresql:///clearvault?host=/run/pg";
	char dir[] = "/tmp/cvconf.XXXXXX", path[64];
	struct cv_config c, back;

	(void)state;
	assert_int_equal(cv_config_parse(GOOD, strlen(GOOD), &c), CV_OK);
	assert_string_equal(c.db, "");
	expect(GOOD "db = postgres://db.example/cv?sslmode=verify-full\n",
	    CV_OK, NULL);
	expect(GOOD "db = vault.db\n", CV_ERR_CONFIG, "postgresql:// URI");
	expect(GOOD "db = /srv/x.db\n", CV_ERR_CONFIG, "postgresql:// URI");
	expect(GOOD "db = \n", CV_ERR_CONFIG, "'db' is empty");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(cv_config_parse(GOOD, strlen(GOOD), &c), CV_OK);
	strcpy(c.db, uri);
	assert_int_equal(cv_config_save(dir, &c), CV_OK);
	assert_int_equal(cv_config_load(dir, &back), CV_OK);
	assert_string_equal(back.db, uri);
	snprintf(path, sizeof path, "%s/%s", dir, CV_CONFIG_FILE);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_refusals(void **state)
{
	(void)state;
	expect(GOOD "colour = blue\n", CV_ERR_CONFIG, "line 5: unknown key");
	expect(GOOD "pin_file = again\n", CV_ERR_CONFIG, "line 5: 'pin_file' "
	    "given twice");
	expect(GOOD "no equals sign\n", CV_ERR_CONFIG, "line 5: expected");
	expect(GOOD "softhsm2_conf =\n", CV_ERR_CONFIG, "is empty");
	expect("vault_id = 0123456789abcdef\n", CV_ERR_CONFIG, "missing");
	expect("vault_id = XYZ\npkcs11_module = a\ntoken_label = b\n"
	    "pin_file = c\n", CV_ERR_CONFIG, "hex digits");
	expect(GOOD "token_label\x01 = x\n", CV_ERR_CONFIG, "control");
	expect(GOOD "canaries = 5x\n", CV_ERR_CONFIG, "must be a number");
	expect(GOOD "canaries = -5\n", CV_ERR_CONFIG, "must be a number");
	expect(GOOD "canaries = 12345678\n", CV_ERR_CONFIG, "too long");
	expect(GOOD "canaries = 70\n", CV_OK, NULL);
	expect("vault_id = 0123456789abcdef\npkcs11_module = a\n"
	    "token_label = 012345678901234567890123456789012\npin_file = c\n",
	    CV_ERR_CONFIG, "too long");
}

/* The key id names the vault's keys in its token: the vault id unless a
 * restore gave it its own. */
static void
test_key_id(void **state)
{
	char dir[] = "/tmp/cvcfgXXXXXX", path[64];
	struct cv_config c, back;

	(void)state;
	assert_int_equal(cv_config_parse(GOOD, strlen(GOOD), &c), CV_OK);
	assert_string_equal(c.key_id, "0123456789abcdef");
	expect(GOOD "key_id = fedcba9876543210\n", CV_OK, NULL);
	expect(GOOD "key_id = FEDCBA9876543210\n", CV_ERR_CONFIG,
	    "key_id must be");
	expect(GOOD "key_id = fedcba987654321\n", CV_ERR_CONFIG,
	    "key_id must be");
	expect(GOOD "key_id = a\nkey_id = b\n", CV_ERR_CONFIG, "twice");
	assert_int_equal(cv_config_parse(GOOD "key_id = fedcba9876543210\n",
	    strlen(GOOD) + 26, &c), CV_OK);
	assert_string_equal(c.key_id, "fedcba9876543210");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(cv_config_save(dir, &c), CV_OK);
	assert_int_equal(cv_config_load(dir, &back), CV_OK);
	assert_string_equal(back.key_id, "fedcba9876543210");
	memcpy(c.key_id, c.vault_id, sizeof c.key_id);
	assert_int_equal(cv_config_replace(dir, &c), CV_OK);
	assert_int_equal(cv_config_load(dir, &back), CV_OK);
	assert_string_equal(back.key_id, back.vault_id);
	snprintf(path, sizeof path, "%s/%s", dir, CV_CONFIG_FILE);
	unlink(path);
	rmdir(dir);
}

/* syslog_5424: the collector's form, checked when the file is read, and
 * kept by a rewrite (a restore). */
static void
test_syslog(void **state)
{
	char dir[] = "/tmp/cvcfgXXXXXX", path[64];
	struct cv_syslog_target t;
	struct cv_config c, back;

	(void)state;
	expect(GOOD "syslog_5424 = udp:127.0.0.1:514\n", CV_OK, NULL);
	expect(GOOD "syslog_5424 = tcp:siem.example.org:6514\n", CV_OK, NULL);
	expect(GOOD "syslog_5424 = udp:[::1]:514\n", CV_OK, NULL);
	expect(GOOD "syslog_5424 = udp:127.0.0.1\n", CV_ERR_CONFIG,
	    "syslog_5424 must be");
	expect(GOOD "syslog_5424 = udp:127.0.0.1:0\n", CV_ERR_CONFIG,
	    "syslog_5424 must be");
	expect(GOOD "syslog_5424 = udp:127.0.0.1:65536\n", CV_ERR_CONFIG,
	    "syslog_5424 must be");
	expect(GOOD "syslog_5424 = tls:h:514\n", CV_ERR_CONFIG,
	    "syslog_5424 must be");
	expect(GOOD "syslog_5424 = udp:a b:514\n", CV_ERR_CONFIG,
	    "syslog_5424 must be");
	expect(GOOD "syslog_5424 = udp:-x:514\n", CV_ERR_CONFIG,
	    "syslog_5424 must be");
	expect(GOOD "syslog_5424 = udp:[::1;]:514\n", CV_ERR_CONFIG,
	    "syslog_5424 must be");
	expect(GOOD "syslog_5424 = udp::514\n", CV_ERR_CONFIG,
	    "syslog_5424 must be");
	assert_int_equal(cv_config_syslog_target("udp:[::1]:514", &t), CV_OK);
	assert_string_equal(t.host, "::1");
	assert_string_equal(t.port, "514");
	assert_int_equal(t.tcp, 0);
	assert_int_equal(cv_config_syslog_target("tcp:h.example:00601", &t),
	    CV_OK);
	assert_string_equal(t.port, "601");
	assert_int_equal(t.tcp, 1);
	assert_int_equal(cv_config_parse(GOOD "syslog_5424 = tcp:h:601\n",
	    strlen(GOOD) + 24, &c), CV_OK);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(cv_config_save(dir, &c), CV_OK);
	assert_int_equal(cv_config_load(dir, &back), CV_OK);
	assert_string_equal(back.syslog_5424, "tcp:h:601");
	snprintf(path, sizeof path, "%s/%s", dir, CV_CONFIG_FILE);
	unlink(path);
	rmdir(dir);
}

/* Witnesses: repeatable, strict, the quorum defaulting to all of them,
 * kept by a rewrite (a restore). W1 and W2 are real cosignature keys
 * (tests/unit/witness; tests/fuzz/fuzz_witness_request.c). */
#define W1 "witness.example/w1+468d99bb+" \
	"BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk"
static void
test_witness(void **state)
{
	char dir[] = "/tmp/cvcfgXXXXXX", path[64], w2[200];
	static char text[4096];
	struct cv_config c, back;
	const char *bad[] = {
		"witness = " W1 "\n",					/* no URL */
		"witness = http://127.0.0.1:80\n",			/* no key */
		"witness = https://127.0.0.1:80 " W1 "\n",
		"witness = http://127.0.0.1 " W1 "\n",			/* port */
		"witness = http://127.0.0.1:0 " W1 "\n",
		"witness = http://u@h:80 " W1 "\n",
		"witness = http://h:80/path/ " W1 "\n",
		"witness = http://h:80 " W1 "x\n",
		"witness = http://h:80 PeterNeumann+c74f20a3+"
		    "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n",	/* 0x01 */
		"witness = http://h:80 " W1 "\nwitness = http://g:80 " W1 "\n",
		"witness_quorum = 1\n",			/* no witnesses */
		"witness = http://h:80 " W1 "\nwitness_quorum = 2\n",
		"witness = http://h:80 " W1 "\nwitness_quorum = 0\n",
		"witness_alert_after = 0\n",
		"witness_alert_after = 604801\n",
		"witness_no_quorum = refuse-reads\n",	/* no witnesses */
		"witness = http://h:80 " W1 "\nwitness_no_quorum = refuse\n",
		"witness = http://h:80 " W1 "\nwitness_no_quorum = Alert\n",
		"witness = http://h:80 " W1 "\nwitness_no_quorum = \n",
		"witness = http://h:80 " W1 "\nwitness_no_quorum = alert\n"
		    "witness_no_quorum = alert\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, GOOD "%s", bad[i]);
		expect(text, CV_ERR_CONFIG, "witness");
	}
	snprintf(w2, sizeof w2, "%s", W1);
	snprintf(text, sizeof text, GOOD "witness = http://[::1]:7380/ %s\n"
	    "witness_alert_after = 3\n", w2);
	assert_int_equal(cv_config_parse(text, strlen(text), &c), CV_OK);
	assert_int_equal(c.nwitness, 1);
	assert_int_equal(c.witness_quorum, 1);	/* all of them */
	assert_int_equal(c.witness_alert_after, 3);
	assert_int_equal(c.witness_no_quorum, CV_CONFIG_NO_QUORUM_ALERT);
	assert_string_equal(c.witness[0].name, "witness.example/w1");
	assert_string_equal(c.witness[0].host, "::1");
	assert_string_equal(c.witness[0].port, "7380");
	assert_string_equal(c.witness[0].url, "http://[::1]:7380/");
	assert_int_equal(cv_config_parse(GOOD, strlen(GOOD), &c), CV_OK);
	assert_int_equal(c.nwitness, 0);
	assert_int_equal(c.witness_alert_after, CV_WITNESS_ALERT_AFTER_S);
	snprintf(text, sizeof text, GOOD "witness = http://w.example:80 %s\n"
	    "witness_quorum = 1\nwitness_no_quorum = refuse-reads\n", W1);
	assert_int_equal(cv_config_parse(text, strlen(text), &c), CV_OK);
	assert_int_equal(c.witness_no_quorum,
	    CV_CONFIG_NO_QUORUM_REFUSE_READS);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(cv_config_save(dir, &c), CV_OK);
	assert_int_equal(cv_config_load(dir, &back), CV_OK);
	assert_int_equal(back.nwitness, 1);
	assert_int_equal(back.witness_quorum, 1);
	assert_int_equal(back.witness_no_quorum,
	    CV_CONFIG_NO_QUORUM_REFUSE_READS);
	assert_string_equal(back.witness[0].vkey, W1);
	assert_string_equal(back.witness[0].url, "http://w.example:80");
	snprintf(path, sizeof path, "%s/%s", dir, CV_CONFIG_FILE);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_guard_keys),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_save_round_trip),
		cmocka_unit_test(test_key_id),
		cmocka_unit_test(test_db),
		cmocka_unit_test(test_syslog),
		cmocka_unit_test(test_witness),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
