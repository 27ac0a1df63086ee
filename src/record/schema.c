/*
 * The record schema of docs/schema.md, as tables. Limits are generous for
 * real files and tight enough that one record stays under 64 KiB.
 */
#include "schema.h"

#define STR(lo, hi) { N_STR, S_TEXT, lo, hi, 0, 0, 0 }
#define FMT(f, lo, hi) { N_STR, f, lo, hi, 0, 0, 0 }
#define ENUM(c) { N_STR, S_ENUM, 1, 32, 0, 0, c }
#define INT(lo, hi) { N_INT, 0, lo, hi, 0, 0, 0 }
#define BOOL { N_BOOL, 0, 0, 0, 0, 0, 0 }
#define OBJ(f) { N_OBJ, 0, 0, 0, f, 0, 0 }
#define ARR(lo, hi, it) { N_ARR, 0, lo, hi, 0, it, 0 }

static const struct node name64 = STR(1, 64), opt64 = STR(0, 64),
    text128 = STR(1, 128), short16 = STR(0, 16), state = STR(0, 32),
    country = STR(2, 64), date = FMT(S_DATE, 10, 10),
    ssn = FMT(S_SSN, 11, 11), email = FMT(S_EMAIL, 3, 254),
    phone = FMT(S_PHONE, 7, 32), id = FMT(S_ID, 1, 64),
    notes = STR(0, 4000), money = INT(0, 1000000000),
    flag = BOOL, template = FMT(S_BASE64, 4, 8192);

static const char *const sexes[] = { "F", "M", "X", 0 };
static const char *const phone_types[] = { "home", "mobile", "work", 0 };
static const char *const marital[] = { "single", "married", "divorced",
	"widowed", "separated", "partnered", 0 };
static const char *const relations[] = { "mother", "father", "stepmother",
	"stepfather", "brother", "sister", "son", "daughter", "grandparent",
	"guardian", "in-law", 0 };
static const char *const frequencies[] = { "daily", "weekly", "monthly",
	"quarterly", "annually", "once", 0 };
static const char *const purposes[] = { "business", "tourism", "family",
	"education", "official", "other", 0 };
static const char *const fp_formats[] = { "ISO/IEC 19794-2", "ANSI 378",
	0 };
static const char *const levels[] = { "none", "confidential", "secret",
	"top_secret", 0 };
static const char *const tiers[] = { "T1", "T2", "T3", "T4", "T5", 0 };
static const char *const statuses[] = { "pending", "granted", "denied",
	"revoked", "suspended", 0 };

static const struct node sex = ENUM(sexes), phone_type = ENUM(phone_types),
    marital_status = ENUM(marital), relation = ENUM(relations),
    frequency = ENUM(frequencies), purpose = ENUM(purposes),
    fp_format = ENUM(fp_formats), level = ENUM(levels), tier = ENUM(tiers),
    status = ENUM(statuses);

static const struct field person_name_f[] = {
	{ "first", &name64, 1, 0 }, { "middle", &opt64, 0, 0 },
	{ "last", &name64, 1, 0 }, { "suffix", &short16, 0, 0 }, { 0, 0, 0, 0 } };
static const struct node person_name = OBJ(person_name_f);
/* The subject's own name: its last name feeds the name blind index. */
static const struct field subject_name_f[] = {
	{ "first", &name64, 1, 0 }, { "middle", &opt64, 0, 0 },
	{ "last", &name64, 1, CAP_LAST }, { "suffix", &short16, 0, 0 },
	{ 0, 0, 0, 0 } };
static const struct node subject_name = OBJ(subject_name_f);

static const struct field other_name_f[] = {
	{ "first", &name64, 1, 0 }, { "last", &name64, 1, 0 },
	{ "from", &date, 0, 0 }, { "to", &date, 0, 0 }, { 0, 0, 0, 0 } };
static const struct node other_name = OBJ(other_name_f),
    other_names = ARR(0, 8, &other_name);

