/*
 * The generator writes JSON text directly: at the target of 200,000
 * records a second a JSON library's object building would cost more than
 * everything else together. All strings come from words.c or are built
 * here from digits and letters, so nothing needs escaping.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "gen.h"
#include "words.h"

#define RECORD_MAX 12288	/* generous upper bound of one record */
#define SSN_SPACE 98990100ULL	/* 100 areas x 99 groups x 9999 serials */

struct rng {
	uint64_t s;
};

static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * Ids and SSNs are a keyed permutation of the index, the key made from
 * the seed. Nothing about the index or the seed shows in them, so the ids
 * of one set, canaries' among them (canary.c makes each from a secret
 * seed), look alike: an invertible mix of index and seed, as ids were
 * once made, let all of a vault's canaries be picked out of vault.db by
 * undoing it (issue 17). A permutation, not a hash, keeps ids and SSNs
 * distinct within a seed. Whoever knows the seed can recompute the set,
 * as they can every record of it: synthetic data has no other secret.
 */
struct keys {
	uint64_t seed;
	int set;
	uint8_t id[crypto_shorthash_KEYBYTES];
	uint8_t ssn[crypto_shorthash_KEYBYTES];
};

static const struct keys *
keys_of(uint64_t seed)
{
	static _Thread_local struct keys k;	/* one seed a run, mostly */
	uint8_t in[8], out[2 * crypto_shorthash_KEYBYTES];

	if (k.set && k.seed == seed)
		return &k;
	for (int i = 0; i < 8; i++)
		in[i] = (uint8_t)(seed >> (8 * i));
	crypto_generichash(out, sizeof out, in, sizeof in,
	    (const uint8_t *)"clearvault gen ids v2", 21);
	memcpy(k.id, out, sizeof k.id);
	memcpy(k.ssn, out + sizeof k.id, sizeof k.ssn);
	k.seed = seed;
	k.set = 1;
	return &k;
}

/* Round I of a Feistel network: SipHash-2-4 of (I, HALF) under KEY. */
static uint64_t
round_f(const uint8_t *key, unsigned i, uint64_t half)
{
	uint8_t in[8], h[crypto_shorthash_BYTES];
	uint64_t v = 0;

	half |= (uint64_t)i << 56;
	for (int j = 0; j < 8; j++)
		in[j] = (uint8_t)(half >> (8 * j));
	crypto_shorthash(h, in, sizeof in, key);
	for (int j = 0; j < 8; j++)
		v |= (uint64_t)h[j] << (8 * j);
	return v;
}

/* A keyed permutation of the 2 * BITS-bit numbers: four Feistel rounds
 * (Luby-Rackoff: a strong pseudorandom permutation). */
static uint64_t
feistel(const uint8_t *key, unsigned bits, uint64_t x)
{
	uint64_t mask = (1ULL << bits) - 1;
	uint64_t l = x >> bits & mask, r = x & mask, t;

	for (unsigned i = 0; i < 4; i++) {
		t = l ^ (round_f(key, i, r) & mask);
		l = r;
		r = t;
	}
	return l << bits | r;
}

/*
 * A keyed permutation of [0, SSN_SPACE), with SSN_SPACE = 9900 x 9999
 * (area and group, serial): a Feistel network over the two digits of a
 * mixed-radix number, each round adding a keyed hash of one to the other
 * (as FF1 format-preserving encryption does), so no value falls outside.
 */
static uint64_t
ssn_perm(const uint8_t *key, uint64_t x)
{
	uint64_t hi = x / 9999, lo = x % 9999;

	for (unsigned i = 0; i < 6; i += 2) {
		hi = (hi + round_f(key, i, lo)) % 9900;
		lo = (lo + round_f(key, i + 1, hi)) % 9999;
	}
	return hi * 9999 + lo;
}

/* wyrand: fast, good enough for synthetic data, never for secrets. */
static uint64_t
next(struct rng *r)
{
	__uint128_t m;

	r->s += 0xa0761d6478bd642fULL;
	m = (__uint128_t)r->s * (r->s ^ 0xe7037ed1a0b428dbULL);
	return (uint64_t)(m >> 64) ^ (uint64_t)m;
}

static unsigned
below(struct rng *r, unsigned n)
{
	return (unsigned)(((next(r) >> 32) * n) >> 32);
}

