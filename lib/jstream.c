/*
 * jstream.c: read consecutive JSON values from a file descriptor.
 *
 * One pretty-printed object, JSON Lines, or values simply concatenated all
 * read the same way. Memory is bounded by the largest single value (capped
 * at max_object), never by the input. The text of each value is kept until
 * the next call, so a tool can copy a rejected line verbatim.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drip.h"

#define JSTREAM_DEPTH	64

struct jstream {
	int		 fd;
	json_tokener	*tok;
	size_t		 max;
	char		 buf[JSTREAM_BUF];
	size_t		 len, pos;
	int		 eof;
	long		 line;		/* line at buf[pos] */
	long		 vline;		/* line the current value began on */
	char		*raw;
	size_t		 rawlen, rawcap;
	int		 dead;		/* an error we cannot resume after */
	int		 array;		/* inside a top-level array: AR_* */
	size_t		 cost;		/* memory the current value will take */
	int		 in_str, esc;	/* where weigh() is in its text */
	int		 ready;		/* at a value: jstream_peek() got there */
	int		 nomore;	/* read() said end of input */
};

/* jstream_array(): where we are in a top-level array */
enum { AR_NONE, AR_FIRST, AR_NEXT, AR_DONE };

struct jstream *
jstream_open(int fd, size_t max_object)
{
	struct jstream *js;

	if ((js = calloc(1, sizeof(*js))) == NULL)
		return NULL;
	js->fd = fd;
	js->max = max_object ? max_object : JSTREAM_MAX_OBJECT;
	js->line = 1;
	if ((js->tok = json_tokener_new_ex(JSTREAM_DEPTH)) == NULL) {
		free(js);
		return NULL;
	}
	json_tokener_set_flags(js->tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_ALLOW_TRAILING_CHARS | JSON_TOKENER_VALIDATE_UTF8);
	return js;
}

void
jstream_close(struct jstream *js)
{
	if (js == NULL)
		return;
	json_tokener_free(js->tok);
	free(js->raw);
	free(js);
}

long
jstream_line(const struct jstream *js)
{
	return js->vline;
}

const char *
jstream_raw(const struct jstream *js, size_t *len)
{
	*len = js->rawlen;
	return js->raw != NULL ? js->raw : "";
}

static int
refill(struct jstream *js, struct derr *e)
{
	ssize_t n;

	if (js->pos < js->len || js->eof)
		return 0;
	if (js->nomore)
		return js->pos = js->len = 0, js->eof = 1, 0;
	do
		n = read(js->fd, js->buf, sizeof(js->buf));
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return derr_set(e, EX_IOERR, "read: %s", strerror(errno));
	js->pos = 0;
	js->len = (size_t)n;
	js->eof = n == 0;
	return 0;
}

static int
keep_raw(struct jstream *js, const char *p, size_t n, struct derr *e)
{
	size_t cap;
	char *r;

	if (js->rawlen + n > js->max) {
		js->dead = 1;
		if (js->max % (1024 * 1024) == 0)
			return derr_set(e, EX_DATAERR, "line %ld: value larger than "
			    "%zu MiB, the limit", js->vline, js->max / (1024 * 1024));
		return derr_set(e, EX_DATAERR, "line %ld: value larger than %zu bytes",
		    js->vline, js->max);
	}
	if (js->rawlen + n + 1 > js->rawcap) {
		cap = js->rawcap ? js->rawcap : 1024;
		while (cap < js->rawlen + n + 1)
			cap *= 2;
		if ((r = realloc(js->raw, cap)) == NULL) {
			js->dead = 1;
			return derr_set(e, EX_OSERR, "out of memory");
		}
		js->raw = r;
		js->rawcap = cap;
	}
	memcpy(js->raw + js->rawlen, p, n);
	js->rawlen += n;
	js->raw[js->rawlen] = '\0';
	return 0;
}

/*
 * What json-c holds for the text it consumed, roughly (measured with
 * json-c 0.16): an object about 800 bytes (its hash table), an array 160,
 * any other value about 100 whatever its text, plus the text itself.
 * A value may cost JSTREAM_COST times max_object: the byte limit alone
 * would let 16 MiB of "{}," take 4 GiB.
 */
#define JSTREAM_COST	16
#define COST_OBJECT	800
#define COST_ARRAY	160
#define COST_VALUE	100

static int
weigh(struct jstream *js, const char *p, size_t n, struct derr *e)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (js->in_str) {
			if (js->esc)
				js->esc = 0;
			else if (p[i] == '\\')
				js->esc = 1;
			else if (p[i] == '"')
				js->in_str = 0;
			continue;
		}
		switch (p[i]) {
		case '"':	js->in_str = 1; break;
		case '{':	js->cost += COST_OBJECT; break;
		case '[':	js->cost += COST_ARRAY; break;
		case ',':
		case ':':	js->cost += COST_VALUE; break;
		}
	}
	js->cost += n;
	if (js->cost / JSTREAM_COST <= js->max)
		return 0;
	js->dead = 1;
	return derr_set(e, EX_DATAERR, "line %ld: value has too many objects, "
	    "arrays or elements: it would take more than %zu MiB of memory",
	    js->vline, js->max / (1024 * 1024) * JSTREAM_COST);
}