static const struct field place_f[] = {
	{ "city", &name64, 1, 0 }, { "state", &state, 0, 0 },
	{ "country", &country, 1, 0 }, { 0, 0, 0, 0 } };
static const struct node place = OBJ(place_f),
    citizenship = ARR(1, 4, &country);

static const struct field identity_f[] = {
	{ "name", &subject_name, 1, 0 }, { "ssn", &ssn, 1, CAP_SSN },
	{ "birth_date", &date, 1, CAP_DOB }, { "birth_place", &place, 1, 0 },
	{ "citizenship", &citizenship, 1, 0 }, { "sex", &sex, 0, 0 },
	{ "other_names", &other_names, 0, 0 }, { 0, 0, 0, 0 } };

static const struct field address_f[] = {
	{ "street", &text128, 1, 0 }, { "city", &name64, 1, 0 },
	{ "state", &state, 0, 0 }, { "postal_code", &short16, 0, 0 },
	{ "country", &country, 1, 0 }, { "from", &date, 1, 0 }, { "to", &date, 0, 0 },
	{ 0, 0, 0, 0 } };
static const struct node address = OBJ(address_f),
    addresses = ARR(1, 20, &address);
static const struct field phone_f[] = {
	{ "type", &phone_type, 1, 0 }, { "number", &phone, 1, 0 }, { 0, 0, 0, 0 } };
static const struct node phone_o = OBJ(phone_f), phones = ARR(0, 8, &phone_o);
static const struct field contact_f[] = {
	{ "addresses", &addresses, 1, 0 }, { "phones", &phones, 0, 0 },
	{ "email", &email, 0, 0 }, { 0, 0, 0, 0 } };

static const struct field job_f[] = {
	{ "employer", &text128, 1, 0 }, { "title", &text128, 1, 0 },
	{ "city", &name64, 0, 0 }, { "state", &state, 0, 0 }, { "from", &date, 1, 0 },
	{ "to", &date, 0, 0 }, { 0, 0, 0, 0 } };
static const struct node job = OBJ(job_f), jobs = ARR(0, 30, &job);
static const struct field school_f[] = {
	{ "school", &text128, 1, 0 }, { "degree", &opt64, 0, 0 },
	{ "from", &date, 1, 0 }, { "to", &date, 0, 0 }, { 0, 0, 0, 0 } };
static const struct node school = OBJ(school_f), schools = ARR(0, 10, &school);
static const struct field history_f[] = {
	{ "employment", &jobs, 1, 0 }, { "education", &schools, 1, 0 }, { 0, 0, 0, 0 } };

static const struct field spouse_f[] = {
	{ "name", &person_name, 1, 0 }, { "birth_date", &date, 0, 0 },
	{ "citizenship", &country, 0, 0 }, { 0, 0, 0, 0 } };
static const struct node spouse = OBJ(spouse_f);
static const struct field relative_f[] = {
	{ "relation", &relation, 1, 0 }, { "name", &person_name, 1, 0 },
	{ "birth_date", &date, 0, 0 }, { "citizenship", &country, 0, 0 },
	{ "city", &name64, 0, 0 }, { 0, 0, 0, 0 } };
static const struct node relative = OBJ(relative_f),
    relatives = ARR(0, 30, &relative);
static const struct field family_f[] = {
	{ "marital_status", &marital_status, 1, 0 }, { "spouse", &spouse, 0, 0 },
	{ "relatives", &relatives, 1, 0 }, { 0, 0, 0, 0 } };

static const struct field fcontact_f[] = {
	{ "name", &text128, 1, 0 }, { "country", &country, 1, 0 },
	{ "relationship", &name64, 1, 0 }, { "frequency", &frequency, 1, 0 },
	{ "since", &date, 0, 0 }, { 0, 0, 0, 0 } };
static const struct node fcontact = OBJ(fcontact_f),
    fcontacts = ARR(0, 30, &fcontact);
static const struct field trip_f[] = {
	{ "country", &country, 1, 0 }, { "from", &date, 1, 0 }, { "to", &date, 1, 0 },
	{ "purpose", &purpose, 1, 0 }, { 0, 0, 0, 0 } };