static int
chance(struct rng *r, unsigned percent)
{
	return below(r, 100) < percent;
}

static const char *
pick(struct rng *r, const struct words *w)
{
	return w->w[below(r, w->n)];
}

struct out {
	char *p;
};

static void
lit(struct out *o, const char *s, size_t n)
{
	memcpy(o->p, s, n);
	o->p += n;
}
/* L for string literals only: sizeof of a pointer would be wrong. */
#define L(o, s) lit(o, "" s "", sizeof(s) - 1)

static void
S(struct out *o, const char *s)
{
	lit(o, s, strlen(s));
}

static void
str(struct out *o, const char *s)
{
	size_t n = strlen(s);

	*o->p++ = '"';
	memcpy(o->p, s, n);
	o->p += n;
	*o->p++ = '"';
}

static void
num(struct out *o, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*o->p++ = tmp[--n];
}

static void
digits(struct out *o, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		o->p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	o->p += width;
}

/* A quoted date in [y0, y1]; days stop at 28 so every one is valid. */
static void
date(struct out *o, struct rng *r, unsigned y0, unsigned y1)
{
	*o->p++ = '"';
	digits(o, y0 + below(r, y1 - y0 + 1), 4);
	*o->p++ = '-';
	digits(o, 1 + below(r, 12), 2);
	*o->p++ = '-';
	digits(o, 1 + below(r, 28), 2);
	*o->p++ = '"';
}

static void
date_y(struct out *o, struct rng *r, unsigned y)
{
	date(o, r, y, y);
}

/* ,"city":..,"state":.. for city C of the word lists */
static void
city_state(struct out *o, unsigned c)
{
	L(o, ",\"city\":");
	str(o, gw_city.w[c]);
	L(o, ",\"state\":");
	str(o, gw_city_state[c]);
}

/* ,"from":YEAR-..[,"to":YEAR-..] and the closing brace of a period;
 * the current entry (TO == 0) has no end. */
static void
period_end(struct out *o, struct rng *r, unsigned from, unsigned to)
{
	L(o, ",\"from\":");
	date_y(o, r, from);
	if (to) {
		L(o, ",\"to\":");
		date_y(o, r, to);
	}
	*o->p++ = '}';
}

static void
phone(struct out *o, struct rng *r)
{
	*o->p++ = '"';
	L(o, "+1 ");
	digits(o, 201 + below(r, 788), 3);
	*o->p++ = '-';
	/* 555-01xx: the fictional range */
	L(o, "555-01");
	digits(o, below(r, 100), 2);
	*o->p++ = '"';
}

static void
name_obj(struct out *o, struct rng *r, int female, const char *first,
    const char *last)
{
	L(o, "{\"first\":");
	str(o, first ? first : pick(r, female ? &gw_first_f : &gw_first_m));
	if (chance(r, 60)) {
		L(o, ",\"middle\":");
		str(o, pick(r, female ? &gw_first_f : &gw_first_m));
	}
	L(o, ",\"last\":");
	str(o, last ? last : pick(r, &gw_last));
	if (!female && chance(r, 4))
		L(o, ",\"suffix\":\"Jr.\"");
	*o->p++ = '}';
}

static void
identity(struct out *o, struct rng *r, uint64_t seed, uint64_t index,
    int female, const char *first, const char *last, unsigned by)
{
	uint64_t s = ssn_perm(keys_of(seed)->ssn, index % SSN_SPACE);
	unsigned c = below(r, gw_city.n);

	L(o, "\"identity\":{\"name\":");
	name_obj(o, r, female, first, last);
	L(o, ",\"ssn\":\"");
	digits(o, (unsigned)(900 + s / (99 * 9999)), 3);
	*o->p++ = '-';
	digits(o, (unsigned)(1 + s / 9999 % 99), 2);
	*o->p++ = '-';
	digits(o, (unsigned)(1 + s % 9999), 4);
	L(o, "\",\"birth_date\":");
	date_y(o, r, by);
	if (chance(r, 88)) {
		L(o, ",\"birth_place\":{\"city\":");
		str(o, gw_city.w[c]);
		L(o, ",\"state\":");
		str(o, gw_city_state[c]);
		L(o, ",\"country\":\"United States\"}");
		L(o, ",\"citizenship\":[\"United States\"");
	} else {
		const char *ctry = gw_country.w[1 + below(r, gw_country.n - 1)];
		L(o, ",\"birth_place\":{\"city\":");
		str(o, pick(r, &gw_city));
		L(o, ",\"country\":");
		str(o, ctry);
		L(o, "},\"citizenship\":[\"United States\"");
		if (chance(r, 30)) {
			*o->p++ = ',';
			str(o, ctry);
		}
	}
	L(o, "],\"sex\":");
	S(o, female ? "\"F\"" : "\"M\"");
	if (female && chance(r, 35)) {
		L(o, ",\"other_names\":[{\"first\":");
		str(o, pick(r, &gw_first_f));
		L(o, ",\"last\":");
		str(o, pick(r, &gw_last));
		L(o, ",\"to\":");
		date(o, r, by + 20, by + 35 > 2025 ? 2025 : by + 35);
		L(o, "}]");
	}
	*o->p++ = '}';
}

