/*
 * classify.c: what a message that arrived in a sender's Inbox is, from its
 * own fields alone: a reply, an opt-out, an automatic reply, a report of
 * non-delivery (permanent or delayed), or nothing drip acts on; and the
 * evidence that ties it to a message drip sent (the message ids it refers
 * to, the address it is about). Whether it does answer one of drip's
 * messages is the database's question (drip.inbound_match, 006_inbox.sql).
 *
 * Pure functions: no allocation that outlives a call, no I/O but the
 * opt-out words file, no global state.
 *
 * The order of the questions matters. A delivery report carries
 * Auto-Submitted too, so reports are recognised first, and only from a
 * mail system (postmaster, mailer-daemon, Exchange's "Microsoft Outlook")
 * or with a delivery-status report type: a person whose subject says
 * "Undeliverable" has written a reply. Opt-out words count only in what
 * the sender wrote, never in the quoted original below it or in a
 * signature.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drip.h"

const char *const classify_optout_default[] = {
	"unsubscribe", "remove me", "remove us", "take me off", "stop",
	"opt out", "opt-out", "do not contact", "don't contact",
	"do not email", "don't email", "stop emailing", "no more emails",
	NULL
};

const char *
inbound_class_name(enum inbound_class c)
{
	switch (c) {
	case INBOUND_REPLY:		return "reply";
	case INBOUND_AUTO_REPLY:	return "auto_reply";
	case INBOUND_BOUNCE:		return "bounce";
	case INBOUND_DELAY:		return "delay";
	case INBOUND_OPTOUT:		return "optout";
	case INBOUND_OTHER:		break;
	}
	return "other";
}

/* --- small text helpers ------------------------------------------------- */

static int
word_char(unsigned char c)
{
	return isalnum(c) || c >= 0x80;
}

static int
prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static const char *
skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	return s;
}

static const char *
header(const struct inbound_msg *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nheaders; i++)
		if (m->headers[i].name != NULL && m->headers[i].value != NULL &&
		    strcasecmp(m->headers[i].name, name) == 0)
			return m->headers[i].value;
	return NULL;
}

/* Does s contain needle, ignoring ASCII case? */
static int
contains_ci(const char *s, const char *needle)
{
	size_t n = strlen(needle);

	for (; *s != '\0'; s++)
		if (strncasecmp(s, needle, n) == 0)
			return 1;
	return 0;
}

/* --- HTML to text --------------------------------------------------------- */

struct text {
	char	*s;
	size_t	 len, cap;
};

