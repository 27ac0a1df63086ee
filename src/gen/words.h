/* Private to gen: the word lists records are drawn from. */
#ifndef CV_GEN_WORDS_H
#define CV_GEN_WORDS_H

struct words {
	const char *const *w;
	unsigned n;
};

extern const struct words gw_first_f, gw_first_m, gw_last, gw_city,
    gw_street, gw_street_kind, gw_country, gw_employer, gw_title,
    gw_school, gw_degree, gw_creditor, gw_offense, gw_disposition,
    gw_substance, gw_relationship, gw_eye, gw_hair, gw_note, gw_mail;

/* City i lies in state gw_city_state[i] with ZIP prefix gw_city_zip[i]. */
extern const char *const gw_city_state[];
extern const unsigned gw_city_zip[];

#endif