static void
contact(struct out *o, struct rng *r, const char *first, const char *last,
    unsigned by)
{
	unsigned n = 1 + below(r, 3), y = 2025;

	L(o, "\"contact\":{\"addresses\":[");
	for (unsigned i = 0; i < n; i++) {
		unsigned c = below(r, gw_city.n), from = y - 1 - below(r, 6);
		if (from < by + 18)
			from = by + 18;
		if (i)
			*o->p++ = ',';
		L(o, "{\"street\":\"");
		num(o, 1 + below(r, 9899));
		*o->p++ = ' ';
		{
			const char *st = pick(r, &gw_street);
			lit(o, st, strlen(st));
		}
		*o->p++ = ' ';
		{
			const char *k = pick(r, &gw_street_kind);
			lit(o, k, strlen(k));
		}
		if (chance(r, 25)) {
			L(o, " Apt ");
			num(o, 1 + below(r, 999));
		}
		*o->p++ = '"';
		city_state(o, c);
		L(o, ",\"postal_code\":\"");
		digits(o, gw_city_zip[c] * 100 + below(r, 100), 5);
		L(o, "\",\"country\":\"United States\"");
		period_end(o, r, from, i ? y : 0);
		y = from;
	}
	L(o, "],\"phones\":[{\"type\":\"mobile\",\"number\":");
	phone(o, r);
	*o->p++ = '}';
	if (chance(r, 50)) {
		L(o, ",{\"type\":\"home\",\"number\":");
		phone(o, r);
		*o->p++ = '}';
	}
	L(o, "],\"email\":\"");
	for (const char *s = first; *s; s++)
		*o->p++ = (unsigned char)*s < 0x80 && *s != '\'' &&
		    *s != ' ' ? (char)(*s | 0x20) : 'x';
	*o->p++ = '.';
	for (const char *s = last; *s; s++)
		*o->p++ = (unsigned char)*s < 0x80 && *s != '\'' &&
		    *s != ' ' ? (char)(*s | 0x20) : 'x';
	num(o, below(r, 100));
	*o->p++ = '@';
	{
		const char *m = pick(r, &gw_mail);
		lit(o, m, strlen(m));
	}
	L(o, "\"}");
}

static void
history(struct out *o, struct rng *r, unsigned by)
{
	unsigned n = 1 + below(r, 3), y = 2025, i;

	L(o, "\"history\":{\"employment\":[");
	for (i = 0; i < n && y > by + 18; i++) {
		unsigned c = below(r, gw_city.n), from = y - 1 - below(r, 8);
		if (from < by + 17)
			from = by + 17;
		if (i)
			*o->p++ = ',';
		L(o, "{\"employer\":");
		str(o, pick(r, &gw_employer));
		L(o, ",\"title\":");
		str(o, pick(r, &gw_title));
		if (chance(r, 50))
			city_state(o, c);
		period_end(o, r, from, i ? y : 0);
		y = from;
	}
	L(o, "],\"education\":[{\"school\":");
	str(o, gw_school.w[24 + below(r, 5)]);
	L(o, ",\"degree\":\"High School Diploma\",\"from\":");
	date_y(o, r, by + 14);
	L(o, ",\"to\":");
	date_y(o, r, by + 18);
	*o->p++ = '}';
	if (chance(r, 70)) {
		L(o, ",{\"school\":");
		str(o, gw_school.w[below(r, 24)]);
		L(o, ",\"degree\":");
		str(o, gw_degree.w[3 + below(r, 8)]);
		L(o, ",\"from\":");
		date_y(o, r, by + 18);
		L(o, ",\"to\":");
		date_y(o, r, by + 22);
		*o->p++ = '}';
	}
	L(o, "]}");
}

