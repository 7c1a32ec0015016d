/*
 * copy.c: stream rows into PostgreSQL with COPY ... FROM STDIN.
 *
 * Rows are written in COPY's text format, escaped here, into a fixed
 * buffer that is handed to libpq whenever it fills: memory stays the same
 * whatever the number of rows, and the server parses while we read.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "drip.h"

#define COPYW_BUF	(256 * 1024)

struct copyw {
	PGconn	*conn;
	size_t	 len;
	int	 fields;	/* fields in the current row */
	int	 failed;
	char	 buf[COPYW_BUF];
};

/* Bytes that COPY's text format needs escaped, and their escapes. */
static const char copy_escape[256] = {
	['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r',
	['\b'] = 'b', ['\f'] = 'f', ['\v'] = 'v',
};

struct copyw *
copyw_start(struct derr *e, PGconn *c, const char *sql)
{
	struct copyw *w;
	PGresult *r;

	r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		db_error(e, c, r, "copy");
		PQclear(r);
		return NULL;
	}
	PQclear(r);
	if ((w = malloc(sizeof(*w))) == NULL) {
		PQputCopyEnd(c, "out of memory");
		PQclear(PQgetResult(c));
		derr_set(e, EX_OSERR, "out of memory");
		return NULL;
	}
	w->conn = c;
	w->len = 0;
	w->fields = 0;
	w->failed = 0;
	return w;
}

static int
flush(struct derr *e, struct copyw *w)
{
	if (w->len > 0 && PQputCopyData(w->conn, w->buf, (int)w->len) != 1) {
		w->failed = 1;
		return db_error(e, w->conn, NULL, "copy");
	}
	w->len = 0;
	return 0;
}

/* Room for n more bytes, flushing if need be (n <= COPYW_BUF). */
static inline int
room(struct derr *e, struct copyw *w, size_t n)
{
	return w->len + n <= sizeof(w->buf) ? 0 : flush(e, w);
}

static int
separate(struct derr *e, struct copyw *w)
{
	if (w->fields++ == 0)
		return 0;
	if (room(e, w, 1) == -1)
		return -1;
	w->buf[w->len++] = '\t';
	return 0;
}

int
copyw_text(struct derr *e, struct copyw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n, *run;

	if (separate(e, w) == -1)
		return -1;
	while (p < end) {
		/* Worst case every byte doubles: ask for room for a chunk of 4 KiB. */
		size_t chunk = (size_t)(end - p) < 4096 ? (size_t)(end - p) : 4096;
		const unsigned char *stop = p + chunk;

		if (room(e, w, 2 * chunk) == -1)
			return -1;
		while (p < stop) {
			for (run = p; p < stop && copy_escape[*p] == 0; p++)
				;
			memcpy(w->buf + w->len, run, (size_t)(p - run));
			w->len += (size_t)(p - run);
			if (p < stop) {
				w->buf[w->len++] = '\\';
				w->buf[w->len++] = copy_escape[*p++];
			}
		}
	}
	return 0;
}

/*
 * Room for n bytes, so that a row of at most n bytes written next can be
 * taken back (copyw_undo) to *mark: 0, or 1 if n is more than the buffer
 * holds (then nothing can be taken back), or -1.
 */
int
copyw_reserve(struct derr *e, struct copyw *w, size_t n, size_t *mark)
{
	if (n > sizeof(w->buf))
		return 1;
	if (room(e, w, n) == -1)
		return -1;
	*mark = w->len;
	return 0;
}

/* Forget the row written since copyw_reserve() gave mark. */
void
copyw_undo(struct copyw *w, size_t mark)
{
	w->len = mark;
	w->fields = 0;
}

/* Rows already in COPY's text format, as they are. */
int
copyw_raw(struct derr *e, struct copyw *w, const char *s, size_t n)
{
	if (flush(e, w) == -1)
		return -1;
	if (n > 0 && PQputCopyData(w->conn, s, (int)n) != 1) {
		w->failed = 1;
		return db_error(e, w->conn, NULL, "copy");
	}
	return 0;
}

int
copyw_str(struct derr *e, struct copyw *w, const char *s)
{
	return s == NULL ? copyw_null(e, w) : copyw_text(e, w, s, strlen(s));
}

int
copyw_null(struct derr *e, struct copyw *w)
{
	if (separate(e, w) == -1 || room(e, w, 2) == -1)
		return -1;
	w->buf[w->len++] = '\\';
	w->buf[w->len++] = 'N';
	return 0;
}

int
copyw_int(struct derr *e, struct copyw *w, long long v)
{
	char num[24], *p = num + sizeof(num);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	/* Once per row: digits by hand, not snprintf. */
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	return copyw_text(e, w, p, (size_t)(num + sizeof(num) - p));
}

int
copyw_row(struct derr *e, struct copyw *w)
{
	if (room(e, w, 1) == -1)
		return -1;
	w->buf[w->len++] = '\n';
	w->fields = 0;
	return 0;
}

/* Send what is left, end the COPY, and give its row count. */
int
copyw_end(struct derr *e, struct copyw *w, long long *rows)
{
	PGconn *c = w->conn;
	PGresult *r;
	const char *errstr;
	int rc = 0;

	if (flush(e, w) == -1) {
		copyw_abort(w, "write failed");
		return -1;
	}
	free(w);
	if (PQputCopyEnd(c, NULL) != 1)
		rc = db_error(e, c, NULL, "copy");
	while ((r = PQgetResult(c)) != NULL) {
		if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = db_error(e, c, r, "copy");
		else if (rc == 0 && rows != NULL)
			*rows = strtonum(PQcmdTuples(r), 0, LLONG_MAX, &errstr);
		PQclear(r);
	}
	return rc;
}

/* Give up: the server discards the rows and the transaction fails. */
void
copyw_abort(struct copyw *w, const char *why)
{
	PGconn *c;
	PGresult *r;

	if (w == NULL)
		return;
	c = w->conn;
	free(w);
	if (PQputCopyEnd(c, why) == 1)
		while ((r = PQgetResult(c)) != NULL)
			PQclear(r);
}
