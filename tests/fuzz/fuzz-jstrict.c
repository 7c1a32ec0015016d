/*
 * fuzz-jstrict: the strict-JSON scanner (json_strict_check: repeated keys,
 * NUL in keys, raw control characters), on any bytes and against json-c.
 *
 * Promised: no crash on any text; the message is one printable line; on
 * text json-c parses, no problem reported means json-c kept every key (its
 * objects hold as many keys as the text names), and a duplicate reported
 * means it really lost one.
 */
#include <string.h>

#include "fuzz.h"

/* Keys json-c kept, in every object of the tree. */
static size_t
tree_keys(json_object *v)
{
	size_t n = 0, i;

	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, k, val) {
			(void)k;
			n += 1 + tree_keys(val);
		}
	} else if (json_object_is_type(v, json_type_array))
		for (i = 0; i < json_object_array_length(v); i++)
			n += tree_keys(json_object_array_get_idx(v, i));
	return n;
}

/* Keys the text names: in valid JSON, exactly the strings before a ':'. */
static size_t
text_keys(const char *t, size_t len)
{
	size_t i, j, n = 0;

	for (i = 0; i < len; i++) {
		if (t[i] != '"')
			continue;
		for (i++; i < len && t[i] != '"'; i++)
			if (t[i] == '\\')
				i++;
		for (j = i + 1; j < len && strchr(" \t\r\n", t[j]) != NULL && t[j]; j++)
			;
		if (j < len && t[j] == ':')
			n++;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *p;
	json_tokener *tok;
	json_object *v;
	char msg[48];
	long line = 0;
	int rc;

	rc = json_strict_check(text, size, &line, msg, sizeof(msg));
	FUZZ_ASSERT(rc == 0 || rc == 1);
	if (rc == 1) {
		FUZZ_ASSERT(line >= 1 && strlen(msg) < sizeof(msg));
		for (p = msg; *p != '\0'; p++)
			FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
	}
	if ((tok = json_tokener_new_ex(64)) == NULL)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	v = json_tokener_parse_ex(tok, text, (int)(size > INT32_MAX ? INT32_MAX : size));
	/* Whole text, one value. */
	if (v != NULL && json_tokener_get_parse_end(tok) == size) {
		size_t kept = tree_keys(v), named = text_keys(text, size);

		if (rc == 0)
			FUZZ_ASSERT(kept == named);
		else if (strncmp(msg, "duplicate key", 13) == 0)
			FUZZ_ASSERT(kept < named);
	}
	json_object_put(v);
	json_tokener_free(tok);
	return 0;
}
