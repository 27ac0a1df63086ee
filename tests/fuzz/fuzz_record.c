/*
 * Record scanning (load's parser of outside input). Beyond "no crash": a
 * record the scanner accepts must be JSON that jansson accepts too, with
 * the same id, and each captured section must be a JSON value by itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "record/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cv_record_fields f;
	struct cv_record_error e;
	json_t *j, *s;

	if (cv_record_scan((const char *)data, size, &f, &e) != CV_OK)
		return 0;
	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
	    NULL);
	if (j == NULL)
		abort();	/* accepted what is not JSON */
	if (strcmp(json_string_value(json_object_get(j, "id")), f.id) != 0)
		abort();
	for (int i = 0; i < CV_RECORD_NSECTIONS; i++) {
		if (f.section[i].len == 0) {
			if (json_object_get(j, cv_record_sections[i]))
				abort();
			continue;
		}
		s = json_loadb((const char *)data + f.section[i].off,
		    f.section[i].len, JSON_DECODE_ANY, NULL);
		if (s == NULL || !json_equal(s, json_object_get(j,
		    cv_record_sections[i])))
			abort();
		json_decref(s);
	}
	if (!cv_record_valid_ssn(f.ssn) || !cv_record_valid_date(f.dob))
		abort();
	json_decref(j);
	return 0;
}
