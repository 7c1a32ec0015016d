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