static void
family(struct out *o, struct rng *r, const char *last, unsigned by)
{
	static const char *const rel[] = { "mother", "father", "brother",
		"sister", "son", "daughter" };
	unsigned n = 2 + below(r, 2), married = chance(r, 55);

	L(o, "\"family\":{\"marital_status\":");
	S(o, married ? "\"married\"" : chance(r, 30) ? "\"divorced\"" :
	    "\"single\"");
	if (married) {
		int f = chance(r, 50);
		L(o, ",\"spouse\":{\"name\":");
		name_obj(o, r, f, NULL, chance(r, 70) ? last : NULL);
		L(o, ",\"birth_date\":");
		date(o, r, by - 4, by + 4 > 2006 ? 2006 : by + 4);
		L(o, ",\"citizenship\":");
		str(o, chance(r, 90) ? "United States" :
		    pick(r, &gw_country));
		*o->p++ = '}';
	}
	L(o, ",\"relatives\":[");
	for (unsigned i = 0; i < n; i++) {
		unsigned k = i < 2 ? i : 2 + below(r, 4);
		unsigned y = k < 2 ? by - 20 - below(r, 15) :
		    k < 4 ? by - 6 + below(r, 12) : by + 20 + below(r, 10);
		if (y > 2024)
			y = 2024;
		if (i)
			*o->p++ = ',';
		L(o, "{\"relation\":\"");
		lit(o, rel[k], strlen(rel[k]));
		L(o, "\",\"name\":");
		name_obj(o, r, k == 0 || k == 3 || k == 5, NULL,
		    k == 0 && married ? NULL : last);
		L(o, ",\"birth_date\":");
		date_y(o, r, y);
		L(o, ",\"citizenship\":");
		str(o, chance(r, 90) ? "United States" :
		    pick(r, &gw_country));
		if (chance(r, 50)) {
			L(o, ",\"city\":");
			str(o, pick(r, &gw_city));
		}
		*o->p++ = '}';
	}
	L(o, "]}");
}

static void
foreign(struct out *o, struct rng *r)
{
	static const char *const freq[] = { "daily", "weekly", "monthly",
		"quarterly", "annually", "once" };
	static const char *const purp[] = { "business", "tourism", "family",
		"education", "official", "other" };
	unsigned nc = chance(r, 30) ? 1 + below(r, 2) : 0, nt = below(r, 4);

	L(o, "\"foreign\":{\"contacts\":[");
	for (unsigned i = 0; i < nc; i++) {
		if (i)
			*o->p++ = ',';
		L(o, "{\"name\":\"");
		{
			const char *f = pick(r, &gw_first_m), *l =
			    pick(r, &gw_last);
			lit(o, f, strlen(f));
			*o->p++ = ' ';
			lit(o, l, strlen(l));
		}
		L(o, "\",\"country\":");
		str(o, gw_country.w[1 + below(r, gw_country.n - 1)]);
		L(o, ",\"relationship\":");
		str(o, pick(r, &gw_relationship));
		L(o, ",\"frequency\":\"");
		{
			const char *f = freq[below(r, 6)];
			lit(o, f, strlen(f));
		}
		L(o, "\",\"since\":");
		date(o, r, 1995, 2024);
		*o->p++ = '}';
	}
	L(o, "],\"travel\":[");
	for (unsigned i = 0; i < nt; i++) {
		unsigned y = 2005 + below(r, 20), m = 1 + below(r, 11);
		if (i)
			*o->p++ = ',';
		L(o, "{\"country\":");
		str(o, gw_country.w[1 + below(r, gw_country.n - 1)]);
		L(o, ",\"from\":\"");
		digits(o, y, 4);
		*o->p++ = '-';
		digits(o, m, 2);
		L(o, "-01\",\"to\":\"");
		digits(o, y, 4);
		*o->p++ = '-';
		digits(o, m + 1, 2);
		*o->p++ = '-';
		digits(o, 1 + below(r, 28), 2);
		L(o, "\",\"purpose\":\"");
		{
			const char *p = purp[below(r, 6)];
			lit(o, p, strlen(p));
		}
		L(o, "\"}");
	}
	L(o, "]}");
}

