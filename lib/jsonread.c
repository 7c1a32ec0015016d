/*
 * jsonread.c: read a JSON object against a declared table of fields.
 *
 * This is the single place where "whitelist writes only" is enforced: a
 * field that is not in the table, a value of the wrong type and a value
 * that fails its check are each reported with their JSON path, and every
 * error is collected, not only the first. A caller writes nothing unless
 * the list comes back empty.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "drip.h"

static const char *const kind_names[] = {
	[JK_STRING] = "a string", [JK_INT] = "a whole number",
	[JK_BOOL] = "true or false", [JK_OBJECT] = "an object",
	[JK_ARRAY] = "an array", [JK_STRMAP] = "an object of strings",
};

/*
 * A key as it goes into a path: control characters (which a key may hold,
 * escaped, in valid JSON) written as \uXXXX, so that a message naming it
 * stays one line and cannot move a terminal's cursor.
 */
static void
key_copy(char *dst, size_t len, const char *name)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *name != '\0' && o + 1 < len; name++) {
		unsigned char c = (unsigned char)*name;

		if (c >= 0x20 && c != 0x7f) {
			dst[o++] = (char)c;
			continue;
		}
		if (o + 7 > len)
			break;
		memcpy(dst + o, "\\u00", 4);
		dst[o + 4] = hex[c >> 4];
		dst[o + 5] = hex[c & 0xf];
		o += 6;
	}
	dst[o] = '\0';
}

/* Called for every field of every row an import reads: no snprintf. */
const char *
jpath(char *buf, size_t len, const char *parent, const char *name, long index)
{
	size_t n;

	if (parent == NULL)
		parent = "";
	if (name == NULL) {
		snprintf(buf, len, "%s[%ld]", parent, index);
		return buf;
	}
	n = strlcpy(buf, parent, len);
	if (*parent != '\0' && n + 1 < len)
		buf[n++] = '.', buf[n] = '\0';
	if (n < len)
		key_copy(buf + n, len - n, name);
	return buf;
}

static int check_value(json_object *, const char *, const struct jfield *,
    enum jkind, struct vlist *);

static int
check_string(json_object *v, const char *path, size_t maxlen, unsigned flags,
    struct vlist *errs)
{
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);

	if (maxlen == 0)
		maxlen = JSTR_MAX;
	if (str_has_nul(s, len))
		vlist_add(errs, "%s: contains a NUL character", path);
	else if (!utf8_valid(s, len))
		vlist_add(errs, "%s: invalid UTF-8", path);
	else if (len > maxlen)
		vlist_add(errs, "%s: longer than %zu bytes", path, maxlen);
	else if ((flags & JF_NONEMPTY) && len == 0)
		vlist_add(errs, "%s: must not be empty", path);
	else
		return 0;
	return 1;
}

/* json-c keeps integers beyond int64 as uint64 and clamps the getter. */
static int
int_in_range(json_object *v, long long min, long long max, long long *out)
{
	int64_t i = json_object_get_int64(v);

	if (i == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX)
		return -1;
	*out = i;
	return min < max && (i < min || i > max) ? 0 : 1;
}

static int
check_int(json_object *v, const char *path, const struct jfield *f,
    struct vlist *errs)
{
	long long i;

	switch (int_in_range(v, f->min, f->max, &i)) {
	case -1:
		vlist_add(errs, "%s: number too large", path);
		return 1;
	case 0:
		vlist_add(errs, "%s: must be from %lld to %lld", path, f->min, f->max);
		return 1;
	}
	return 0;
}

static int
check_array(json_object *v, const char *path, const struct jfield *f,
    struct vlist *errs)
{
	size_t i, n = json_object_array_length(v);
	char sub[256];
	int bad = 0;

	if ((f->flags & JF_NONEMPTY) && n == 0) {
		vlist_add(errs, "%s: must not be empty", path);
		return 1;
	}
	if (f->min < f->max && (n < (size_t)f->min || n > (size_t)f->max)) {
		vlist_add(errs, "%s: must have %lld to %lld elements", path, f->min, f->max);
		return 1;
	}
	for (i = 0; i < n; i++) {
		json_object *el = json_object_array_get_idx(v, i);
		struct jfield ef = { .kind = f->elem, .sub = f->sub,
		    .maxlen = f->maxlen, .check = f->check, .flags = JF_REQUIRED };

		jpath(sub, sizeof(sub), path, NULL, (long)i);
		bad += check_value(el, sub, &ef, f->elem, errs);
	}
	return bad;
}

static int
check_strmap(json_object *v, const char *path, const struct jfield *f,
    struct vlist *errs)
{
	char sub[256];
	int bad = 0;

	if (f->max > 0 && json_object_object_length(v) > f->max) {
		vlist_add(errs, "%s: more than %lld keys", path, f->max);
		return 1;
	}
	json_object_object_foreach(v, key, val) {
		jpath(sub, sizeof(sub), path, key, 0);
		if (!utf8_valid(key, strlen(key)))
			vlist_add(errs, "%s: key is not valid UTF-8", path), bad++;
		else if (!json_object_is_type(val, json_type_string))
			vlist_add(errs, "%s: must be a string", sub), bad++;
		else
			bad += check_string(val, sub, f->maxlen, 0, errs);
	}
	return bad;
}

