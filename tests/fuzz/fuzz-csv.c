/*
 * fuzz-csv: the streaming CSV reader (csv.c) of prospect-import --csv.
 *
 * Promised: no crash; every error is one line with a sysexits code; lines
 * only go forward; a record's text is at most the limit, and its fields
 * (unquoted) are no longer than it; and a record written back as CSV, every
 * field quoted, reads back as the same fields (the reader and RFC 4180
 * agree).
 */
#include <string.h>

#include "fuzz.h"

#define MAX_RECORD	512	/* small, so the fuzzer reaches the limit */

static void
one_line(const char *msg)
{
	for (; *msg != '\0'; msg++)
		FUZZ_ASSERT(*msg != '\n' && *msg != '\r');
}

/* The record's fields as CSV, each quoted; NULL when it would not fit. */
static char *
requote(const struct csv *c, size_t *outlen)
{
	size_t i, j, n, len, cap = 2;
	const char *f;
	char *out, *p;

	for (i = 0; i < csv_nfields(c); i++) {
		csv_field(c, i, &len);
		cap += 2 * len + 3;
	}
	if ((out = malloc(cap)) == NULL)
		abort();
	p = out;
	for (i = 0, n = csv_nfields(c); i < n; i++) {
		f = csv_field(c, i, &len);
		if (i > 0)
			*p++ = ',';
		*p++ = '"';
		for (j = 0; j < len; j++) {
			if (f[j] == '"')
				*p++ = '"';
			*p++ = f[j];
		}
		*p++ = '"';
	}
	*p++ = '\n';
	*outlen = (size_t)(p - out);
	return out;
}

static void
round_trip(const struct csv *c)
{
	struct csv *again;
	struct derr e;
	size_t len, i, la, lb;
	char *text;
	int fd;

	text = requote(c, &len);
	fd = fuzz_fd((const uint8_t *)text, len);
	if ((again = csv_open(fd, len + 16)) == NULL)
		abort();
	/* A record of one empty field is an empty line, which is skipped. */
	if (csv_nfields(c) == 1 && (csv_field(c, 0, &la), la == 0)) {
		FUZZ_ASSERT(csv_next(again, &e) != -2);
	} else {
		FUZZ_ASSERT(csv_next(again, &e) == 1);
		FUZZ_ASSERT(csv_nfields(again) == csv_nfields(c));
		for (i = 0; i < csv_nfields(c); i++) {
			const char *a = csv_field(c, i, &la), *b = csv_field(again, i, &lb);

			FUZZ_ASSERT(la == lb && memcmp(a, b, la) == 0);
		}
		FUZZ_ASSERT(csv_next(again, &e) == 0);
	}
	csv_close(again);
	close(fd);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv *c;
	struct derr e;
	const char *raw, *f;
	size_t rawlen, len, i, total;
	long line = 0;
	int fd, rc, n;

	fd = fuzz_fd(data, size);
	if ((c = csv_open(fd, MAX_RECORD)) == NULL)
		abort();
	for (n = 0; n < 64; n++) {
		derr_clear(&e);
		if ((rc = csv_next(c, &e)) == 0)
			break;
		FUZZ_ASSERT(csv_line(c) >= 1 && csv_line(c) >= line);
		line = csv_line(c);
		if (rc < 0) {
			FUZZ_ASSERT(rc == -1 || rc == -2);
			FUZZ_ASSERT(e.code != 0 && e.msg[0] != '\0');
			one_line(e.msg);
			if (rc == -2)
				break;
			continue;
		}
		FUZZ_ASSERT(rc == 1 && csv_nfields(c) >= 1);
		raw = csv_raw(c, &rawlen);
		FUZZ_ASSERT(raw != NULL && rawlen <= MAX_RECORD);
		for (i = 0, total = 0; i < csv_nfields(c); i++) {
			f = csv_field(c, i, &len);
			FUZZ_ASSERT(f != NULL && f[len] == '\0');
			total += len;
		}
		FUZZ_ASSERT(total <= rawlen);
		round_trip(c);
	}
	csv_close(c);
	close(fd);
	return 0;
}
