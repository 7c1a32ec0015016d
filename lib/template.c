/*
 * template.c: the template language of campaign steps.
 *
 *   {{name}}            the value of name
 *   {{name|fallback}}   the value of name, or fallback when it has none
 *
 * A name is 1 to 64 letters, digits, '_', '-' or '.', with optional spaces
 * around it; the fallback is the text after the first '|' up to the next
 * "}}", spaces trimmed at both ends. A variable fits on one line.
 *
 * Escaping: a backslash immediately before "{{" writes a literal "{{" (the
 * backslash is dropped). A backslash anywhere else is an ordinary
 * character, and "{{{{" is not special: it opens a variable whose name
 * starts with '{', which is an error. "}}" outside a variable is text.
 *
 * Values are inserted once and never read again as template text, so a
 * "{{" inside a value stays "{{". In body_html values (not the template's
 * own text or fallbacks, which the author wrote) are HTML-escaped; in
 * body_text and the subject they are inserted as they are, and every CR and
 * LF is dropped from a rendered subject, so no value can add a header.
 *
 * A value that is empty or only white space counts as no value: the
 * fallback is used, and without a fallback rendering fails naming the
 * variable (the caller decides what that means: send-due fails the step
 * rather than mail "Hi ,").
 */
#include <stdlib.h>
#include <string.h>

#include "drip.h"

struct tvar {
	const char	*end;		/* just past the closing "}}" */
	const char	*name;
	size_t		 namelen;
	const char	*fallback;	/* NULL: none */
	size_t		 fblen;
};

static int
name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

static int
blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The variable whose "{{" is at open; NULL if fine, else why. */
static const char *
scan_var(const char *open, struct tvar *v)
{
	const char *p = open + 2, *close, *nl, *bar, *nend;
	size_t i;

	close = strstr(p, "}}");
	nl = strpbrk(p, "\r\n");
	if (close == NULL || (nl != NULL && nl < close))
		return "unclosed {{";
	/*
	 * A second "{{" before the close: the first one was never closed
	 * ("{{{{" right at the start is a bad name instead, said below).
	 */
	if ((bar = strstr(p, "{{")) != NULL && bar > p && bar < close)
		return "unclosed {{";
	v->end = close + 2;
	bar = memchr(p, '|', (size_t)(close - p));
	nend = bar != NULL ? bar : close;
	while (p < nend && blank(*p))
		p++;
	while (nend > p && blank(nend[-1]))
		nend--;
	v->name = p;
	v->namelen = (size_t)(nend - p);
	if (v->namelen == 0)
		return "empty variable name";
	if (v->namelen > TMPL_NAME_MAX)
		return "variable name longer than 64 characters";
	for (i = 0; i < v->namelen; i++)
		if (!name_char((unsigned char)p[i]))
			return "invalid variable name";
	v->fallback = NULL;
	v->fblen = 0;
	if (bar != NULL) {
		p = bar + 1;
		nend = close;
		while (p < nend && blank(*p))
			p++;
		while (nend > p && blank(nend[-1]))
			nend--;
		v->fallback = p;
		v->fblen = (size_t)(nend - p);
	}
	return NULL;
}

/* Line and column (in characters, from 1) of at within text. */
static void
position(const char *text, const char *at, long *line, long *col)
{
	const char *p;

	*line = 1;
	*col = 1;
	for (p = text; p < at; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)*p & 0xc0) != 0x80)
			(*col)++;
	}
}

/* An escaped "{{": the backslash right before it. */
static int
escaped(const char *text, const char *open)
{
	return open > text && open[-1] == '\\';
}

/* A bad name as a message shows it: control characters as '?'. */
static const char *
shown_name(const struct tvar *v, char out[TMPL_NAME_MAX + 1])
{
	size_t i;

	for (i = 0; i < v->namelen && i < TMPL_NAME_MAX; i++)
		out[i] = (unsigned char)v->name[i] < 0x20 || v->name[i] == 0x7f ?
		    '?' : v->name[i];
	out[i] = '\0';
	return out;
}

int
tmpl_check(const char *text, const char *path, struct vlist *errs)
{
	const char *p = text, *open, *why;
	char shown[TMPL_NAME_MAX + 1];
	struct tvar v;
	long line, col;
	int bad = 0;

	while ((open = strstr(p, "{{")) != NULL) {
		if (escaped(text, open)) {
			p = open + 2;
			continue;
		}
		if ((why = scan_var(open, &v)) == NULL) {
			p = v.end;
			continue;
		}
		position(text, open, &line, &col);
		if (strcmp(why, "invalid variable name") == 0)
			vlist_add(errs, "%s: invalid variable name '%s' at line %ld, column %ld",
			    path, shown_name(&v, shown), line, col);
		else
			vlist_add(errs, "%s: %s at line %ld, column %ld", path, why, line, col);
		bad++;
		/* Go on after this variable if it closes on its line, else give up. */
		if (strcmp(why, "unclosed {{") == 0)
			break;
		p = v.end;
	}
	return bad;
}