static void
count_lines(struct jstream *js, const char *p, size_t n)
{
	const char *end = p + n;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		js->line++;
		p++;
	}
}

/* Consume text up to and including the next newline. */
static int
skip_line(struct jstream *js, struct derr *e)
{
	const char *nl;
	size_t n;
	struct derr ignore;

	for (;;) {
		if (refill(js, e) == -1)
			return -1;
		if (js->eof)
			return 0;
		nl = memchr(js->buf + js->pos, '\n', js->len - js->pos);
		n = nl != NULL ? (size_t)(nl - (js->buf + js->pos)) + 1 : js->len - js->pos;
		if (js->rawlen + n <= js->max)
			(void)keep_raw(js, js->buf + js->pos, n, &ignore);
		count_lines(js, js->buf + js->pos, n);
		js->pos += n;
		if (nl != NULL)
			return 0;
	}
}

static int
skip_space(struct jstream *js, struct derr *e)
{
	for (;;) {
		if (refill(js, e) == -1)
			return -1;
		if (js->eof)
			return 0;
		while (js->pos < js->len) {
			char c = js->buf[js->pos];

			if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
				return 0;
			if (c == '\n')
				js->line++;
			js->pos++;
		}
	}
}

static int
dead(struct jstream *js, struct derr *e, const char *why)
{
	js->dead = 1;
	derr_set(e, EX_DATAERR, "line %ld: %s", js->line, why);
	return -2;
}

/*
 * If the input is one JSON array, its elements are the values from now
 * on, each with its own line and text, memory bounded by the largest
 * element rather than the array. 1: it is an array; 0: it is not; -1: a
 * read error.
 */
int
jstream_array(struct jstream *js, struct derr *e)
{
	if (skip_space(js, e) == -1)
		return -1;
	if (js->eof || js->buf[js->pos] != '[')
		return 0;
	js->pos++;
	js->array = AR_FIRST;
	return 1;
}

/* Between elements: 1 for another, 0 at the end, -2 on bad syntax. */
static int
array_step(struct jstream *js, struct derr *e)
{
	char ch;

	if (skip_space(js, e) == -1)
		return -2;
	if (js->eof)
		return dead(js, e, "truncated JSON: array not closed");
	ch = js->buf[js->pos];
	if (ch == ']') {
		js->pos++;
		js->array = AR_DONE;
		if (skip_space(js, e) == -1)
			return -2;
		return js->eof ? 0 : dead(js, e, "text after the array");
	}
	if (js->array == AR_NEXT) {
		if (ch != ',')
			return dead(js, e, "expected ',' or ']' in the array");
		js->pos++;
		if (skip_space(js, e) == -1)
			return -2;
		if (js->eof)
			return dead(js, e, "truncated JSON: array not closed");
	}
	js->array = AR_NEXT;
	return 1;
}

/*
 * A value json-c parsed, unless its text has what json-c takes and strict
 * JSON or drip does not: a key twice in one object (json-c keeps the last
 * silently), a key with a NUL in it (json-c cuts it there), a raw control
 * character in a string. Then the value is dropped and reading may go on
 * (-1); -2 when memory ran out.
 */
static int
strict_ok(struct jstream *js, json_object *v, struct derr *e)
{
	char msg[160];
	long line;
	int rc;

	if (!json_object_is_type(v, json_type_object) &&
	    !json_object_is_type(v, json_type_array) &&
	    !json_object_is_type(v, json_type_string))
		return 1;
	rc = json_strict_check(js->raw, js->rawlen, &line, msg, sizeof(msg));
	if (rc == 0)
		return 1;
	json_object_put(v);
	if (rc == -1) {
		js->dead = 1;
		return derr_set(e, EX_OSERR, "out of memory"), -2;
	}
	return derr_set(e, EX_DATAERR, "line %ld: %s", js->vline + line - 1, msg);
}

/* json-c's words, but a NUL byte is not "unexpected end of data". */
static const char *
error_why(const struct jstream *js, enum json_tokener_error jerr)
{
	size_t at = js->pos + json_tokener_get_parse_end(js->tok);

	/* json-c stops on the NUL, or just after it inside a string */
	if ((at < js->len && js->buf[at] == '\0') ||
	    (at > js->pos && at <= js->len && js->buf[at - 1] == '\0'))
		return "a NUL byte";
	return json_tokener_error_desc(jerr);
}

/*
 * Make the text from pos on hold a whole line if the buffer can: move it
 * to the front and read behind it.
 */