static int
has_kind(json_object *v, enum jkind k)
{
	switch (k) {
	case JK_STRING:	return json_object_is_type(v, json_type_string);
	case JK_INT:	return json_object_is_type(v, json_type_int);
	case JK_BOOL:	return json_object_is_type(v, json_type_boolean);
	case JK_OBJECT:
	case JK_STRMAP:	return json_object_is_type(v, json_type_object);
	case JK_ARRAY:	return json_object_is_type(v, json_type_array);
	}
	return 0;
}

static int
check_value(json_object *v, const char *path, const struct jfield *f,
    enum jkind kind, struct vlist *errs)
{
	const char *why;
	int bad = 0;

	if (v == NULL) {
		if (f->flags & JF_NULLABLE)
			return 0;
		vlist_add(errs, "%s: must not be null", path);
		return 1;
	}
	if (!has_kind(v, kind)) {
		vlist_add(errs, "%s: must be %s", path, kind_names[kind]);
		return 1;
	}
	switch (kind) {
	case JK_STRING:	bad = check_string(v, path, f->maxlen, f->flags, errs); break;
	case JK_INT:	bad = check_int(v, path, f, errs); break;
	case JK_OBJECT:	bad = jread_check(v, path, f->sub, errs); break;
	case JK_ARRAY:	bad = check_array(v, path, f, errs); break;
	case JK_STRMAP:	bad = check_strmap(v, path, f, errs); break;
	case JK_BOOL:	break;
	}
	/* Array checks apply to elements (in check_array), not the array. */
	if (bad == 0 && kind != JK_ARRAY && f->check != NULL &&
	    (why = f->check(v)) != NULL) {
		vlist_add(errs, "%s: %s", path, why);
		bad = 1;
	}
	return bad;
}

static const struct jfield *
find_field(const struct jfield *fields, const char *name)
{
	for (; fields->name != NULL; fields++)
		if (strcmp(fields->name, name) == 0)
			return fields;
	return NULL;
}

int
jread_check(json_object *obj, const char *path, const struct jfield *fields,
    struct vlist *errs)
{
	const struct jfield *f;
	char sub[256];
	size_t before = errs->total;

	if (!json_object_is_type(obj, json_type_object)) {
		vlist_add(errs, "%s: must be an object", *path ? path : "input");
		return 1;
	}
	json_object_object_foreach(obj, key, val) {
		jpath(sub, sizeof(sub), path, key, 0);
		if ((f = find_field(fields, key)) == NULL)
			vlist_add(errs, "%s: unknown field", sub);
		else
			check_value(val, sub, f, f->kind, errs);
	}
	for (f = fields; f->name != NULL; f++)
		if ((f->flags & JF_REQUIRED) &&
		    !json_object_object_get_ex(obj, f->name, NULL))
			vlist_add(errs, "%s: required", jpath(sub, sizeof(sub), path, f->name, 0));
	return (int)(errs->total - before);
}

const char *
jstr(json_object *obj, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || v == NULL ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int
jint(json_object *obj, const char *key, long long *out)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || v == NULL ||
	    !json_object_is_type(v, json_type_int))
		return 0;
	*out = json_object_get_int64(v);
	return 1;
}

/*
 * The fast way to read many small flat objects (prospect-import's rows):
 * straight from their text, without building json-c objects. It reads a
 * plain subset only: one object on one line whose values are strings
 * without escapes or null (and, for JK_STRMAP fields, objects of such
 * strings), keys without escapes, nothing but spaces and tabs between
 * tokens. Within that subset it takes exactly what json-c, the strict
 * scanner (jstrict.c) and jread_check above would take, by the same
 * table; anything else, valid or not, it declines (0), and the caller
 * reads that value the ordinary way, which reports it as ever. So this
 * never decides that something is invalid, nor says why.
 *
 * A field's check function is the caller's to apply to vals[i].s: it
 * takes a json-c value, which this does not make.
 */
#define FLAT_FIELDS	32	/* fields in a table, keys in a JK_STRMAP */

struct flat {
	const char	*p, *end;
	char		*out, *oend;	/* scratch for NUL-terminated copies */
};

static void
flat_space(struct flat *f)
{
	while (f->p < f->end && (*f->p == ' ' || *f->p == '\t' || *f->p == '\r'))
		f->p++;
}

/* A string at f->p (its quote): *s, *len its text; 0 if not plain. */
static int
flat_string(struct flat *f, const char **s, size_t *len)
{
	const char *q = ++f->p;
	int high = 0;

	for (; q < f->end && *q != '"'; q++) {
		unsigned char c = (unsigned char)*q;

		if (c < 0x20 || c == '\\')
			return 0;
		high |= c & 0x80;
	}
	if (q >= f->end || (high && !utf8_valid(f->p, (size_t)(q - f->p))))
		return 0;
	*s = f->p;
	*len = (size_t)(q - f->p);
	f->p = q + 1;
	return 1;
}

