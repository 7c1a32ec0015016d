/*
 * jstrict.c: what json-c lets through that drip refuses.
 *
 * json-c keeps the last of two equal keys in an object and says nothing,
 * so {"status":"draft","status":"running"} would mean "running" and a
 * reviewer reading the first would be misled. It keeps a key only up to a
 * "\u0000" in it, so "status\u0000x" would be read as "status". And even
 * in strict mode it takes control characters (a raw newline, ESC) inside
 * strings, which RFC 8259 forbids and which would then travel into error
 * messages and logs. All three are refused: this scans the text of a value
 * that json-c has parsed, compares the keys of each object as json-c
 * decodes them (so "a" and "\u0061" are one key), and names the first
 * problem in the text.
 *
 * Memory is the keys of the objects open at once, not of the whole value:
 * an object's keys are checked when it closes and then forgotten. The
 * scanner never reads past len and copes with text that is not JSON at
 * all (it is fuzzed on arbitrary bytes); it only finds less there.
 */
#include <stdlib.h>
#include <string.h>

#include "drip.h"

struct key {
	size_t	 off, len;	/* decoded: in the text, or in the arena */
	int	 in_arena;
	size_t	 pos;		/* its opening quote in the text */
	size_t	 rawlen;	/* its text between the quotes */
	long	 line;
	const char *p;		/* set just before comparing */
};

struct frame {
	size_t	 key0, arena0;	/* where this object's keys begin */
	int	 object;	/* else an array */
	int	 want_key;	/* the next string is a key */
};

struct scan {
	const char	*text;
	size_t		 len;
	struct key	*keys;
	size_t		 nkeys, capkeys;
	char		*arena;
	size_t		 alen, acap;
	struct frame	*stack;
	size_t		 depth, capstack;
	int		 oom;
	/* the first problem in the text so far */
	int		 found;
	struct key	 best;		/* its key, or where it is */
	const char	*why;
	int		 show_key;
	unsigned char	 ctl;		/* the control character */
};

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *r;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if ((r = reallocarray(*p, n, size)) == NULL)
		return -1;
	*p = r;
	*cap = n;
	return 0;
}

static void
arena_put(struct scan *s, const char *b, size_t n)
{
	if (s->oom || grow((void **)&s->arena, &s->acap, s->alen + n, 1) == -1) {
		s->oom = 1;
		return;
	}
	memcpy(s->arena + s->alen, b, n);
	s->alen += n;
}