static const struct node trip = OBJ(trip_f), trips = ARR(0, 50, &trip);
static const struct field foreign_f[] = {
	{ "contacts", &fcontacts, 1, 0 }, { "travel", &trips, 1, 0 }, { 0, 0, 0, 0 } };

static const struct field debt_f[] = {
	{ "creditor", &text128, 1, 0 }, { "amount", &money, 1, 0 },
	{ "since", &date, 1, 0 }, { 0, 0, 0, 0 } };
static const struct node debt = OBJ(debt_f), debts = ARR(0, 20, &debt);
static const struct field financial_f[] = {
	{ "bankruptcy", &flag, 1, 0 }, { "delinquent_debts", &debts, 1, 0 },
	{ "foreign_assets", &flag, 1, 0 }, { "annual_income", &money, 0, 0 },
	{ 0, 0, 0, 0 } };

static const struct field offense_f[] = {
	{ "offense", &text128, 1, 0 }, { "date", &date, 1, 0 },
	{ "disposition", &text128, 1, 0 }, { 0, 0, 0, 0 } };
static const struct node offense = OBJ(offense_f),
    offenses = ARR(0, 20, &offense);
static const struct field drug_f[] = {
	{ "substance", &name64, 1, 0 }, { "last_used", &date, 1, 0 }, { 0, 0, 0, 0 } };
static const struct node drug = OBJ(drug_f), drugs = ARR(0, 20, &drug);
static const struct field conduct_f[] = {
	{ "police_record", &offenses, 1, 0 }, { "drug_use", &drugs, 1, 0 },
	{ "alcohol_counseling", &flag, 1, 0 },
	{ "mental_health_consultation", &flag, 1, 0 }, { 0, 0, 0, 0 } };

static const struct field fingerprint_f[] = {
	{ "format", &fp_format, 1, 0 }, { "template", &template, 1, 0 },
	{ 0, 0, 0, 0 } };
static const struct node fingerprint = OBJ(fingerprint_f),
    height = INT(50, 260), weight = INT(20, 400);
static const struct field biometrics_f[] = {
	{ "fingerprint", &fingerprint, 1, 0 }, { "height_cm", &height, 0, 0 },
	{ "weight_kg", &weight, 0, 0 }, { "eye_color", &opt64, 0, 0 },
	{ "hair_color", &opt64, 0, 0 }, { 0, 0, 0, 0 } };

static const struct field adjudication_f[] = {
	{ "clearance_level", &level, 1, 0 }, { "investigation_tier", &tier, 1, 0 },
	{ "status", &status, 1, 0 }, { "decided_on", &date, 0, 0 },
	{ "notes", &notes, 0, 0 }, { 0, 0, 0, 0 } };

static const struct node identity = OBJ(identity_f), contact = OBJ(contact_f),
    history = OBJ(history_f), family = OBJ(family_f),
    foreign = OBJ(foreign_f), financial = OBJ(financial_f),
    conduct = OBJ(conduct_f), biometrics = OBJ(biometrics_f),
    adjudication = OBJ(adjudication_f);

/* Same order as cv_record_sections. */
static const struct field record_f[] = {
	{ "id", &id, 1, CAP_ID },
	{ "identity", &identity, 1, CAP_SECTION + 0 },
	{ "contact", &contact, 0, CAP_SECTION + 1 },
	{ "history", &history, 0, CAP_SECTION + 2 },
	{ "family", &family, 0, CAP_SECTION + 3 },
	{ "foreign", &foreign, 0, CAP_SECTION + 4 },
	{ "financial", &financial, 0, CAP_SECTION + 5 },
	{ "conduct", &conduct, 0, CAP_SECTION + 6 },
	{ "biometrics", &biometrics, 0, CAP_SECTION + 7 },
	{ "adjudication", &adjudication, 1, CAP_SECTION + 8 },
	{ 0, 0, 0, 0 } };

const struct node cv_schema_record = OBJ(record_f);
