/*
 * fuzz-email: the address and domain validators (email_normalize,
 * domain_normalize), the suppression values (suppress_value) and the
 * lookup keys made of an address (suppress_keys).
 *
 * Promised: no crash; what passes is ASCII, at most 254 bytes, passes
 * again unchanged (normalizing is idempotent), has a lower-case domain
 * that domain_normalize accepts as it is; what fails says why. The keys
 * of an address fit the buffer given, to the byte, or are refused.
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

/* The keys of addr, into buffers of every size around what they need. */
static void
keys(const char *addr, size_t seed)
{
	char *full, *buf;
	size_t need, len;

	if ((full = malloc(SUPPRESS_KEYS_MAX)) == NULL)
		abort();
	if (suppress_keys(addr, full, SUPPRESS_KEYS_MAX) == -1) {
		free(full);
		return;
	}
	need = strlen(full) + 1;
	FUZZ_ASSERT(full[0] == '{' && full[need - 2] == '}');
	/* exactly, one byte short, and a size the input picks */
	for (len = need - 1; len <= need + 1; len++) {
		if ((buf = malloc(len)) == NULL)
			abort();
		if (suppress_keys(addr, buf, len) == 0)
			FUZZ_ASSERT(len >= need && strcmp(buf, full) == 0);
		else
			FUZZ_ASSERT(len < need);
		free(buf);
	}
	len = 1 + seed % need;
	if ((buf = malloc(len)) == NULL)
		abort();
	(void)suppress_keys(addr, buf, len);
	free(buf);
	free(full);
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

	why = NULL;
	if (suppress_value(s, dom, &d, &why) == 0) {
		FUZZ_ASSERT(strcmp(d, "address") == 0 || strcmp(d, "domain") == 0);
		ascii_lower_domain(dom);
		FUZZ_ASSERT(suppress_value(dom, again, &p, &why) == 0);
		FUZZ_ASSERT(strcmp(dom, again) == 0 && strcmp(d, p) == 0);
		if (strcmp(d, "address") == 0)
			keys(dom, size);
	} else
		FUZZ_ASSERT(why != NULL && *why != '\0');
	if (strchr(s, '@') != NULL)
		keys(s, size);
	free(s);
	return 0;
}