/* A NUL-terminated copy in the scratch space, or NULL if it is full. */
static const char *
flat_copy(struct flat *f, const char *s, size_t len)
{
	char *c = f->out;

	if ((size_t)(f->oend - f->out) < len + 1)
		return NULL;
	memcpy(c, s, len);
	c[len] = '\0';
	f->out += len + 1;
	return c;
}

static int
flat_literal(struct flat *f, const char *word, size_t n)
{
	if ((size_t)(f->end - f->p) <= n || memcmp(f->p, word, n) != 0)
		return 0;
	f->p += n;
	/* json-c, strict, wants a delimiter after a literal */
	return *f->p == ' ' || *f->p == '\t' || *f->p == '\r' ||
	    *f->p == ',' || *f->p == '}';
}

/* An object of plain strings, as check_strmap() would take it. */
static int
flat_strmap(struct flat *f, const struct jfield *fd, struct jflat *v)
{
	const char *start = f->p, *key[FLAT_FIELDS], *s;
	size_t klen[FLAT_FIELDS], n = 0, i, len;

	f->p++;
	flat_space(f);
	if (f->p < f->end && *f->p == '}')
		goto done;
	for (;;) {
		if (n == FLAT_FIELDS || f->p >= f->end || *f->p != '"' ||
		    !flat_string(f, &key[n], &klen[n]))
			return 0;
		/* a repeated key: jstrict.c names it */
		for (i = 0; i < n; i++)
			if (klen[i] == klen[n] && memcmp(key[i], key[n], klen[n]) == 0)
				return 0;
		n++;
		flat_space(f);
		if (f->p >= f->end || *f->p++ != ':')
			return 0;
		flat_space(f);
		if (f->p >= f->end || *f->p != '"' || !flat_string(f, &s, &len) ||
		    len > (fd->maxlen ? fd->maxlen : JSTR_MAX))
			return 0;
		flat_space(f);
		if (f->p >= f->end)
			return 0;
		if (*f->p == '}')
			break;
		if (*f->p++ != ',')
			return 0;
		flat_space(f);
	}
done:
	f->p++;
	if (fd->max > 0 && (long long)n > fd->max)
		return 0;
	v->keys = n;
	v->len = (size_t)(f->p - start);
	return (v->s = flat_copy(f, start, v->len)) != NULL;
}

static int
flat_value(struct flat *f, const struct jfield *fd, struct jflat *v)
{
	const char *s;
	size_t len;

	if (*f->p == 'n') {
		v->s = NULL;
		return (fd->flags & JF_NULLABLE) && flat_literal(f, "null", 4);
	}
	if (fd->kind == JK_STRMAP && *f->p == '{')
		return fd->check == NULL && flat_strmap(f, fd, v);
	if (fd->kind != JK_STRING || *f->p != '"' || !flat_string(f, &s, &len) ||
	    len > (fd->maxlen ? fd->maxlen : JSTR_MAX) ||
	    ((fd->flags & JF_NONEMPTY) && len == 0))
		return 0;
	v->len = len;
	return (v->s = flat_copy(f, s, len)) != NULL;
}

size_t
jread_flat(const char *text, size_t len, const struct jfield *fields,
    struct jflat *vals, char *scratch, size_t scratchsz)
{
	struct flat f = { text, text + len, scratch, scratch + scratchsz };
	const char *key;
	size_t i, n, klen;
	unsigned long seen = 0;

	for (n = 0; fields[n].name != NULL; n++)
		if (n == FLAT_FIELDS)
			return 0;
	memset(vals, 0, n * sizeof(*vals));
	if (len == 0 || *f.p != '{')
		return 0;
	f.p++;
	flat_space(&f);
	if (f.p < f.end && *f.p == '}')
		f.p++;
	else for (;;) {
		if (f.p >= f.end || *f.p != '"' || !flat_string(&f, &key, &klen))
			return 0;
		for (i = 0; i < n; i++)
			if (strncmp(fields[i].name, key, klen) == 0 &&
			    fields[i].name[klen] == '\0')
				break;
		if (i == n || (seen & (1UL << i)))
			return 0;	/* unknown, or a repeated key */
		seen |= 1UL << i;
		vals[i].present = 1;
		flat_space(&f);
		if (f.p >= f.end || *f.p++ != ':')
			return 0;
		flat_space(&f);
		if (f.p >= f.end || !flat_value(&f, &fields[i], &vals[i]))
			return 0;
		flat_space(&f);
		if (f.p >= f.end)
			return 0;
		if (*f.p++ == '}')
			break;
		if (f.p[-1] != ',')
			return 0;
		flat_space(&f);
	}
	for (i = 0; i < n; i++)
		if ((fields[i].flags & JF_REQUIRED) &&
		    (!vals[i].present || vals[i].s == NULL))
			return 0;
	return (size_t)(f.p - text);
}
