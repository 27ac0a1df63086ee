/* Private to the evidence module. */
#ifndef CV_EVIDENCE_INTERNAL_H
#define CV_EVIDENCE_INTERNAL_H

#include "evidence.h"

#define STIX_ID_MAX 300

/* TYPE--<random UUIDv4>, for domain objects and relationships. */
void stix_id_random(const char *type, char *out, size_t size);
/* TYPE--<UUIDv5> of the canonical JSON CANON of a cyber-observable's
 * contributing properties: the same observable, the same id anywhere. */
void stix_id_sco(const char *type, const char *canon, char *out,
    size_t size);
/* US as a STIX timestamp, "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void stix_time(int64_t us, char *out, size_t size);

/* The entry field that names a subject of kind K. */
enum cv_audit_field evidence_field(enum cv_scope_kind k);

#endif
