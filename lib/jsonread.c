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