static int
text_put(struct text *t, const char *s, size_t n)
{
	char *p;
	size_t cap;

	if (t->len + n + 1 > t->cap) {
		cap = t->cap ? t->cap : 256;
		while (cap < t->len + n + 1)
			cap *= 2;
		if ((p = realloc(t->s, cap)) == NULL)
			return -1;
		t->s = p;
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
	return 0;
}

static int
put_codepoint(struct text *t, unsigned long c)
{
	char b[4];

	if (c == 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	if (c == 0xa0)
		return text_put(t, " ", 1);
	if (c == 0x2019 || c == 0x2018)
		return text_put(t, "'", 1);
	if (c < 0x80) {
		b[0] = (char)c;
		return text_put(t, b, 1);
	}
	if (c < 0x800) {
		b[0] = (char)(0xc0 | (c >> 6));
		b[1] = (char)(0x80 | (c & 0x3f));
		return text_put(t, b, 2);
	}
	if (c < 0x10000) {
		b[0] = (char)(0xe0 | (c >> 12));
		b[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		b[2] = (char)(0x80 | (c & 0x3f));
		return text_put(t, b, 3);
	}
	b[0] = (char)(0xf0 | (c >> 18));
	b[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	b[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	b[3] = (char)(0x80 | (c & 0x3f));
	return text_put(t, b, 4);
}

/* An entity at s (after '&'): its length up to and with ';', 0 if none. */
static size_t
entity(struct text *t, const char *s, int *err)
{
	static const struct { const char *name; unsigned long c; } named[] = {
		{ "lt", '<' }, { "gt", '>' }, { "amp", '&' }, { "quot", '"' },
		{ "apos", '\'' }, { "nbsp", 0xa0 }, { "rsquo", 0x2019 },
		{ "lsquo", 0x2018 },
	};
	const char *semi;
	unsigned long c;
	char *end;
	size_t i, n;

	if ((semi = strchr(s, ';')) == NULL || semi - s > 10)
		return 0;
	n = (size_t)(semi - s);
	if (s[0] == '#') {
		c = (s[1] == 'x' || s[1] == 'X') ? strtoul(s + 2, &end, 16) :
		    strtoul(s + 1, &end, 10);
		if (end != semi)
			return 0;
		*err = put_codepoint(t, c);
		return n + 1;
	}
	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (strlen(named[i].name) == n && strncmp(s, named[i].name, n) == 0) {
			*err = put_codepoint(t, named[i].c);
			return n + 1;
		}
	return 0;
}

/* Tags after which a line ends. */
static int
breaks_line(const char *tag)
{
	static const char *const tags[] = {
		"br", "/p", "p", "/div", "div", "hr", "/tr", "li", "/li",
		"/h1", "/h2", "/h3", "/blockquote", "blockquote", "/table", NULL
	};
	size_t i, n;

	for (i = 0; tags[i] != NULL; i++) {
		n = strlen(tags[i]);
		if (strncasecmp(tag, tags[i], n) == 0 && !isalnum((unsigned char)tag[n]))
			return 1;
	}
	return 0;
}

/*
 * The text of an HTML body: tags dropped (line breaks kept), the contents
 * of head, style and script dropped, entities decoded. NULL: no memory.
 */
char *
html_text(const char *h)
{
	struct text t = { 0 };
	const char *p, *end;
	size_t n;
	int err = 0;

	if (text_put(&t, "", 0) == -1)
		return NULL;
	for (p = h; *p != '\0' && err == 0; ) {
		if (*p == '<') {
			if (prefix_ci(p, "<head") || prefix_ci(p, "<style") ||
			    prefix_ci(p, "<script")) {
				const char *close = prefix_ci(p, "<head") ? "</head" :
				    prefix_ci(p, "<style") ? "</style" : "</script";
				for (end = p; *end != '\0' && !prefix_ci(end, close); end++)
					;
				p = end;
			}
			if (prefix_ci(p, "<!--")) {
				end = strstr(p, "-->");
				p = end != NULL ? end + 3 : p + strlen(p);
				continue;
			}
			if (*p == '\0')
				break;
			if (breaks_line(p + 1))
				err = text_put(&t, "\n", 1);
			end = strchr(p, '>');
			p = end != NULL ? end + 1 : p + strlen(p);
			continue;
		}
		if (*p == '&' && (n = entity(&t, p + 1, &err)) > 0) {
			p += n + 1;
			continue;
		}
		n = strcspn(p, "<&");
		if (n == 0)
			n = 1;
		err = text_put(&t, p, n);
		p += n;
	}
	if (err != 0) {
		free(t.s);
		return NULL;
	}
	return t.s;
}

/* --- the part of a reply its sender wrote ---------------------------------- */

/* The line at s, without its end, as a bounded copy; *next: the line after. */
static size_t
line_at(const char *s, char *buf, size_t bufsz, const char **next)
{
	size_t n = strcspn(s, "\n");
	size_t k = n;

	*next = s[n] == '\n' ? s + n + 1 : s + n;
	while (k > 0 && (s[k - 1] == '\r' || s[k - 1] == ' ' || s[k - 1] == '\t'))
		k--;
	if (bufsz > 0) {
		if (k >= bufsz)
			k = bufsz - 1;
		memcpy(buf, s, k);
		buf[k] = '\0';
	}
	return n;
}

static int
ends_with_ci(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

/* "From:" of a quoted header block, in the languages Outlook writes. */
static int
header_block_from(const char *l)
{
	static const char *const w[] = {
		"From:", "Von:", "De :", "De:", "Da:", "Van:", "Fra:", "Från:", NULL
	};
	size_t i;

	for (i = 0; w[i] != NULL; i++)
		if (prefix_ci(l, w[i]))
			return 1;
	return 0;
}

static int
header_block_next(const char *l)
{
	static const char *const w[] = {
		"Sent:", "Date:", "To:", "Subject:", "Gesendet:", "Datum:", "An:",
		"Betreff:", "Envoyé :", "Envoyé:", "Objet :", "Enviado:", "Inviato:",
		"Verzonden:", "Sendt:", "Skickat:", NULL
	};
	size_t i;

	for (i = 0; w[i] != NULL; i++)
		if (prefix_ci(l, w[i]))
			return 1;
	return 0;
}

/* "On Mon, 30 Nov 2026 at 10:00, Sales <sales@...> wrote:" and its kin. */
static int
attribution(const char *l)
{
	static const char *const w[] = {
		"wrote:", "schrieb:", "a écrit :", "a écrit:", "escribió:",
		"ha scritto:", "schreef:", "skrev:", "kirjoitti:", NULL
	};
	size_t i;

	for (i = 0; w[i] != NULL; i++)
		if (ends_with_ci(l, w[i]))
			return 1;
	return 0;
}

static int
separator(const char *l)
{
	size_t n = strlen(l);

	if (n >= 8 && strspn(l, "_") == n)		/* Outlook */
		return 1;
	if (n >= 8 && strncmp(l, "-----", 5) == 0 &&	/* -----Original Message----- */
	    strcmp(l + n - 5, "-----") == 0)
		return 1;
	return prefix_ci(l, "Begin forwarded message") ||
	    prefix_ci(l, "-------- Forwarded Message");
}

/*
 * How much of text its sender wrote: everything before the first line
 * that starts a quotation (">", "On ... wrote:", a separator line, a
 * quoted From:/Sent: header block) or a signature ("-- ").
 */
size_t
reply_new_part(const char *text)
{
	const char *p, *next, *q, *after;
	char l[512], l2[512];
	int i;

	for (p = text; *p != '\0'; p = next) {
		line_at(p, l, sizeof(l), &next);
		q = skip_space(l);
		/* "-- " ends up as "--": line_at drops trailing blanks */
		if (*q == '>' || separator(q) || strcmp(l, "--") == 0 || attribution(q))
			return (size_t)(p - text);
		/* an attribution may wrap: "On ..., Sales <" / "sales@x> wrote:" */
		if (prefix_ci(q, "On ") || prefix_ci(q, "Am ") || prefix_ci(q, "Le ")) {
			line_at(next, l2, sizeof(l2), &after);
			if (attribution(skip_space(l2)))
				return (size_t)(p - text);
		}
		if (header_block_from(q)) {
			after = next;
			for (i = 0; i < 4 && *after != '\0'; i++) {
				line_at(after, l2, sizeof(l2), &after);
				if (header_block_next(skip_space(l2)))
					return (size_t)(p - text);
			}
		}
	}
	return (size_t)(p - text);
}

/*
 * In an HTML body, where the quotation begins, before the markup is gone:
 * Outlook's reply divider, Gmail's quote, a blockquote.
 */
static size_t
html_new_part(const char *h)
{
	static const char *const marks[] = {
		"id=\"appendonsend\"", "id=\"divRplyFwdMsg\"", "class=\"gmail_quote",
		"<blockquote", "class=\"moz-cite-prefix", "id=\"mail-editor-reference-message",
		NULL
	};
	const char *p, *best = NULL;
	size_t i;

	for (i = 0; marks[i] != NULL; i++) {
		for (p = h; *p != '\0'; p++)
			if (prefix_ci(p, marks[i]))
				break;
		if (*p != '\0' && (best == NULL || p < best))
			best = p;
	}
	if (best == NULL)
		return strlen(h);
	/* back to the tag that holds the mark */
	while (best > h && *best != '<')
		best--;
	return (size_t)(best - h);
}

/* --- words ---------------------------------------------------------------- */

/* Lower case, whitespace runs as one space, typographic apostrophes as '. */
static char *
normalize_words(const char *s, size_t len)
{
	char *out, *o;
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	int space = 1;

	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	for (o = out; p < end; p++) {
		if (isspace(*p)) {
			if (!space)
				*o++ = ' ';
			space = 1;
			continue;
		}
		space = 0;
		if (p + 2 < end && p[0] == 0xe2 && p[1] == 0x80 &&
		    (p[2] == 0x98 || p[2] == 0x99)) {
			*o++ = '\'';
			p += 2;
			continue;
		}
		*o++ = (char)tolower(*p);
	}
	while (o > out && o[-1] == ' ')
		o--;
	*o = '\0';
	return out;
}

/* phrase (normalized) as whole words in hay (normalized) */
static int
has_phrase(const char *hay, const char *phrase)
{
	size_t n = strlen(phrase);
	const char *p;

	if (n == 0)
		return 0;
	for (p = hay; (p = strstr(p, phrase)) != NULL; p++) {
		if (p > hay && word_char((unsigned char)p[-1]))
			continue;
		if (word_char((unsigned char)p[n]))
			continue;
		return 1;
	}
	return 0;
}

/* The first phrase of words found in text[0..len), or NULL. */
static const char *
find_words(const char *text, size_t len, const char *const *words, size_t nwords,
    int *oom)
{
	const char *hit = NULL;
	char *hay, *w;
	size_t i;

	if ((hay = normalize_words(text, len)) == NULL) {
		*oom = 1;
		return NULL;
	}
	for (i = 0; i < nwords && hit == NULL; i++) {
		if ((w = normalize_words(words[i], strlen(words[i]))) == NULL) {
			*oom = 1;
			break;
		}
		if (has_phrase(hay, w))
			hit = words[i];
		free(w);
	}
	free(hay);
	return hit;
}

int
classify_words_load(struct derr *e, const char *path, char ***out, size_t *n)
{
	FILE *f;
	char *line = NULL, *s, **v = NULL, **nv;
	size_t cap = 0, len;
	ssize_t got;
	int lineno = 0;

	*out = NULL;
	*n = 0;
	if ((f = fopen(path, "r")) == NULL)
		return derr_set(e, EX_NOINPUT, "%s: %s", path, strerror(errno));
	while ((got = getline(&line, &cap, f)) != -1) {
		lineno++;
		if (!utf8_valid(line, (size_t)got) || str_has_nul(line, (size_t)got)) {
			derr_set(e, EX_DATAERR, "%s: line %d: not UTF-8 text", path, lineno);
			goto fail;
		}
		s = (char *)skip_space(line);
		if (*s == '#' || *s == '\0')
			continue;
		len = strcspn(s, "\r\n");
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if ((nv = reallocarray(v, *n + 2, sizeof(*v))) == NULL)
			goto oom;
		v = nv;
		if ((v[*n] = strndup(s, len)) == NULL)
			goto oom;
		v[++*n] = NULL;
	}
	if (ferror(f)) {
		derr_set(e, EX_IOERR, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (*n == 0) {
		derr_set(e, EX_DATAERR, "%s: no words (one word or phrase a line)", path);
		goto fail;
	}
	free(line);
	fclose(f);
	*out = v;
	return 0;
oom:
	derr_set(e, EX_OSERR, "%s: out of memory", path);
fail:
	free(line);
	fclose(f);
	classify_words_free(v, *n);
	*n = 0;
	return -1;
}

void
classify_words_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* --- evidence: message ids, addresses, status codes ------------------------ */

static void
add_ref(struct inbound_verdict *v, const char *id, size_t len)
{
	size_t i;

	if (len < 3 || len >= INBOUND_REF_LEN || v->nrefs == INBOUND_REFS_MAX ||
	    memchr(id, '@', len) == NULL || !utf8_valid(id, len))
		return;
	for (i = 0; i < v->nrefs; i++)
		if (strlen(v->refs[i]) == len && memcmp(v->refs[i], id, len) == 0)
			return;
	memcpy(v->refs[v->nrefs], id, len);
	v->refs[v->nrefs++][len] = '\0';
}

/*
 * The <message ids> in a header or a text, in order (reverse: last
 * first, as References lists the newest last).
 */
static void
add_refs(struct inbound_verdict *v, const char *s, int reverse)
{
	const char *starts[64], *p, *end;
	size_t lens[64], n = 0, i;

	if (s == NULL)
		return;
	for (p = s; (p = strchr(p, '<')) != NULL && n < 64; p = end) {
		end = p + 1 + strcspn(p + 1, "<> \t\r\n");
		if (*end != '>')
			continue;
		end++;
		starts[n] = p;
		lens[n++] = (size_t)(end - p);
	}
	for (i = 0; i < n; i++) {
		size_t k = reverse ? n - 1 - i : i;

		add_ref(v, starts[k], lens[k]);
	}
}

static int
is_ref(const struct inbound_verdict *v, const char *addr)
{
	size_t i, n = strlen(addr);

	for (i = 0; i < v->nrefs; i++)
		if (strlen(v->refs[i]) == n + 2 && strncasecmp(v->refs[i] + 1, addr, n) == 0)
			return 1;
	return 0;
}

static int
addr_char(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("._%+-'", c) != NULL);
}

/*
 * The first address in text that is not one of the excluded ones (the
 * mailbox, the report's sender) nor a message id: the recipient a report
 * is about.
 */
static void
report_recipient(const char *text, const char *const *exclude, size_t nexclude,
    const struct inbound_verdict *v, char out[EMAIL_MAX + 1])
{
	char cand[EMAIL_MAX + 1], norm[EMAIL_MAX + 1];
	const char *at, *a, *b, *why;
	size_t i;
	int skip;

	out[0] = '\0';
	for (at = text; (at = strchr(at, '@')) != NULL; at++) {
		for (a = at; a > text && addr_char((unsigned char)a[-1]); a--)
			;
		for (b = at + 1; isalnum((unsigned char)*b) || *b == '.' || *b == '-'; b++)
			;
		while (b > at + 1 && b[-1] == '.')
			b--;
		while (a < at && (*a == '.' || *a == '\''))
			a++;
		if (a == at || b == at + 1 || (size_t)(b - a) > EMAIL_MAX)
			continue;
		memcpy(cand, a, (size_t)(b - a));
		cand[b - a] = '\0';
		if (email_normalize(cand, norm, &why) == -1)
			continue;
		str_lower(norm);
		skip = is_ref(v, norm);
		for (i = 0; i < nexclude && !skip; i++)
			skip = exclude[i] != NULL && strcasecmp(exclude[i], norm) == 0;
		if (!skip) {
			strlcpy(out, norm, EMAIL_MAX + 1);
			return;
		}
	}
}

/*
 * The first enhanced status code (RFC 3463: class.subject.detail) of
 * class 4 or 5 in text, standing alone: not part of an IP address or a
 * version number.
 */
static void
status_code(const char *text, char out[INBOUND_STATUS_LEN])
{
	const char *p, *q;
	int parts;
	size_t len;

	out[0] = '\0';
	for (p = text; *p != '\0'; p++) {
		if ((*p != '4' && *p != '5') || (p > text &&
		    (isdigit((unsigned char)p[-1]) || p[-1] == '.')))
			continue;
		q = p + 1;
		for (parts = 1; parts < 3; parts++) {
			if (*q != '.' || !isdigit((unsigned char)q[1]))
				break;
			q++;
			for (len = 0; isdigit((unsigned char)*q) && len < 4; q++, len++)
				;
			if (len > 3)
				break;
		}
		if (parts != 3 || isdigit((unsigned char)*q) ||
		    (*q == '.' && isdigit((unsigned char)q[1])))
			continue;
		len = (size_t)(q - p);
		if (len >= INBOUND_STATUS_LEN)
			continue;
		memcpy(out, p, len);
		out[len] = '\0';
		return;
	}
}

/* --- the questions ------------------------------------------------------- */

static int
mail_system(const struct inbound_msg *m)
{
	static const char *const locals[] = {
		"postmaster@", "mailer-daemon@", "mail-daemon@", "microsoftexchange", NULL
	};
	static const char *const names[] = {
		"Microsoft Outlook", "Mail Delivery System", "Mail Delivery Subsystem",
		"Mail Delivery Service", "Mail Administrator", NULL
	};
	size_t i;

	for (i = 0; m->from != NULL && locals[i] != NULL; i++)
		if (prefix_ci(m->from, locals[i]))
			return 1;
	for (i = 0; m->from_name != NULL && names[i] != NULL; i++)
		if (strcasecmp(skip_space(m->from_name), names[i]) == 0)
			return 1;
	return 0;
}

static int
report_subject(const char *s)
{
	static const char *const w[] = {
		"Undeliverable:", "Undelivered Mail Returned to Sender",
		"Delivery Status Notification", "Mail delivery failed",
		"Returned mail:", "Delivery has failed", "Failure notice",
		"Delivery failure", "Delivery delayed:", "Delayed Mail",
		"Message delivery delayed", "Warning: could not send message",
		"Non remis :", "Unzustellbar:", "No se puede entregar:", NULL
	};
	size_t i;

	s = skip_space(s);
	for (i = 0; w[i] != NULL; i++)
		if (prefix_ci(s, w[i]))
			return 1;
	return 0;
}

static int
delivery_report(const struct inbound_msg *m)
{
	const char *ct = header(m, "Content-Type");

	if (ct != NULL && contains_ci(ct, "multipart/report") &&
	    contains_ci(ct, "delivery-status"))
		return 1;
	if (header(m, "X-MS-Exchange-Message-Is-Ndr") != NULL && mail_system(m))
		return 1;
	return m->subject != NULL && mail_system(m) && report_subject(m->subject);
}

static const char *
automatic(const struct inbound_msg *m)
{
	static const char *const subjects[] = {
		"Automatic reply:", "Auto reply:", "Autoreply:", "Auto-reply:",
		"Auto Response", "Autosvar", "Out of Office", "Out of the office",
		"Abwesenheitsnotiz", "Automatische Antwort", "Réponse automatique",
		"Respuesta automática", "Risposta automatica", "Automatisch antwoord",
		"Resposta automática", "Automaattinen vastaus", NULL
	};
	const char *h;
	size_t i;

	if ((h = header(m, "Auto-Submitted")) != NULL && strcasecmp(skip_space(h), "no") != 0)
		return "Auto-Submitted header";
	if (header(m, "X-Auto-Response-Suppress") != NULL)
		return "X-Auto-Response-Suppress header";
	if ((h = header(m, "Precedence")) != NULL && contains_ci(h, "auto_reply"))
		return "Precedence: auto_reply";
	if (header(m, "X-Autoreply") != NULL || header(m, "X-Autorespond") != NULL)
		return "X-Autoreply header";
	for (i = 0; m->subject != NULL && subjects[i] != NULL; i++)
		if (prefix_ci(skip_space(m->subject), subjects[i]))
			return "subject";
	return NULL;
}

/* Mailing lists and bulk mail: never a person answering drip. */
static int
bulk(const struct inbound_msg *m)
{
	const char *h = header(m, "Precedence");

	return header(m, "List-Id") != NULL || header(m, "List-Unsubscribe") != NULL ||
	    (h != NULL && (contains_ci(h, "bulk") || contains_ci(h, "list") ||
	    contains_ci(h, "junk")));
}

/* "RE: ...", "AW: ...": the subject of an answer, which the sender did not write. */
static int
reply_subject(const char *s)
{
	static const char *const w[] = {
		"re:", "aw:", "sv:", "vs:", "antw:", "réf :", "rif:", "odp:", "r:", NULL
	};
	size_t i;

	s = skip_space(s);
	for (i = 0; w[i] != NULL; i++)
		if (prefix_ci(s, w[i]))
			return 1;
	return 0;
}

static void
set_address(char out[EMAIL_MAX + 1], const char *addr)
{
	const char *why;

	out[0] = '\0';
	if (addr == NULL || email_normalize(addr, out, &why) == -1) {
		out[0] = '\0';
		return;
	}
	str_lower(out);
}

int
inbound_classify(const struct inbound_msg *m, const struct classify_opts *o,
    struct inbound_verdict *v)
{
	const char *const *words = classify_optout_default;
	const char *exclude[2], *hit, *body = m->body != NULL ? m->body : "";
	char *text = NULL;
	size_t nwords = sizeof(classify_optout_default) /
	    sizeof(classify_optout_default[0]) - 1, len;
	int oom = 0;

	memset(v, 0, sizeof(*v));
	v->class = INBOUND_OTHER;
	if (o != NULL && o->optout != NULL) {
		words = o->optout;
		nwords = o->noptout;
	}
	if (m->from == NULL && m->subject == NULL && m->body == NULL)
		return 0;	/* a change to a message, not a new one */
	if (m->from != NULL && m->mailbox != NULL && strcasecmp(m->from, m->mailbox) == 0) {
		strlcpy(v->reason, "sent by the mailbox itself", sizeof(v->reason));
		return 0;
	}
	add_refs(v, header(m, "In-Reply-To"), 0);
	add_refs(v, header(m, "References"), 1);
	if (m->body_html && (text = html_text(body)) == NULL)
		return -1;

	if (delivery_report(m)) {
		add_refs(v, text != NULL ? text : body, 0);
		status_code(text != NULL ? text : body, v->status);
		exclude[0] = m->mailbox;
		exclude[1] = m->from;
		report_recipient(text != NULL ? text : body, exclude, 2, v, v->address);
		if (v->status[0] == '4' || (v->status[0] == '\0' && m->subject != NULL &&
		    contains_ci(m->subject, "delay")))
			v->class = INBOUND_DELAY;
		else
			v->class = INBOUND_BOUNCE;
		snprintf(v->reason, sizeof(v->reason), "%s non-delivery report%s%s",
		    v->class == INBOUND_DELAY ? "delayed:" : "undeliverable:",
		    v->status[0] ? " " : "", v->status);
		free(text);
		return 0;
	}

	set_address(v->address, m->from);
	if ((hit = automatic(m)) != NULL) {
		v->class = INBOUND_AUTO_REPLY;
		snprintf(v->reason, sizeof(v->reason), "automatic reply: %s", hit);
		free(text);
		return 0;
	}
	if (bulk(m)) {
		strlcpy(v->reason, "mailing list or bulk mail", sizeof(v->reason));
		free(text);
		return 0;
	}

	/* Only what the sender wrote: above the quoted original. */
	if (m->body_html) {
		free(text);
		len = html_new_part(body);
		if ((text = strndup(body, len)) == NULL)
			return -1;
		body = text;
		if ((text = html_text(body)) == NULL) {
			free((char *)body);
			return -1;
		}
		free((char *)body);
		body = text;
	}
	len = reply_new_part(body);
	hit = find_words(body, len, words, nwords, &oom);
	if (hit == NULL && !oom && m->subject != NULL && !reply_subject(m->subject))
		hit = find_words(m->subject, strlen(m->subject), words, nwords, &oom);
	free(text);
	if (oom)
		return -1;
	if (hit != NULL) {
		v->class = INBOUND_OPTOUT;
		snprintf(v->reason, sizeof(v->reason), "opt-out: \"%s\"", hit);
	} else
		v->class = INBOUND_REPLY;
	return 0;
}