static void
financial(struct out *o, struct rng *r)
{
	unsigned nd = chance(r, 20) ? 1 + below(r, 3) : 0;

	L(o, "\"financial\":{\"bankruptcy\":");
	S(o, chance(r, 4) ? "true" : "false");
	L(o, ",\"delinquent_debts\":[");
	for (unsigned i = 0; i < nd; i++) {
		if (i)
			*o->p++ = ',';
		L(o, "{\"creditor\":");
		str(o, pick(r, &gw_creditor));
		L(o, ",\"amount\":");
		num(o, 100 + below(r, 40000));
		L(o, ",\"since\":");
		date(o, r, 2015, 2025);
		*o->p++ = '}';
	}
	L(o, "],\"foreign_assets\":");
	S(o, chance(r, 8) ? "true" : "false");
	L(o, ",\"annual_income\":");
	num(o, 1000ULL * (28 + below(r, 220)));
	*o->p++ = '}';
}

static void
conduct(struct out *o, struct rng *r, unsigned by)
{
	unsigned np = chance(r, 15) ? 1 + below(r, 2) : 0;
	unsigned nd = chance(r, 20) ? 1 + below(r, 2) : 0;

	L(o, "\"conduct\":{\"police_record\":[");
	for (unsigned i = 0; i < np; i++) {
		if (i)
			*o->p++ = ',';
		L(o, "{\"offense\":");
		str(o, pick(r, &gw_offense));
		L(o, ",\"date\":");
		date(o, r, by + 17 > 2024 ? 2024 : by + 17, 2024);
		L(o, ",\"disposition\":");
		str(o, pick(r, &gw_disposition));
		*o->p++ = '}';
	}
	L(o, "],\"drug_use\":[");
	for (unsigned i = 0; i < nd; i++) {
		if (i)
			*o->p++ = ',';
		L(o, "{\"substance\":");
		str(o, pick(r, &gw_substance));
		L(o, ",\"last_used\":");
		date(o, r, by + 16 > 2024 ? 2024 : by + 16, 2024);
		*o->p++ = '}';
	}
	L(o, "],\"alcohol_counseling\":");
	S(o, chance(r, 5) ? "true" : "false");
	L(o, ",\"mental_health_consultation\":");
	S(o, chance(r, 10) ? "true" : "false");
	*o->p++ = '}';
}

static void
biometrics(struct out *o, struct rng *r)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	/* A template of 32 + 6 * minutiae bytes, as ISO 19794-2 roughly is;
	 * random bytes here, base64 without padding tails. */
	unsigned groups = (32 + 6 * (8 + below(r, 24))) / 3;

	L(o, "\"biometrics\":{\"fingerprint\":{\"format\":"
	    "\"ISO/IEC 19794-2\",\"template\":\"");
	for (unsigned i = 0; i < groups; i++) {
		uint64_t v = next(r);
		o->p[0] = b64[v & 63];
		o->p[1] = b64[(v >> 6) & 63];
		o->p[2] = b64[(v >> 12) & 63];
		o->p[3] = b64[(v >> 18) & 63];
		o->p += 4;
	}
	L(o, "\"},\"height_cm\":");
	num(o, 150 + below(r, 50));
	L(o, ",\"weight_kg\":");
	num(o, 50 + below(r, 70));
	L(o, ",\"eye_color\":");
	str(o, pick(r, &gw_eye));
	L(o, ",\"hair_color\":");
	str(o, pick(r, &gw_hair));
	*o->p++ = '}';
}

static void
adjudication(struct out *o, struct rng *r)
{
	static const char *const lv[] = { "confidential", "secret", "secret",
		"secret", "top_secret", "top_secret" };
	static const char *const tier_for[] = { "T1", "T3", "T3", "T3", "T5",
		"T5" };
	static const char *const st[] = { "granted", "granted", "granted",
		"granted", "granted", "pending", "pending", "denied", "revoked",
		"suspended" };
	unsigned l = below(r, 6), s = below(r, 10);

	L(o, "\"adjudication\":{\"clearance_level\":\"");
	lit(o, s >= 7 ? "none" : lv[l], strlen(s >= 7 ? "none" : lv[l]));
	L(o, "\",\"investigation_tier\":\"");
	lit(o, tier_for[l], 2);
	L(o, "\",\"status\":\"");
	lit(o, st[s], strlen(st[s]));
	*o->p++ = '"';
	if (s < 5 || s >= 7) {
		L(o, ",\"decided_on\":");
		date(o, r, 2010, 2025);
	}
	L(o, ",\"notes\":\"");
	for (unsigned i = 0, n = 1 + below(r, 2); i < n; i++) {
		const char *t = pick(r, &gw_note);
		if (i)
			*o->p++ = ' ';
		lit(o, t, strlen(t));
	}
	L(o, "\"}");
}