static int
more_line(struct jstream *js, struct derr *e)
{
	size_t have = js->len - js->pos;
	ssize_t n;

	if (js->nomore || memchr(js->buf + js->pos, '\n', have) != NULL)
		return 0;
	memmove(js->buf, js->buf + js->pos, have);
	js->pos = 0;
	js->len = have;
	while (js->len < sizeof(js->buf)) {
		do
			n = read(js->fd, js->buf + js->len, sizeof(js->buf) - js->len);
		while (n == -1 && errno == EINTR);
		if (n == -1)
			return derr_set(e, EX_IOERR, "read: %s", strerror(errno));
		if (n == 0) {
			js->nomore = 1;
			break;
		}
		if (memchr(js->buf + js->len, '\n', (size_t)n) != NULL) {
			js->len += (size_t)n;
			break;
		}
		js->len += (size_t)n;
	}
	return 0;
}

/* Up to the next value: past a ',' in an array, and white space. */
static int
to_value(struct jstream *js, struct derr *e)
{
	int rc;

	if (js->ready)
		return 1;
	if (js->array == AR_DONE)
		return 0;
	if (js->array != AR_NONE && (rc = array_step(js, e)) != 1)
		return rc;
	if (skip_space(js, e) == -1)
		return -2;
	if (js->eof)
		return 0;
	js->ready = 1;
	return 1;
}

int
jstream_peek(struct jstream *js, const char **text, size_t *len,
    struct derr *e)
{
	int rc;

	if (js->dead)
		return derr_set(e, EX_DATAERR, "input abandoned after an earlier error"), -2;
	if ((rc = to_value(js, e)) != 1)
		return rc;
	if (more_line(js, e) == -1)
		return -2;
	*text = js->buf + js->pos;
	*len = js->len - js->pos;
	if (*len > js->max)
		*len = js->max;
	return 1;
}

void
jstream_skip(struct jstream *js, size_t len)
{
	struct derr ignore;

	js->ready = 0;
	js->vline = js->line;
	js->rawlen = 0;
	(void)keep_raw(js, js->buf + js->pos, len, &ignore);
	js->pos += len;
}

/*
 * 1: a value; 0: end of input; -1: a bad value, skipped to the end of its
 * line (a caller that keeps going may call again); -2: cannot go on.
 */
int
jstream_next(struct jstream *js, json_object **out, struct derr *e)
{
	enum json_tokener_error jerr;
	json_object *v;
	size_t n, used;
	int rc;

	*out = NULL;
	if (js->dead)
		return derr_set(e, EX_DATAERR, "input abandoned after an earlier error"), -2;
	if ((rc = to_value(js, e)) != 1)
		return rc;
	js->ready = 0;
	js->vline = js->line;
	js->rawlen = 0;
	js->cost = 0;
	js->in_str = js->esc = 0;
	json_tokener_reset(js->tok);
	for (;;) {
		n = js->len - js->pos;
		v = json_tokener_parse_ex(js->tok, js->buf + js->pos, (int)(n > INT32_MAX ? INT32_MAX : n));
		jerr = json_tokener_get_error(js->tok);
		used = v != NULL || jerr == json_tokener_continue ?
		    json_tokener_get_parse_end(js->tok) : 0;
		if (keep_raw(js, js->buf + js->pos, used, e) == -1) {
			json_object_put(v);
			return -2;
		}
		count_lines(js, js->buf + js->pos, used);
		if (weigh(js, js->buf + js->pos, used, e) == -1) {
			json_object_put(v);
			return -2;
		}
		js->pos += used;
		if (v != NULL) {
			if ((rc = strict_ok(js, v, e)) == 1)
				*out = v;
			return rc;
		}
		if (jerr != json_tokener_continue) {
			derr_set(e, EX_DATAERR, "line %ld: invalid JSON: %s", js->line,
			    error_why(js, jerr));
			/* Inside an array there is no line to resume at. */
			if (js->array != AR_NONE)
				return js->dead = 1, -2;
			return skip_line(js, e) == -1 ? -2 : -1;
		}
		if (refill(js, e) == -1)
			return -2;
		if (js->eof) {
			js->dead = 1;
			return derr_set(e, EX_DATAERR, "line %ld: truncated JSON", js->vline), -2;
		}
	}
}

json_object *
json_read_one(int fd, struct derr *e)
{
	struct jstream *js;
	json_object *v = NULL, *extra = NULL;
	int rc;

	if ((js = jstream_open(fd, 0)) == NULL)
		return derr_set(e, EX_OSERR, "out of memory"), NULL;
	if ((rc = jstream_next(js, &v, e)) == 0)
		derr_set(e, EX_DATAERR, "input: empty, expected one JSON object");
	if (rc != 1)
		goto fail;
	if (!json_object_is_type(v, json_type_object)) {
		derr_set(e, EX_DATAERR, "input: expected a JSON object");
		goto fail;
	}
	if ((rc = jstream_next(js, &extra, e)) == 1)
		derr_set(e, EX_DATAERR, "line %ld: expected one JSON object, found more",
		    jstream_line(js));
	if (rc != 0)
		goto fail;
	jstream_close(js);
	return v;
fail:
	json_object_put(v);
	json_object_put(extra);
	jstream_close(js);
	return NULL;
}
