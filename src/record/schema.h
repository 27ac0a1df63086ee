/* Private to the record module: the schema as data, walked by the scanner. */
#ifndef CV_RECORD_SCHEMA_H
#define CV_RECORD_SCHEMA_H

#include <stddef.h>

enum node_kind { N_OBJ, N_ARR, N_STR, N_INT, N_BOOL };
enum str_fmt { S_TEXT, S_ID, S_SSN, S_DATE, S_EMAIL, S_PHONE, S_BASE64,
	S_ENUM };

struct field;

struct node {
	enum node_kind kind;
	enum str_fmt fmt;
	long long min, max;	/* string length, integer range, array items */
	const struct field *fields;	/* N_OBJ, terminated by a NULL name */
	const struct node *items;	/* N_ARR */
	const char *const *choices;	/* S_ENUM, NULL-terminated */
};

/* Values the scanner keeps: the blind-index inputs and section spans. */
enum capture { CAP_NONE, CAP_ID, CAP_SSN, CAP_LAST, CAP_DOB, CAP_SECTION };

struct field {
	const char *name;
	const struct node *node;
	int required;
	int capture;	/* enum capture; CAP_SECTION + i for section i */
};

extern const struct node cv_schema_record;

#endif