cv_err
cv_gen_record(uint64_t seed, uint64_t index, struct cv_buf *b)
{
	struct rng r = { mix64(seed ^ mix64(index + 0x9e3779b97f4a7c15ULL)) };
	struct out o;
	char *start;
	int female;
	unsigned by;
	const char *last, *first;
	uint64_t id = feistel(keys_of(seed)->id, 32, index);
	static const char hex[] = "0123456789ABCDEF";
	cv_err e;

	if ((e = cv_buf_reserve(b, RECORD_MAX)) != CV_OK)
		return e;
	start = o.p = (char *)b->p + b->len;
	female = chance(&r, 50);
	by = 1950 + below(&r, 55);
	last = pick(&r, &gw_last);
	L(&o, "{\"id\":\"CV-");
	for (int i = 60; i >= 0; i -= 4)
		*o.p++ = hex[(id >> i) & 15];
	L(&o, "\",");
	first = pick(&r, female ? &gw_first_f : &gw_first_m);
	identity(&o, &r, seed, index, female, first, last, by);
	*o.p++ = ',';
	contact(&o, &r, first, last, by);
	*o.p++ = ',';
	history(&o, &r, by);
	*o.p++ = ',';
	family(&o, &r, last, by);
	*o.p++ = ',';
	foreign(&o, &r);
	*o.p++ = ',';
	financial(&o, &r);
	*o.p++ = ',';
	conduct(&o, &r, by);
	*o.p++ = ',';
	biometrics(&o, &r);
	*o.p++ = ',';
	adjudication(&o, &r);
	L(&o, "}\n");
	b->len += (size_t)(o.p - start);
	return CV_OK;
}

#define CHUNK_RECORDS 2048
#define MAX_THREADS 16

struct job {
	uint64_t seed, first, count;
	struct cv_buf buf;
	cv_err r;
};

static void *
run_job(void *arg)
{
	struct job *j = arg;

	j->buf.len = 0;
	j->r = CV_OK;
	for (uint64_t i = 0; i < j->count && j->r == CV_OK; i++)
		j->r = cv_gen_record(j->seed, j->first + i, &j->buf);
	return NULL;
}

cv_err
cv_gen_write(FILE *f, uint64_t seed, uint64_t first, uint64_t count,
    unsigned threads)
{
	struct job jobs[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	uint64_t done = 0;
	unsigned t, n;
	cv_err r = CV_OK;

	if (threads == 0)
		threads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (threads < 1)
		threads = 1;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	memset(jobs, 0, sizeof jobs);
	/* Rounds of one chunk per thread, written in order. */
	while (done < count && r == CV_OK) {
		for (n = 0; n < threads && done < count; n++) {
			jobs[n].seed = seed;
			jobs[n].first = first + done;
			jobs[n].count = count - done < CHUNK_RECORDS ?
			    count - done : CHUNK_RECORDS;
			done += jobs[n].count;
		}
		for (t = 1; t < n; t++) {
			if (pthread_create(&tid[t], NULL, run_job,
			    &jobs[t]) != 0) {
				r = cv_fail(CV_ERR_INTERNAL, "cannot start a "
				    "thread");
				break;
			}
		}
		run_job(&jobs[0]);
		for (unsigned u = 1; u < t; u++)
			pthread_join(tid[u], NULL);
		for (t = 0; t < n && r == CV_OK; t++) {
			if ((r = jobs[t].r) == CV_OK &&
			    fwrite(jobs[t].buf.p, 1, jobs[t].buf.len, f) !=
			    jobs[t].buf.len)
				r = cv_fail(CV_ERR_IO, "write failed");
		}
	}
	if (r == CV_OK && fflush(f) != 0)
		r = cv_fail(CV_ERR_IO, "write failed");
	for (t = 0; t < MAX_THREADS; t++)
		cv_buf_free(&jobs[t].buf);
	return r;
}
