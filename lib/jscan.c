/*
 * jscan.c: a few members of a JSON object, read from its text without
 * building a tree.
 *
 * A created draft comes back as the whole message: some forty members
 * and its body, a kilobyte or more. send-due wants three strings of it.
 * json-c builds the tree of all of it first: 13% of send-due's
 * instructions per send (callgrind, 2026-11-29), more than anything of
 * drip's own. This reads the text once and copies out what was asked.
 *
 * It reads strict JSON (RFC 8259) only, and gives up on anything it
 * would have to interpret rather than copy: a key with an escape (it
 * could spell a wanted key), a wanted string with an escape or too long
 * for its buffer, a wanted member of another type or given twice, a
 * surrogate escape anywhere, a number of more than 18 characters,
 * nesting deeper than JSCAN_DEPTH, a byte after the object. The caller
 * then reads the text with json-c, as it did before, so the scan never
 * decides differently from the tree; fuzz-jscan holds it to that.
 */
#include <ctype.h>
#include <string.h>

#include "drip.h"

#define JSCAN_DEPTH	16
#define JSCAN_NUMBER	18	/* longer numbers: json-c's limits decide */

struct scan {
	const char	*p, *end;
};

static int value(struct scan *, int);

static void
skip_ws(struct scan *s)
{
	while (s->p < s->end &&
	    (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

static int
at(const struct scan *s, char c)
{
	return s->p < s->end && *s->p == c;
}

/* c at s->p: passed */
static int
eat(struct scan *s, char c)
{
	if (!at(s, c))
		return 0;
	s->p++;
	return 1;
}

/* The escape at p (its backslash); its end, or NULL. */
static const char *
escape(const char *p, const char *end)
{
	int i;

	if (end - p < 2)
		return NULL;
	if (strchr("\"\\/bfnrt", p[1]) != NULL && p[1] != '\0')
		return p + 2;
	if (p[1] != 'u' || end - p < 6)
		return NULL;
	for (i = 2; i < 6; i++)
		if (!isxdigit((unsigned char)p[i]))
			return NULL;
	/* json-c and RFC 8259 disagree on lone surrogates: leave them to it */
	if ((p[2] == 'd' || p[2] == 'D') && strchr("89abcdefABCDEF", p[3]) != NULL)
		return NULL;
	return p + 6;
}

/* A string (s->p at its quote): passed; its text between the quotes. */
static int
string(struct scan *s, const char **text, size_t *len, int *escaped)
{
	const char *p = s->p + 1;

	*escaped = 0;
	*text = p;
	while (p < s->end && *p != '"') {
		if ((unsigned char)*p < 0x20)
			return 0;
		if (*p == '\\') {
			*escaped = 1;
			if ((p = escape(p, s->end)) == NULL)
				return 0;
		} else
			p++;
	}
	if (p >= s->end)
		return 0;
	*len = (size_t)(p - *text);
	s->p = p + 1;
	return 1;
}

static int
digits(struct scan *s)
{
	const char *p = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > p;
}

static int
number(struct scan *s)
{
	const char *p = s->p;

	eat(s, '-');
	if (!eat(s, '0') && !digits(s))
		return 0;
	if (eat(s, '.') && !digits(s))
		return 0;
	if (eat(s, 'e') || eat(s, 'E')) {
		if (!eat(s, '+'))
			eat(s, '-');
		if (!digits(s))
			return 0;
	}
	return s->p - p <= JSCAN_NUMBER;
}

static int
word(struct scan *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return 0;
	s->p += n;
	return 1;
}

static int
array(struct scan *s, int depth)
{
	if (depth > JSCAN_DEPTH)
		return 0;
	s->p++;
	skip_ws(s);
	if (eat(s, ']'))
		return 1;
	for (;;) {
		if (!value(s, depth))
			return 0;
		skip_ws(s);
		if (!eat(s, ','))
			return eat(s, ']');
		skip_ws(s);
	}
}

static struct jscan_field *
wanted(struct jscan_field *f, size_t nf, const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < nf; i++)
		if (f[i].key[0] == *key && strlen(f[i].key) == len &&
		    memcmp(f[i].key, key, len) == 0)
			return &f[i];
	return NULL;
}

/* A wanted member's value, copied out if it can be as it is. */
static int
take(struct scan *s, struct jscan_field *w, int depth)
{
	const char *text;
	size_t len;
	int escaped;

	if (w->found++)
		return 0;
	if (w->str != NULL) {
		if (!at(s, '"') || !string(s, &text, &len, &escaped) || escaped ||
		    len >= w->size)
			return 0;
		memcpy(w->str, text, len);
		w->str[len] = '\0';
		return 1;
	}
	if (w->boolean != NULL) {
		if (word(s, "true"))
			*w->boolean = 1;
		else if (word(s, "false"))
			*w->boolean = 0;
		else
			return 0;
		return 1;
	}
	return value(s, depth);
}

/* An object (s->p at its brace); f: the members wanted, at the top only. */
static int
object(struct scan *s, int depth, struct jscan_field *f, size_t nf)
{
	struct jscan_field *w;
	const char *key;
	size_t len;
	int escaped;

	if (depth > JSCAN_DEPTH)
		return 0;
	s->p++;
	skip_ws(s);
	if (eat(s, '}'))
		return 1;
	for (;;) {
		if (!at(s, '"') || !string(s, &key, &len, &escaped) ||
		    (escaped && f != NULL))
			return 0;
		skip_ws(s);
		if (!eat(s, ':'))
			return 0;
		skip_ws(s);
		if (f != NULL && (w = wanted(f, nf, key, len)) != NULL) {
			if (!take(s, w, depth))
				return 0;
		} else if (!value(s, depth))
			return 0;
		skip_ws(s);
		if (!eat(s, ','))
			return eat(s, '}');
		skip_ws(s);
	}
}

static int
value(struct scan *s, int depth)
{
	const char *text;
	size_t len;
	int escaped;

	if (s->p >= s->end)
		return 0;
	switch (*s->p) {
	case '"':	return string(s, &text, &len, &escaped);
	case '{':	return object(s, depth + 1, NULL, 0);
	case '[':	return array(s, depth + 1);
	case 't':	return word(s, "true");
	case 'f':	return word(s, "false");
	case 'n':	return word(s, "null");
	default:	return number(s);
	}
}

int
jscan_object(const char *text, size_t len, struct jscan_field *f, size_t nf)
{
	struct scan s;
	size_t i;

	for (i = 0; i < nf; i++)
		f[i].found = 0;
	if (text == NULL)
		return 0;
	s.p = text;
	s.end = text + len;
	skip_ws(&s);
	if (!at(&s, '{') || !object(&s, 1, f, nf))
		return 0;
	return s.p == s.end;
}
