/* PostgreSQL's binary COPY format: pgcopy.h. */
#include <string.h>

#include "pgcopy.h"

static const uint8_t header[PGCOPY_HEADER_BYTES] = {
	'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0,
	0, 0, 0, 0,		/* flags: no OIDs */
	0, 0, 0, 0,		/* header extension: none */
};

cv_err
pgcopy_header(struct cv_buf *b)
{
	return cv_buf_add(b, header, sizeof header);
}

/* V's length on the wire (-1: NULL) into *LEN. */
static cv_err
field_len(const struct cv_db_value *v, int64_t *len)
{
	size_t n;

	switch (v->type) {
	case CV_DB_V_NULL:
		*len = -1;
		return CV_OK;
	case CV_DB_V_INT64:
		*len = 8;
		return CV_OK;
	case CV_DB_V_TEXT:
		if (v->p == NULL)
			return CV_ERR_INVALID;
		n = strlen(v->p);
		break;
	case CV_DB_V_BLOB:
		if (v->p == NULL && v->n > 0)
			return CV_ERR_INVALID;
		n = v->n;
		break;
	default:
		return CV_ERR_INVALID;
	}
	if (n > PGCOPY_MAX_FIELD)
		return CV_ERR_LIMIT;
	*len = (int64_t)n;
	return CV_OK;
}

cv_err
pgcopy_row(struct cv_buf *b, const struct cv_db_value *v, size_t n)
{
	size_t need = 2;
	int64_t len;
	uint8_t *o;
	cv_err r;

	if (n > PGCOPY_MAX_FIELDS)
		return CV_ERR_LIMIT;
	/* Every length first, so that a failure leaves the buffer as it
	 * was; the sum cannot wrap: n * (4 + INT32_MAX) < 2^47. */
	for (size_t i = 0; i < n; i++) {
		if ((r = field_len(&v[i], &len)) != CV_OK)
			return r;
		need += 4 + (len > 0 ? (size_t)len : 0);
	}
	if ((r = cv_buf_reserve(b, need)) != CV_OK)
		return r;
	o = b->p + b->len;
	o[0] = (uint8_t)(n >> 8);
	o[1] = (uint8_t)n;
	o += 2;
	for (size_t i = 0; i < n; i++) {
		(void)field_len(&v[i], &len);
		cv_put_u32be(o, (uint32_t)(int32_t)len);
		o += 4;
		if (v[i].type == CV_DB_V_INT64)
			cv_put_u64be(o, (uint64_t)v[i].i);
		else if (len > 0)
			memcpy(o, v[i].p, (size_t)len);
		o += len > 0 ? len : 0;
	}
	b->len += need;
	return CV_OK;
}

cv_err
pgcopy_trailer(struct cv_buf *b)
{
	static const uint8_t end[2] = { 0xff, 0xff };	/* int16 -1 */

	return cv_buf_add(b, end, sizeof end);
}