static void
put_utf8(struct scan *s, unsigned long c)
{
	char b[4];
	size_t n;

	if (c < 0x80) {
		b[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (char)(0xc0 | (c >> 6));
		b[1] = (char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (char)(0xe0 | (c >> 12));
		b[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		b[2] = (char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (c >> 18));
		b[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		b[3] = (char)(0x80 | (c & 0x3f));
		n = 4;
	}
	arena_put(s, b, n);
}

/* Four hex digits at p (within end), or -1. */
static long
hex4(const char *p, const char *end)
{
	long v = 0;
	int i;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * Decode the escaped string body [p, end) into the arena as json-c does:
 * a surrogate pair is one character, a lone surrogate is U+FFFD. *nul: a
 * "\u0000" was in it (json-c's key ends there, so the decoding does too).
 * *surr: a surrogate was escaped. json-c 0.16 turns some valid pairs
 * (\ud836\ude00) into U+FFFD as well, so two keys that differ here may
 * be one key there: such a key is refused rather than guessed at.
 */
static void
decode(struct scan *s, const char *p, const char *end, int *nul, int *surr)
{
	long c, lo;
	char e;

	*nul = 0;
	while (p < end && !*nul) {
		if (*p != '\\' || end - p < 2) {
			arena_put(s, p++, 1);
			continue;
		}
		e = p[1];
		p += 2;
		switch (e) {
		case 'b':	arena_put(s, "\b", 1); continue;
		case 'f':	arena_put(s, "\f", 1); continue;
		case 'n':	arena_put(s, "\n", 1); continue;
		case 'r':	arena_put(s, "\r", 1); continue;
		case 't':	arena_put(s, "\t", 1); continue;
		case 'u':	break;
		default:	arena_put(s, &e, 1); continue;
		}
		if ((c = hex4(p, end)) == -1)
			continue;
		p += 4;
		if (c >= 0xd800 && c <= 0xdfff)
			*surr = 1;
		if (c >= 0xd800 && c <= 0xdbff) {
			if (end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
			    (lo = hex4(p + 2, end)) >= 0xdc00 && lo <= 0xdfff) {
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			} else
				c = 0xfffd;
		} else if (c >= 0xdc00 && c <= 0xdfff)
			c = 0xfffd;
		if (c == 0)
			*nul = 1;
		else
			put_utf8(s, (unsigned long)c);
	}
}

static void
note(struct scan *s, const struct key *k, const char *why)
{
	if (s->found && s->best.pos <= k->pos)
		return;
	s->found = 1;
	s->best = *k;
	s->why = why;
	s->show_key = 1;
}

static void
note_ctl(struct scan *s, size_t pos, long line, unsigned char c)
{
	struct key k = { .pos = pos, .line = line };

	note(s, &k, "unescaped control character");
	s->show_key = 0;
	s->ctl = c;
}

static void
add_key(struct scan *s, size_t pos, size_t rawlen, long line)
{
	const char *body = s->text + pos + 1;
	struct key *k;
	int nul = 0, surr = 0;

	if (grow((void **)&s->keys, &s->capkeys, s->nkeys + 1, sizeof(*k)) == -1) {
		s->oom = 1;
		return;
	}
	k = &s->keys[s->nkeys];
	memset(k, 0, sizeof(*k));
	k->pos = pos;
	k->rawlen = rawlen;
	k->line = line;
	if (memchr(body, '\\', rawlen) == NULL) {
		k->off = pos + 1;
		k->len = rawlen;
	} else {
		k->in_arena = 1;
		k->off = s->alen;
		decode(s, body, body + rawlen, &nul, &surr);
		k->len = s->alen - k->off;
	}
	if (s->oom)
		return;
	s->nkeys++;
	if (nul)
		note(s, k, "NUL character in key");
	else if (surr)
		note(s, k, "surrogate escape in key");
}

static int
key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, n);

	if (c != 0)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int
same_key(const struct key *x, const struct key *y)
{
	return x->len == y->len && memcmp(x->p, y->p, x->len) == 0;
}

/* The keys of the object that just closed: the later of two equal ones. */
static void
check_object(struct scan *s, size_t key0)
{
	struct key *k;
	const char *base;
	size_t i, j, n = s->nkeys - key0;

	if (n < 2)
		return;
	k = s->keys + key0;
	for (i = 0; i < n; i++) {
		/* a key that decodes to nothing may leave the arena unmade */
		base = k[i].in_arena ? s->arena : s->text;
		k[i].p = base != NULL ? base + k[i].off : "";
	}
	if (n <= 8) {
		for (i = 1; i < n; i++)
			for (j = 0; j < i; j++)
				if (same_key(&k[i], &k[j]))
					note(s, &k[i], "duplicate key");
		return;
	}
	qsort(k, n, sizeof(*k), key_cmp);
	for (i = 1; i < n; i++)
		if (same_key(&k[i], &k[i - 1]))
			note(s, &k[i], "duplicate key");
}

static void
push(struct scan *s, int object)
{
	struct frame *f;

	if (grow((void **)&s->stack, &s->capstack, s->depth + 1, sizeof(*f)) == -1) {
		s->oom = 1;
		return;
	}
	f = &s->stack[s->depth++];
	f->key0 = s->nkeys;
	f->arena0 = s->alen;
	f->object = object;
	f->want_key = object;
}

static void
pop(struct scan *s)
{
	struct frame *f;

	if (s->depth == 0)
		return;
	f = &s->stack[--s->depth];
	if (f->object)
		check_object(s, f->key0);
	s->nkeys = f->key0;
	s->alen = f->arena0;
}

/* Past the string whose opening quote is at i: the index of its close. */
static size_t
string_end(struct scan *s, size_t i, long *line)
{
	const char *t = s->text;

	for (i++; i < s->len && t[i] != '"'; i++) {
		if (t[i] == '\\' && i + 1 < s->len)
			i++;
		if ((unsigned char)t[i] < 0x20)
			note_ctl(s, i, *line, (unsigned char)t[i]);
		if (t[i] == '\n')
			(*line)++;
	}
	return i;
}

static void
scan(struct scan *s)
{
	const char *t = s->text;
	struct frame *top;
	size_t i, end;
	long line = 1;

	for (i = 0; i < s->len && !s->oom; i++) {
		top = s->depth > 0 ? &s->stack[s->depth - 1] : NULL;
		switch (t[i]) {
		case '\n':
			line++;
			break;
		case '{':
		case '[':
			push(s, t[i] == '{');
			break;
		case '}':
		case ']':
			pop(s);
			break;
		case ',':
			if (top != NULL)
				top->want_key = top->object;
			break;
		case ':':
			if (top != NULL)
				top->want_key = 0;
			break;
		case '"':
			end = string_end(s, i, &line);
			if (end >= s->len)
				return;		/* unterminated: not JSON */
			if (top != NULL && top->want_key) {
				add_key(s, i, end - i - 1, line);
				top->want_key = 0;
			}
			i = end;
			break;
		}
	}
}

/* The key as written, on one line, cut to size on a character boundary. */
static void
show_key(const struct scan *s, char *out, size_t outsz)
{
	const char *raw = s->text + s->best.pos + 1;
	size_t i, n = s->best.rawlen;

	if (outsz == 0)
		return;
	if (n > outsz - 1) {
		n = outsz - 1;
		while (n > 0 && ((unsigned char)raw[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++)
		out[i] = (unsigned char)raw[i] < 0x20 || raw[i] == 0x7f ? '?' : raw[i];
	out[n] = '\0';
}

int
json_strict_check(const char *text, size_t len, long *line, char *msg,
    size_t msgsz)
{
	struct scan s = { .text = text, .len = len };
	char key[72];
	int rc = 0;

	scan(&s);
	while (s.depth > 0 && !s.oom)
		pop(&s);
	if (s.oom)
		rc = -1;
	else if (s.found) {
		*line = s.best.line;
		if (s.show_key) {
			show_key(&s, key, sizeof(key));
			snprintf(msg, msgsz, "%s \"%s\"", s.why, key);
		} else
			snprintf(msg, msgsz, "%s U+%04X in a string: escape it as \\u%04x",
			    s.why, s.ctl, s.ctl);
		rc = 1;
	}
	free(s.keys);
	free(s.arena);
	free(s.stack);
	return rc;
}
