/*
 * fuzz-flat: prospect-import's fast way (jstream_peek, prospect_scan,
 * jread_flat, jstream_skip) against the ordinary one.
 *
 * Promised: whatever the fast way takes, the ordinary way (json-c in
 * strict mode, json_strict_check, prospect_read) takes as well, as the
 * same text, and reads as the same prospect; the fast way never takes a
 * newline (lines are counted by jstream) nor more text than it was given.
 */
#include <string.h>

#include "fuzz.h"

static int
tz_ok(void *arg, const char *tz)
{
	(void)arg;
	return tz_valid(tz);
}

static void
same(const char *a, const char *b)
{
	FUZZ_ASSERT((a == NULL) == (b == NULL));
	FUZZ_ASSERT(a == NULL || strcmp(a, b) == 0);
}

static void
compare(const char *text, size_t used, const struct prospect *fast)
{
	struct vlist errs = { .n = 0 };
	struct prospect slow;
	json_tokener *tok;
	json_object *v, *f;
	char msg[160];
	long line;

	FUZZ_ASSERT(memchr(text, '\n', used) == NULL);
	if ((tok = json_tokener_new_ex(64)) == NULL)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_ALLOW_TRAILING_CHARS | JSON_TOKENER_VALIDATE_UTF8);
	v = json_tokener_parse_ex(tok, text, (int)used);
	FUZZ_ASSERT(v != NULL && json_tokener_get_parse_end(tok) == used);
	FUZZ_ASSERT(json_strict_check(text, used, &line, msg, sizeof(msg)) == 0);
	FUZZ_ASSERT(prospect_read(v, "", &slow, &errs) == 0 && errs.total == 0);
	FUZZ_ASSERT(strcmp(slow.email, fast->email) == 0);
	same(slow.first_name, fast->first_name);
	same(slow.last_name, fast->last_name);
	same(slow.company, fast->company);
	same(slow.title, fast->title);
	same(slow.timezone, fast->timezone);
	FUZZ_ASSERT(fast->fields == NULL);
	if (fast->fields_json != NULL) {
		f = json_tokener_parse(fast->fields_json);
		FUZZ_ASSERT(f != NULL && slow.fields != NULL &&
		    json_object_object_length(slow.fields) > 0 &&
		    json_object_equal(f, slow.fields));
		json_object_put(f);
	} else
		FUZZ_ASSERT(slow.fields == NULL ||
		    json_object_object_length(slow.fields) == 0);
	vlist_free(&errs);
	json_object_put(v);
	json_tokener_free(tok);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char scratch[JSTREAM_BUF];
	struct jstream *js;
	struct prospect p;
	struct derr e;
	json_object *v;
	const char *text;
	size_t len, used;
	int fd, rc, n;

	fd = fuzz_fd(data, size);
	if ((js = jstream_open(fd, 4096)) == NULL)
		abort();
	if (jstream_array(js, &e) == -1)
		goto out;
	for (n = 0; n < 32; n++) {
		derr_clear(&e);
		if ((rc = jstream_peek(js, &text, &len, &e)) != 1)
			break;
		FUZZ_ASSERT(len > 0 && len <= 4096);
		used = prospect_scan(text, len, &p, scratch, sizeof(scratch), tz_ok, NULL);
		if (used > 0) {
			FUZZ_ASSERT(used <= len);
			compare(text, used, &p);
			jstream_skip(js, used);
			continue;
		}
		if ((rc = jstream_next(js, &v, &e)) == 0 || rc == -2)
			break;
		json_object_put(v);
	}
out:
	jstream_close(js);
	close(fd);
	return 0;
}
