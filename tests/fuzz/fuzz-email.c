/*
 * fuzz-email: the address and domain validators (email_normalize,
 * domain_normalize).
 *
 * Promised: no crash; what passes is ASCII, at most 254 bytes, passes
 * again unchanged (normalizing is idempotent), has a lower-case domain
 * that domain_normalize accepts as it is; what fails says why.
 */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"

static void
ascii_lower_domain(const char *s)
{
	for (; *s != '\0'; s++) {
		FUZZ_ASSERT((unsigned char)*s < 0x80);
		FUZZ_ASSERT(!isupper((unsigned char)*s));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[EMAIL_MAX + 1], again[EMAIL_MAX + 1], dom[EMAIL_MAX + 1];
	const char *why, *d, *p;
	char *s = fuzz_str(data, size);

	why = NULL;
	if (email_normalize(s, out, &why) == 0) {
		FUZZ_ASSERT(why == NULL && strlen(out) == strlen(s));
		FUZZ_ASSERT(strlen(out) <= EMAIL_MAX);
		for (p = out; *p != '\0'; p++)
			FUZZ_ASSERT((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f);
		FUZZ_ASSERT(email_normalize(out, again, &why) == 0);
		FUZZ_ASSERT(strcmp(out, again) == 0);
		FUZZ_ASSERT((d = email_domain(out)) != NULL);
		ascii_lower_domain(d);
		FUZZ_ASSERT(domain_normalize(d, dom, &why) == 0 && strcmp(dom, d) == 0);
	} else
		FUZZ_ASSERT(why != NULL && *why != '\0');

	why = NULL;
	if (domain_normalize(s, dom, &why) == 0) {
		ascii_lower_domain(dom);
		FUZZ_ASSERT(domain_normalize(dom, again, &why) == 0);
		FUZZ_ASSERT(strcmp(dom, again) == 0);
	} else
		FUZZ_ASSERT(why != NULL && *why != '\0');
	free(s);
	return 0;
}
