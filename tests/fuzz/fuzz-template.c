/*
 * fuzz-template: the template checker and renderer (tmpl_check,
 * tmpl_render) in every mode, with values that try to break out.
 *
 * Promised: no crash; a text tmpl_check finds fault with never renders;
 * a text it passes renders unless a variable has no value; a rendered
 * subject has no CR or LF; a text without "{{" renders as itself; every
 * message is one line.
 */
#include <string.h>

#include "fuzz.h"

static const char *const values[] = {
	NULL, "", " \t", "Ann", "<b>&\"'</b>", "x\r\nBcc: victim@example.com",
	"{{first_name}}", "\\{{x}}", "}}", "caf\xc3\xa9",
};

/* A value chosen by the name, so the fuzzer can steer it. */
static const char *
lookup(void *ctx, const char *name)
{
	size_t h = 0;

	(void)ctx;
	for (; *name != '\0'; name++)
		h = h * 31 + (unsigned char)*name;
	return values[h % (sizeof(values) / sizeof(values[0]))];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum tmpl_mode modes[] = { TMPL_TEXT, TMPL_HTML, TMPL_SUBJECT };
	struct vlist errs = { .n = 0 };
	struct derr e;
	char *text, *out;
	size_t i, m;
	int bad;

	text = fuzz_str(data, size);
	bad = tmpl_check(text, "subject", &errs);
	FUZZ_ASSERT(bad >= 0 && (size_t)bad == errs.total);
	for (i = 0; i < errs.n; i++)
		for (m = 0; errs.msg[i][m] != '\0'; m++)
			FUZZ_ASSERT((unsigned char)errs.msg[i][m] >= 0x20 &&
			    errs.msg[i][m] != 0x7f);
	vlist_free(&errs);
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		derr_clear(&e);
		out = tmpl_render(&e, text, modes[m], lookup, NULL);
		if (bad)
			FUZZ_ASSERT(out == NULL);
		if (out == NULL) {
			FUZZ_ASSERT(e.code == EX_DATAERR || e.code == EX_OSERR);
			FUZZ_ASSERT(bad || strncmp(e.msg, "no value for variable ", 22) == 0);
			FUZZ_ASSERT(strpbrk(e.msg, "\r\n") == NULL);
			continue;
		}
		if (modes[m] == TMPL_SUBJECT)
			FUZZ_ASSERT(strpbrk(out, "\r\n") == NULL);
		if (strstr(text, "{{") == NULL && modes[m] != TMPL_SUBJECT)
			FUZZ_ASSERT(strcmp(out, text) == 0);
		free(out);
	}
	free(text);
	return 0;
}
