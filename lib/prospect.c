/*
 * prospect.c: what a prospect is, for campaign-create and prospect-import
 * alike: the same fields, the same checks, the same messages.
 */
#include <string.h>

#include "drip.h"

const char *
jcheck_email(json_object *v)
{
	char norm[EMAIL_MAX + 1];
	const char *why;

	return email_normalize(json_object_get_string(v), norm, &why) == 0 ?
	    NULL : why;
}

const char *
jcheck_timezone(json_object *v)
{
	return tz_valid(json_object_get_string(v)) ? NULL : "unknown time zone";
}

const struct jfield prospect_fields[] = {
	{ "email",	JK_STRING, JF_REQUIRED, .check = jcheck_email, .maxlen = EMAIL_MAX },
	{ "first_name",	JK_STRING, JF_NULLABLE, .maxlen = PROSPECT_NAME_MAX },
	{ "last_name",	JK_STRING, JF_NULLABLE, .maxlen = PROSPECT_NAME_MAX },
	{ "company",	JK_STRING, JF_NULLABLE, .maxlen = PROSPECT_NAME_MAX },
	{ "title",	JK_STRING, JF_NULLABLE, .maxlen = PROSPECT_NAME_MAX },
	{ "timezone",	JK_STRING, JF_NULLABLE, .check = jcheck_timezone, .maxlen = 64 },
	{ "fields",	JK_STRMAP, JF_NULLABLE, .maxlen = PROSPECT_FIELD_MAX,
	    .max = PROSPECT_KEYS_MAX },
	{ .name = NULL }
};

static const char *
opt_str(json_object *p, const char *key)
{
	const char *s = jstr(p, key);

	return s != NULL && *s != '\0' ? s : NULL;
}

int
prospect_read(json_object *p, const char *path, struct prospect *out,
    struct vlist *errs)
{
	const char *why;
	json_object *f;

	memset(out, 0, sizeof(*out));
	if (jread_check(p, path, prospect_fields, errs) != 0)
		return -1;
	if (email_normalize(jstr(p, "email"), out->email, &why) == -1)
		return -1;	/* jread_check has reported it */
	out->first_name = opt_str(p, "first_name");
	out->last_name = opt_str(p, "last_name");
	out->company = opt_str(p, "company");
	out->title = opt_str(p, "title");
	out->timezone = opt_str(p, "timezone");
	out->fields = json_object_object_get_ex(p, "fields", &f) ? f : NULL;
	return 0;
}

/* prospect_fields, in their order */
enum { P_EMAIL, P_FIRST, P_LAST, P_COMPANY, P_TITLE, P_TIMEZONE, P_FIELDS, P_N };
_Static_assert(sizeof(prospect_fields) / sizeof(prospect_fields[0]) == P_N + 1,
    "prospect_scan() knows every field of prospect_fields");

static const char *
opt_flat(const struct jflat *v)
{
	return v->s != NULL && *v->s != '\0' ? v->s : NULL;
}

/*
 * What prospect_read() would make of the same text, for the rows that
 * jread_flat() can read; the two checks of the table (jcheck_email,
 * jcheck_timezone) are applied here to the strings. A row this declines
 * goes through prospect_read(), which says what is wrong with it.
 */
size_t
prospect_scan(const char *text, size_t len, struct prospect *out,
    char *scratch, size_t scratchsz, int (*tz_ok)(void *, const char *),
    void *arg)
{
	struct jflat v[P_N];
	const char *why;
	size_t used;

	if ((used = jread_flat(text, len, prospect_fields, v, scratch, scratchsz)) == 0)
		return 0;
	memset(out, 0, sizeof(*out));
	if (email_normalize(v[P_EMAIL].s, out->email, &why) == -1)
		return 0;
	if (v[P_TIMEZONE].s != NULL && !tz_ok(arg, v[P_TIMEZONE].s))
		return 0;
	out->first_name = opt_flat(&v[P_FIRST]);
	out->last_name = opt_flat(&v[P_LAST]);
	out->company = opt_flat(&v[P_COMPANY]);
	out->title = opt_flat(&v[P_TITLE]);
	out->timezone = opt_flat(&v[P_TIMEZONE]);
	out->fields_json = v[P_FIELDS].keys > 0 ? v[P_FIELDS].s : NULL;
	return used;
}
