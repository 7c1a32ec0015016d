/*
 * csv.c: a streaming RFC 4180 reader.
 *
 * Fields are separated by commas and records by CRLF or LF; a field in
 * double quotes may hold commas, quotes (doubled) and line breaks. A UTF-8
 * byte-order mark before the first record is skipped, and so are empty
 * lines. Anything else RFC 4180 forbids (a quote inside an unquoted field,
 * text after a closing quote, a quote left open at the end of input) makes
 * the record bad: it is reported with the line it began on and skipped to
 * the end of its line, and reading goes on.
 *
 * Memory is bounded by the largest record (at most max bytes as written),
 * never by the input: a longer record is scanned to its end, not kept, and
 * reported. The text of each record is kept as read, so a caller can copy
 * a rejected record verbatim.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drip.h"

#define CSV_BUF	65536

struct csv {
	int		 fd;
	size_t		 max;
	char		 buf[CSV_BUF];
	size_t		 len, pos;
	int		 eof, started;
	long		 line;		/* line at buf[pos] */
	long		 rline;		/* line the current record began on */
	char		*raw;		/* the record as read */
	size_t		 rawlen, rawcap;
	char		*fld;		/* its fields, unquoted, each NUL-terminated */
	size_t		 fldlen, fldcap;
	size_t		*off;		/* where each field starts in fld */
	size_t		 nf, offcap;
	int		 toolong;	/* the record outgrew max: scan, keep nothing */
};

enum { S_START, S_PLAIN, S_QUOTED, S_QUOTE };	/* S_QUOTE: a quote in S_QUOTED */

struct csv *
csv_open(int fd, size_t max_record)
{
	struct csv *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fd = fd;
	c->max = max_record ? max_record : CSV_RECORD_MAX;
	c->line = 1;
	return c;
}

void
csv_close(struct csv *c)
{
	if (c == NULL)
		return;
	free(c->raw);
	free(c->fld);
	free(c->off);
	free(c);
}

long
csv_line(const struct csv *c)
{
	return c->rline;
}

size_t
csv_nfields(const struct csv *c)
{
	return c->nf;
}

const char *
csv_field(const struct csv *c, size_t i, size_t *len)
{
	size_t end;

	if (i >= c->nf) {
		*len = 0;
		return "";
	}
	end = i + 1 < c->nf ? c->off[i + 1] - 1 : c->fldlen - 1;
	*len = end - c->off[i];
	return c->fld + c->off[i];
}

/* The record as read; NULL for one too long to keep. */
const char *
csv_raw(const struct csv *c, size_t *len)
{
	*len = c->toolong ? 0 : c->rawlen;
	if (c->toolong)
		return NULL;
	return c->raw != NULL ? c->raw : "";
}

static int
refill(struct csv *c, struct derr *e)
{
	ssize_t n;

	do
		n = read(c->fd, c->buf, sizeof(c->buf));
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return derr_set(e, EX_IOERR, "read: %s", strerror(errno));
	c->pos = 0;
	c->len = (size_t)n;
	c->eof = n == 0;
	return 0;
}

/* The next byte (0-255) without taking it, -1 at the end, -2 on error. */
static inline int
peek(struct csv *c, struct derr *e)
{
	if (c->pos == c->len) {
		if (c->eof)
			return -1;
		if (refill(c, e) == -1)
			return -2;
		if (c->eof)
			return -1;
	}
	return (unsigned char)c->buf[c->pos];
}

static inline int
next(struct csv *c, struct derr *e)
{
	int ch = peek(c, e);

	if (ch >= 0)
		c->pos++;
	return ch;
}

/* A CR that an LF follows belongs to the line break. */
static inline int
crlf(struct csv *c, struct derr *e)
{
	return peek(c, e) == '\n';
}

