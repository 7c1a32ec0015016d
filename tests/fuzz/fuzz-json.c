/*
 * fuzz-json: the strict JSON reader (jstream) and every whitelist reader
 * (jread_check with the prospect, campaign, template and identity tables)
 * on each value it yields.
 *
 * Promised: no crash or sanitizer report; every error is one line with a
 * sysexits code; a value handed out has no repeated key; every validation
 * message is one line of printable text.
 */
#include <string.h>

#include "fuzz.h"

static void
one_line(const char *msg)
{
	const unsigned char *p;

	FUZZ_ASSERT(msg != NULL && *msg != '\0');
	for (p = (const unsigned char *)msg; *p != '\0'; p++)
		FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f);
}

static void
check_list(struct vlist *errs, int bad)
{
	size_t i;

	FUZZ_ASSERT(errs->n <= errs->total && errs->n <= VLIST_KEEP);
	FUZZ_ASSERT(!bad || errs->total > 0);
	for (i = 0; i < errs->n; i++)
		one_line(errs->msg[i]);
	vlist_free(errs);
	memset(errs, 0, sizeof(*errs));
}

static void
read_all_ways(json_object *v)
{
	struct vlist errs = { .n = 0 };
	struct campaign_in c;
	struct prospect p;

	check_list(&errs, jread_check(v, "", prospect_fields, &errs) != 0);
	check_list(&errs, prospect_read(v, "prospects[0]", &p, &errs) != 0);
	check_list(&errs, jread_check(v, "", identity_update_fields, &errs) != 0);
	check_list(&errs, template_read(v, "", &errs) != 0);
	check_list(&errs, campaign_patch_read(v, &c, &errs) != 0);
	/* Last: it fills in defaults and numbers steps in v. */
	check_list(&errs, campaign_read(v, &c, &errs) != 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jstream *js;
	struct derr e;
	json_object *v;
	const char *raw;
	char msg[160];
	size_t len;
	long line;
	int fd, rc, n;

	fd = fuzz_fd(data, size);
	/* A small limit, so the fuzzer can reach it. */
	if ((js = jstream_open(fd, 4096)) == NULL)
		abort();
	for (n = 0; n < 32; n++) {
		derr_clear(&e);
		if ((rc = jstream_next(js, &v, &e)) == 0)
			break;
		if (rc < 0) {
			FUZZ_ASSERT(rc == -1 || rc == -2);
			FUZZ_ASSERT(e.code == EX_DATAERR || e.code == EX_IOERR ||
			    e.code == EX_OSERR);
			one_line(e.msg);
			if (rc == -2)
				break;
			continue;
		}
		FUZZ_ASSERT(rc == 1 && jstream_line(js) >= 1);
		raw = jstream_raw(js, &len);
		FUZZ_ASSERT(len > 0 && len <= 4096 && raw[len] == '\0');
		FUZZ_ASSERT(json_strict_check(raw, len, &line, msg, sizeof(msg)) == 0);
		read_all_ways(v);
		json_object_put(v);
	}
	jstream_close(js);
	close(fd);

	/* The one-object reader of campaign-update and outlook-auth --update. */
	fd = fuzz_fd(data, size);
	derr_clear(&e);
	if ((v = json_read_one(fd, &e)) != NULL) {
		FUZZ_ASSERT(json_object_is_type(v, json_type_object));
		read_all_ways(v);
		json_object_put(v);
	} else {
		FUZZ_ASSERT(e.code != 0);
		one_line(e.msg);
	}
	close(fd);
	return 0;
}
