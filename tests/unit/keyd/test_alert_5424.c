/*
 * RFC 5424 from alert lines (src/keyd/alert_5424.c), the supervisor's view
 * of what a possibly compromised worker relays: a real line from the one
 * formatter comes out whole; forged values are escaped, cut and kept on
 * one line; junk is refused.
 */
#include <setjmp.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keyd/keyd.h"

static struct cv_buf got;

static void
catch(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	got.len = 0;
	assert_int_equal(cv_buf_add(&got, line, len), CV_OK);
}

/* MSG as a NUL-terminated string (the buffer is not). */
static char *
text(const struct cv_buf *b)
{
	char *s = malloc(b->len + 1);

	assert_non_null(s);
	memcpy(s, b->p, b->len);
	s[b->len] = '\0';
	return s;
}

/* No byte below 0x20 and no DEL: one line, no terminal escape. */
static void
one_line(const struct cv_buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (b->p[i] < 0x20 || b->p[i] == 0x7f)
			fail_msg("control byte 0x%02x at %zu", b->p[i], i);
}

/* The one formatter's own line, through the sink. */
static void
test_from_emit(void **state)
{
	uint64_t idx[2] = { 12, 13 };
	struct cv_keyd_alert a = { .kind = "canary", .severity = "critical",
	    .user = "inv", .detail = "a canary record was read",
	    .source = "127.0.0.1", .session = "abcd", .vault_id =
	    "0123456789abcdef", .locked = 1, .indices = idx, .n = 2 };
	struct cv_buf m;
	char *s;

	(void)state;
	cv_keyd_alert_sink(catch, NULL);
	int fd = open("/dev/null", O_WRONLY);

	cv_keyd_alert_emit(fd, &a);
	close(fd);
	cv_keyd_alert_sink(NULL, NULL);
	assert_true(got.len > 0);
	assert_int_equal(cv_keyd_alert_5424((char *)got.p, got.len, "node1",
	    4242, &m), CV_OK);
	one_line(&m);
	s = text(&m);
	/* authpriv (10) * 8 + alert (1) */
	assert_memory_equal(s, "<81>1 ", 6);
	assert_non_null(strstr(s, "Z node1 clearvault 4242 canary "
	    "[clearvault@32473 event.id=\""));
	assert_non_null(strstr(s, " event.category=\"intrusion_detection\" "
	    "log.level=\"critical\" rule.name=\"canary\" labels.vault_id="
	    "\"0123456789abcdef\" user.name=\"inv\" source.ip=\"127.0.0.1\" "
	    "clearvault.session=\"abcd\" clearvault.locked=\"true\" "
	    "clearvault.audit_indices=\"12,13\"] a canary record was read"));
	free(s);
	cv_buf_free(&m);
}

#define FORGED(user, msg, kind) "{\"event\":{\"action\":\"" kind "\"}," \
	"\"log\":{\"level\":\"warning\"},\"user\":{\"name\":\"" user "\"}," \
	"\"message\":\"" msg "\",\"@timestamp\":\"yesterday\"}"

static void
test_forged_values(void **state)
{
	static const char line[] = FORGED("eve\\n<13>1 x\\\"]\\\\",
	    "a\\r\\nb\\u001b[2J\\u007f", "two words");
	static const char utf8[] = FORGED("z\\u00fcrich", "caf\\u00e9",
	    "k");
	struct cv_buf m;
	char *s;

	(void)state;
	assert_int_equal(cv_keyd_alert_5424(line, sizeof line - 1, "h", 0,
	    &m), CV_OK);
	one_line(&m);
	s = text(&m);
	/* warning (4); no pid; the MSGID has no space; a malformed
	 * timestamp is replaced by the time of sending. */
	assert_memory_equal(s, "<84>1 20", 8);
	assert_non_null(strstr(s, "Z h clearvault - two_words [clearvault@"
	    "32473 log.level=\"warning\" user.name="));
	assert_non_null(strstr(s, "user.name=\"eve#012<13>1 x\\\"\\]\\\\\"]"));
	assert_non_null(strstr(s, "] a#015#012b#033[2J#177"));
	assert_null(strstr(s, "yesterday"));
	free(s);
	cv_buf_free(&m);
	/* Not ASCII: UTF-8 values as they are, MSG after a BOM. */
	assert_int_equal(cv_keyd_alert_5424(utf8, sizeof utf8 - 1, "h", 1,
	    &m), CV_OK);
	s = text(&m);
	assert_non_null(strstr(s, "user.name=\"z\xc3\xbcrich\"] "
	    "\xef\xbb\xbf" "caf\xc3\xa9"));
	free(s);
	cv_buf_free(&m);
}

/* Long values are cut at a character boundary; the whole stays bounded. */
static void
test_bounds(void **state)
{
	struct cv_buf line = { 0 }, m;
	static const char head[] = "{\"event\":{\"action\":\"k\"},\"log\":"
	    "{\"level\":\"info\"},\"user\":{\"name\":\"";
	static const char mid[] = "\"},\"message\":\"";
	static const char tail[] = "\"}";

	(void)state;
	assert_int_equal(cv_buf_add(&line, head, sizeof head - 1), CV_OK);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(cv_buf_add(&line, "\xc3\xa9", 2), CV_OK);
	assert_int_equal(cv_buf_add(&line, mid, sizeof mid - 1), CV_OK);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(cv_buf_add(&line, "\\n", 2), CV_OK);
	assert_int_equal(cv_buf_add(&line, tail, sizeof tail - 1), CV_OK);
	assert_int_equal(cv_keyd_alert_5424((char *)line.p, line.len, "h", 1,
	    &m), CV_OK);
	one_line(&m);
	/* info (6); 128 bytes of name (64 characters), 512 of message. */
	assert_memory_equal(m.p, "<86>1 ", 6);
	assert_true(m.len < 200 + 128 + 512 * 4);
	cv_buf_free(&m);
	cv_buf_free(&line);
}

static void
test_refused(void **state)
{
	static const char *const bad[] = {
		"not json",
		"[1,2]",
		"{\"event\":{\"action\":\"k\"}}",		/* no level */
		"{\"log\":{\"level\":\"critical\"}}",		/* no kind */
		"{\"event\":{\"action\":\"k\"},\"log\":{\"level\":\"loud\"}}",
		"{\"event\":{\"action\":\"k\"},\"log\":{\"level\":\"info\"},"
		    "\"log\":{\"level\":\"info\"}}",		/* duplicate */
		"{\"event\":{\"action\":\"k\\u0000\"},\"log\":{\"level\":"
		    "\"info\"}}",				/* NUL */
		"{\"event\":{\"action\":\"\xff\"},\"log\":{\"level\":"
		    "\"info\"}}",				/* not UTF-8 */
	};
	struct cv_buf m;
	char *big;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(cv_keyd_alert_5424(bad[i], strlen(bad[i]),
		    "h", 1, &m), CV_ERR_INVALID);
		assert_int_equal(m.len, 0);
	}
	assert_non_null(big = malloc(CV_ALERT_LINE_MAX + 1));
	memset(big, ' ', CV_ALERT_LINE_MAX + 1);
	assert_int_equal(cv_keyd_alert_5424(big, CV_ALERT_LINE_MAX + 1, "h", 1,
	    &m), CV_ERR_INVALID);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_emit),
		cmocka_unit_test(test_forged_values),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_refused),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);

	cv_buf_free(&got);
	return r;
}