struct buf {
	char	*s;
	size_t	 len, cap;
	int	 oom;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	size_t cap;
	char *r;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1) {
			if (cap > SIZE_MAX / 2) {
				b->oom = 1;
				return;
			}
			cap *= 2;
		}
		if ((r = realloc(b->s, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->s = r;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Text into the output: in a subject, without CR and LF. */
static void
emit(struct buf *b, const char *s, size_t n, enum tmpl_mode mode)
{
	size_t i, from = 0;

	if (mode != TMPL_SUBJECT) {
		buf_add(b, s, n);
		return;
	}
	for (i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n') {
			buf_add(b, s + from, i - from);
			from = i + 1;
		}
	}
	buf_add(b, s + from, n - from);
}

static void
emit_html(struct buf *b, const char *s)
{
	const char *from = s, *rep;

	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':	rep = "&amp;"; break;
		case '<':	rep = "&lt;"; break;
		case '>':	rep = "&gt;"; break;
		case '"':	rep = "&quot;"; break;
		case '\'':	rep = "&#39;"; break;
		default:	continue;
		}
		buf_add(b, from, (size_t)(s - from));
		buf_add(b, rep, strlen(rep));
		from = s + 1;
	}
	buf_add(b, from, (size_t)(s - from));
}

static int
has_value(const char *s)
{
	if (s == NULL)
		return 0;
	for (; *s != '\0'; s++)
		if (!blank(*s) && *s != '\r' && *s != '\n')
			return 1;
	return 0;
}

char *
tmpl_render(struct derr *e, const char *text, enum tmpl_mode mode,
    tmpl_lookup_fn lookup, void *ctx)
{
	struct buf b = { .s = NULL };
	const char *p = text, *open, *why, *val;
	char name[TMPL_NAME_MAX + 1];
	struct tvar v;
	long line, col;

	buf_add(&b, "", 0);
	while ((open = strstr(p, "{{")) != NULL) {
		if (escaped(text, open)) {
			emit(&b, p, (size_t)(open - 1 - p), mode);
			buf_add(&b, "{{", 2);
			p = open + 2;
			continue;
		}
		emit(&b, p, (size_t)(open - p), mode);
		if ((why = scan_var(open, &v)) != NULL) {
			position(text, open, &line, &col);
			derr_set(e, EX_DATAERR, "template: %s at line %ld, column %ld",
			    why, line, col);
			goto fail;
		}
		memcpy(name, v.name, v.namelen);
		name[v.namelen] = '\0';
		val = lookup(ctx, name);
		if (has_value(val)) {
			if (mode == TMPL_HTML)
				emit_html(&b, val);
			else
				emit(&b, val, strlen(val), mode);
		} else if (v.fallback != NULL)
			emit(&b, v.fallback, v.fblen, mode);
		else {
			derr_set(e, EX_DATAERR, "no value for variable %s", name);
			goto fail;
		}
		p = v.end;
	}
	emit(&b, p, strlen(p), mode);
	if (b.oom) {
		derr_set(e, EX_OSERR, "template: out of memory");
		goto fail;
	}
	return b.s;
fail:
	free(b.s);
	return NULL;
}

/* The standard variables: prospect columns and the sender; then fields. */
const char *
tmpl_vars_lookup(void *ctx, const char *name)
{
	const struct tmpl_vars *tv = ctx;
	static const struct {
		const char *name;
		size_t off;
	} std[] = {
		{ "email",		offsetof(struct tmpl_vars, email) },
		{ "first_name",		offsetof(struct tmpl_vars, first_name) },
		{ "last_name",		offsetof(struct tmpl_vars, last_name) },
		{ "company",		offsetof(struct tmpl_vars, company) },
		{ "title",		offsetof(struct tmpl_vars, title) },
		{ "sender_name",	offsetof(struct tmpl_vars, sender_name) },
		{ "sender_email",	offsetof(struct tmpl_vars, sender_email) },
	};
	json_object *v;
	size_t i;

	for (i = 0; i < sizeof(std) / sizeof(std[0]); i++)
		if (strcmp(name, std[i].name) == 0)
			return *(const char *const *)(const void *)
			    ((const char *)tv + std[i].off);
	if (tv->fields != NULL && json_object_object_get_ex(tv->fields, name, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}
