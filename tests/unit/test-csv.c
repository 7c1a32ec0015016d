/* test-csv: the RFC 4180 reader: quoting, line breaks, line numbers, raw text, errors */
#include <stdlib.h>
#include <unistd.h>

#include "drip.h"
#include "tap.h"

/* A reader over text (through a temporary file, so any size works). */
static struct csv *
open_text(const char *text, size_t len, size_t max)
{
	FILE *f = tmpfile();
	int fd;

	if (f == NULL || fwrite(text, 1, len, f) != len || fflush(f) != 0)
		return NULL;
	fd = dup(fileno(f));
	fclose(f);
	lseek(fd, 0, SEEK_SET);
	return csv_open(fd, max);
}

/* The record's fields joined with '|', for comparing. */
static const char *
joined(const struct csv *c)
{
	static char buf[4096];
	size_t i, len;

	buf[0] = '\0';
	for (i = 0; i < csv_nfields(c); i++) {
		if (i > 0)
			strlcat(buf, "|", sizeof(buf));
		strlcat(buf, csv_field(c, i, &len), sizeof(buf));
	}
	return buf;
}

/* Read all of text: "line:fields" per record, "line!error" per bad one. */
static const char *
read_all(const char *text, size_t max)
{
	static char out[8192];
	struct csv *c = open_text(text, strlen(text), max);
	struct derr e;
	char one[4200];
	int rc;

	out[0] = '\0';
	if (c == NULL)
		return "(open failed)";
	while ((rc = csv_next(c, &e)) != 0) {
		if (rc == -2) {
			strlcat(out, "FATAL", sizeof(out));
			break;
		}
		if (rc == -1)
			snprintf(one, sizeof(one), "[%s]", e.msg);
		else
			snprintf(one, sizeof(one), "[%ld:%s]", csv_line(c), joined(c));
		strlcat(out, one, sizeof(out));
	}
	csv_close(c);
	return out;
}

static void
crlf_across_buffers(void)
{
	/* Records of 10 bytes ending in CRLF: a CR lands on the 64 KiB edge. */
	size_t n = 20000, i, len;
	char *text = malloc(n * 10 + 1), *p = text;
	struct csv *c;
	struct derr e;
	int bad = 0, rc;

	for (i = 0; i < n; i++, p += 10)
		memcpy(p, "abc,defg\r\n", 10);
	*p = '\0';
	/*
	 * Start 3 bytes in: the first record is 7 bytes, the CR of record k
	 * is byte 10k + 5, and record 6553's is byte 65535, the last of the
	 * first read; its LF comes with the second.
	 */
	memcpy(text, "abcdefgh\r\n", 10);
	c = open_text(text + 3, n * 10 - 3, 0);
	for (i = 0; (rc = csv_next(c, &e)) == 1; i++) {
		const char *f = csv_field(c, csv_nfields(c) - 1, &len);

		if (i > 0 && (csv_nfields(c) != 2 || strcmp(f, "defg") != 0))
			bad++;
	}
	ok(rc == 0 && i == n && bad == 0, "CRLF split across reads: %zu records, %d bad", i, bad);
	csv_close(c);
	free(text);
}

static void
raw_text(void)
{
	const char *text = "h1,h2\r\n\"a,\"\"b\"\"\nc\",d\r\nx,y";
	struct csv *c = open_text(text, strlen(text), 0);
	struct derr e;
	const char *raw;
	size_t len;

	csv_next(c, &e);
	csv_next(c, &e);
	raw = csv_raw(c, &len);
	ok(len == 15 && memcmp(raw, "\"a,\"\"b\"\"\nc\",d\r\n", 15) == 0,
	    "raw text of a quoted multi-line record is kept verbatim");
	csv_next(c, &e);
	raw = csv_raw(c, &len);
	ok(len == 3 && memcmp(raw, "x,y", 3) == 0 && csv_line(c) == 4,
	    "last record without a line break: raw text and line");
	csv_close(c);
}

int
main(void)
{
	plan(20);

	is_str(read_all("", 0), "", "empty input has no records");
	is_str(read_all("email,name\n", 0), "[1:email|name]", "a header only");
	is_str(read_all("a,b\nc,d\n", 0), "[1:a|b][2:c|d]", "LF records");
	is_str(read_all("a,b\r\nc,d\r\n", 0), "[1:a|b][2:c|d]", "CRLF records");
	is_str(read_all("\xef\xbb\xbf" "email\nx@y.z\n", 0), "[1:email][2:x@y.z]",
	    "a UTF-8 byte-order mark is skipped");
	is_str(read_all("a,\"b,c\",\"say \"\"hi\"\"\"\n", 0), "[1:a|b,c|say \"hi\"]",
	    "quoted commas and doubled quotes");
	is_str(read_all("h\n\"one\ntwo\"\nnext\n", 0), "[1:h][2:one\ntwo][4:next]",
	    "a line break inside quotes: the next record's line is right");
	is_str(read_all("a\n\n\r\nb\n", 0), "[1:a][4:b]", "empty lines are skipped but counted");
	is_str(read_all("a,b,\n,\n\"\"\n", 0), "[1:a|b|][2:|][3:]", "empty fields");
	is_str(read_all("a,b", 0), "[1:a|b]", "no line break at the end");
	is_str(read_all("a\"b,c\nok\n", 0),
	    "[line 1: quote inside an unquoted field][2:ok]",
	    "a quote inside an unquoted field: error, then reading goes on");
	is_str(read_all("\"a\"b,c\nok\n", 0),
	    "[line 1: text after a closing quote][2:ok]", "text after a closing quote");
	is_str(read_all("ok\n\"open\nstill open\n", 0),
	    "[1:ok][line 2: quoted field not closed at the end of input]",
	    "a quote left open at the end of input");
	is_str(read_all("x\n0123456789,0123456789\ny\n", 16),
	    "[1:x][line 2: record longer than 16 bytes][3:y]",
	    "a record over the limit is reported and skipped");
	is_str(read_all("x\n\"0123456789\n0123456789\"\ny\n", 16),
	    "[1:x][line 2: record longer than 16 bytes][4:y]",
	    "an over-long quoted record is skipped to its real end");
	is_str(read_all("a,b\r\n\"c\"\r\n", 0), "[1:a|b][2:c]", "CRLF after a closing quote");
	raw_text();
	crlf_across_buffers();
	{
		struct csv *c = open_text("x\n0123456789,0123456789\n", 24, 16);
		struct derr e;
		size_t len;

		csv_next(c, &e);
		csv_next(c, &e);
		ok(csv_raw(c, &len) == NULL && len == 0,
		    "the raw text of a record too long to keep is NULL");
		csv_close(c);
	}
	return done();
}