static int
grow(char **p, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 256;
	char *np;

	while (ncap < need)
		ncap *= 2;
	if ((np = realloc(*p, ncap)) == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

/*
 * Keep byte ch of the record's text. Past max the record is marked too
 * long and nothing more is kept, so memory stays bounded.
 */
static int
keep_raw(struct csv *c, int ch)
{
	if (c->toolong)
		return 0;
	if (c->rawlen + 1 > c->max) {
		c->toolong = 1;
		return 0;
	}
	if (c->rawlen + 2 > c->rawcap && grow(&c->raw, &c->rawcap, c->rawlen + 2) == -1)
		return -1;
	c->raw[c->rawlen++] = (char)ch;
	c->raw[c->rawlen] = '\0';
	return 0;
}

static int
add_byte(struct csv *c, int ch)
{
	if (c->toolong)
		return 0;
	if (c->fldlen + 1 > c->fldcap && grow(&c->fld, &c->fldcap, c->fldlen + 1) == -1)
		return -1;
	c->fld[c->fldlen++] = (char)ch;
	return 0;
}

/*
 * Take a run of ordinary bytes at once, up to the next byte that means
 * something in the current state: a field's text is mostly such a run.
 */
static int
take_run(struct csv *c, int quoted)
{
	const char *p = c->buf + c->pos, *end = c->buf + c->len, *start = p;
	size_t n;

	if (quoted)
		while (p < end && *p != '"' && *p != '\n')
			p++;
	else
		while (p < end && *p != ',' && *p != '\n' && *p != '\r' && *p != '"')
			p++;
	if ((n = (size_t)(p - start)) == 0)
		return 0;
	c->pos += n;
	if (c->toolong || c->rawlen + n > c->max) {
		c->toolong = 1;
		return 0;
	}
	if ((c->rawlen + n + 1 > c->rawcap && grow(&c->raw, &c->rawcap, c->rawlen + n + 1) == -1) ||
	    (c->fldlen + n > c->fldcap && grow(&c->fld, &c->fldcap, c->fldlen + n) == -1))
		return -1;
	memcpy(c->raw + c->rawlen, start, n);
	c->rawlen += n;
	c->raw[c->rawlen] = '\0';
	memcpy(c->fld + c->fldlen, start, n);
	c->fldlen += n;
	return 0;
}

static int
start_field(struct csv *c)
{
	size_t ncap;
	size_t *no;

	if (c->toolong)
		return 0;
	if (c->nf == c->offcap) {
		ncap = c->offcap ? c->offcap * 2 : 32;
		if ((no = reallocarray(c->off, ncap, sizeof(*no))) == NULL)
			return -1;
		c->off = no;
		c->offcap = ncap;
	}
	c->off[c->nf++] = c->fldlen;
	return 0;
}

static int
end_field(struct csv *c)
{
	return add_byte(c, '\0');
}

/* Skip the rest of a bad record's line, keeping its text for the caller. */
static int
skip_line(struct csv *c, struct derr *e)
{
	int ch;

	while ((ch = next(c, e)) >= 0) {
		if (keep_raw(c, ch) == -1)
			return -1;
		if (ch == '\n') {
			c->line++;
			return 0;
		}
	}
	return ch == -2 ? -1 : 0;
}

static int
bad(struct csv *c, struct derr *e, const char *why)
{
	struct derr ioe;

	derr_set(e, EX_DATAERR, "line %ld: %s", c->rline, why);
	if (skip_line(c, &ioe) == -1) {
		*e = ioe;
		return -2;
	}
	return -1;
}

static void
reset(struct csv *c)
{
	c->rawlen = c->fldlen = c->nf = 0;
	c->toolong = 0;
	if (c->raw != NULL)
		c->raw[0] = '\0';
}

/* A UTF-8 byte-order mark before the first record is not part of it. */
static int
skip_bom(struct csv *c, struct derr *e)
{
	c->started = 1;
	if (c->pos == c->len && refill(c, e) == -1)
		return -1;
	/* A BOM split across reads is too rare to honour: pipes deliver >= 3 bytes. */
	if (c->len - c->pos >= 3 && memcmp(c->buf + c->pos, "\xef\xbb\xbf", 3) == 0)
		c->pos += 3;
	return 0;
}

static int
finish(struct csv *c, struct derr *e)
{
	if (c->toolong) {
		derr_set(e, EX_DATAERR, "line %ld: record longer than %zu bytes",
		    c->rline, c->max);
		return -1;
	}
	return 1;
}

/*
 * 1: a record; 0: end of input; -1: a bad record, reported in e and
 * skipped (call again for the next); -2: cannot go on (read error, no
 * memory).
 */
int
csv_next(struct csv *c, struct derr *e)
{
	int ch, state = S_START;

	if (!c->started && skip_bom(c, e) == -1)
		return -2;
	reset(c);
	/* Empty lines hold no record. */
	for (;;) {
		c->rline = c->line;
		if ((ch = next(c, e)) == -2)
			return -2;
		if (ch == -1)
			return 0;
		if (ch == '\n') {
			c->line++;
			continue;
		}
		if (ch == '\r' && crlf(c, e)) {
			c->pos++;
			c->line++;
			continue;
		}
		break;
	}
	if (start_field(c) == -1)
		goto nomem;
	for (;; ch = next(c, e)) {
		if (ch == -2)
			return -2;
		if (ch == -1) {
			if (state == S_QUOTED)
				return bad(c, e, "quoted field not closed at the end of input");
			if (end_field(c) == -1)
				goto nomem;
			return finish(c, e);
		}
		if (keep_raw(c, ch) == -1)
			goto nomem;
		if (ch == '\n')
			c->line++;
		switch (state) {
		case S_START:
		case S_PLAIN:
			if (ch == ',') {
				if (end_field(c) == -1 || start_field(c) == -1)
					goto nomem;
				state = S_START;
			} else if (ch == '\n') {
				if (end_field(c) == -1)
					goto nomem;
				return finish(c, e);
			} else if (ch == '"') {
				if (state == S_PLAIN)
					return bad(c, e, "quote inside an unquoted field");
				state = S_QUOTED;
			} else if (ch == '\r' && crlf(c, e)) {
				/* CRLF: the LF ends the record on the next turn */
			} else {
				if (add_byte(c, ch) == -1 || take_run(c, 0) == -1)
					goto nomem;
				state = S_PLAIN;
			}
			break;
		case S_QUOTED:
			if (ch == '"')
				state = S_QUOTE;
			else if (add_byte(c, ch) == -1 || take_run(c, 1) == -1)
				goto nomem;
			break;
		case S_QUOTE:
			if (ch == '"') {
				if (add_byte(c, '"') == -1)
					goto nomem;
				state = S_QUOTED;
			} else if (ch == ',') {
				if (end_field(c) == -1 || start_field(c) == -1)
					goto nomem;
				state = S_START;
			} else if (ch == '\n') {
				if (end_field(c) == -1)
					goto nomem;
				return finish(c, e);
			} else if (ch == '\r' && crlf(c, e)) {
				/* CRLF after a closing quote */
			} else
				return bad(c, e, "text after a closing quote");
			break;
		}
	}
nomem:
	derr_set(e, EX_OSERR, "out of memory");
	return -2;
}
