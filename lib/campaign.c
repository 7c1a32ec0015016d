/*
 * campaign.c: campaigns and their steps, as campaign-create, campaign-show,
 * campaign-update and template-add read, write and print them.
 *
 * Reading is two passes: jread_check() enforces the whitelist and types at
 * every level, then the rules that span fields (a body, well-formed
 * variables, a window whose start is before its end, no address twice)
 * are checked here, each error under its JSON path. Writing happens in one
 * transaction, set-wise (json_to_recordset), however many prospects there
 * are. Printing is drip.campaign_json() from migration 002, the one read
 * every tool uses after its commit.
 */
#include <stdlib.h>
#include <string.h>

#include "drip.h"

static const char *const day_names[7] = {
	"mon", "tue", "wed", "thu", "fri", "sat", "sun"
};
static const char *const campaign_statuses[] = {
	"draft", "running", "paused", "finished", "archived", NULL
};

static int
word_index(const char *const *words, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n && words[i] != NULL; i++)
		if (strcmp(words[i], s) == 0)
			return (int)i;
	return -1;
}

static const char *
check_day(json_object *v)
{
	return word_index(day_names, 7, json_object_get_string(v)) >= 0 ? NULL :
	    "must be one of mon, tue, wed, thu, fri, sat, sun";
}

/* "HH:MM" to minutes after midnight; allow24 admits "24:00". -1 if bad. */
int
window_minutes(const char *s, int allow24)
{
	int h, m;

	if (strlen(s) != 5 || s[2] != ':' ||
	    s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' ||
	    s[3] < '0' || s[3] > '9' || s[4] < '0' || s[4] > '9')
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow24)))
		return -1;
	return h * 60 + m;
}

static const char *
check_start(json_object *v)
{
	return window_minutes(json_object_get_string(v), 0) >= 0 ? NULL :
	    "must be HH:MM from 00:00 to 23:59";
}

static const char *
check_end(json_object *v)
{
	return window_minutes(json_object_get_string(v), 1) >= 0 ? NULL :
	    "must be HH:MM from 00:00 to 24:00";
}

static const char *
check_thread(json_object *v)
{
	const char *s = json_object_get_string(v);

	return strcmp(s, "new") == 0 || strcmp(s, "reply") == 0 ? NULL :
	    "must be new or reply";
}

static const char *
check_create_status(json_object *v)
{
	const char *s = json_object_get_string(v);

	return strcmp(s, "draft") == 0 || strcmp(s, "running") == 0 ? NULL :
	    "must be draft or running";
}

static const char *
check_status(json_object *v)
{
	return word_index(campaign_statuses, 5, json_object_get_string(v)) >= 0 ?
	    NULL : "must be draft, running, paused, finished or archived";
}

static const struct jfield window_fields[] = {
	{ "days",	JK_ARRAY, JF_NONEMPTY, .elem = JK_STRING, .min = 1, .max = 7,
	    .check = check_day },
	{ "start",	JK_STRING, 0, .check = check_start },
	{ "end",	JK_STRING, 0, .check = check_end },
	{ .name = NULL }
};

#define TEMPLATE_FIELDS \
	{ "subject",	JK_STRING, JF_REQUIRED | JF_NONEMPTY, .maxlen = TEMPLATE_SUBJECT_MAX }, \
	{ "body_text",	JK_STRING, JF_NULLABLE, .maxlen = TEMPLATE_BODY_MAX }, \
	{ "body_html",	JK_STRING, JF_NULLABLE, .maxlen = TEMPLATE_BODY_MAX }, \
	{ "delay_days",	JK_INT, 0, .min = 0, .max = 365 }, \
	{ "thread",	JK_STRING, 0, .check = check_thread }

/* In campaign-create, steps are numbered by their place in the array. */
static const struct jfield template_fields[] = {
	TEMPLATE_FIELDS,
	{ .name = NULL }
};
const struct jfield template_add_fields[] = {
	{ "step",	JK_INT, 0, .min = 1, .max = TEMPLATE_STEP_MAX },
	TEMPLATE_FIELDS,
	{ .name = NULL }
};

#define CAMPAIGN_FIELDS \
	{ "name",	JK_STRING, JF_REQUIRED | JF_NONEMPTY, .maxlen = 200 }, \
	{ "identity_id", JK_INT, JF_REQUIRED, .min = 1, .max = INT64_MAX }, \
	{ "timezone",	JK_STRING, 0, .check = jcheck_timezone, .maxlen = 64 }, \
	{ "send_window", JK_OBJECT, 0, .sub = window_fields }, \
	{ "daily_cap",	JK_INT, JF_NULLABLE, .min = 0, .max = 1000000 }

static const struct jfield campaign_fields[] = {
	{ "customer_id", JK_STRING, JF_REQUIRED | JF_NONEMPTY, .maxlen = 200 },
	CAMPAIGN_FIELDS,
	{ "status",	JK_STRING, 0, .check = check_create_status },
	{ "key",	JK_STRING, JF_NULLABLE | JF_NONEMPTY, .maxlen = 200 },
	{ "templates",	JK_ARRAY, 0, .elem = JK_OBJECT, .sub = template_fields,
	    .max = TEMPLATE_STEP_MAX },
	{ "prospects",	JK_ARRAY, 0, .elem = JK_OBJECT, .sub = prospect_fields },
	{ .name = NULL }
};

/* campaign-update: the same fields, each optional; status in any word. */
static const struct jfield patch_fields[] = {
	{ "name",	JK_STRING, JF_NONEMPTY, .maxlen = 200 },
	{ "identity_id", JK_INT, 0, .min = 1, .max = INT64_MAX },
	{ "timezone",	JK_STRING, 0, .check = jcheck_timezone, .maxlen = 64 },
	{ "send_window", JK_OBJECT, 0, .sub = window_fields },
	{ "daily_cap",	JK_INT, JF_NULLABLE, .min = 0, .max = 1000000 },
	{ "status",	JK_STRING, 0, .check = check_status },
	{ .name = NULL }
};

static json_object *
member(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* A body given as "" is no body; null and absent are the same. */
static int
has_body(json_object *t, const char *key)
{
	json_object *v = member(t, key);

	if (v != NULL && json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) == 0) {
		json_object_object_del(t, key);
		return 0;
	}
	return v != NULL;
}

/* What jread_check cannot see: a body, and well-formed variables. */
static int
template_rules(json_object *t, const char *path, struct vlist *errs)
{
	static const char *const texts[] = { "subject", "body_text", "body_html" };
	size_t i, before = errs->total;
	char sub[256];
	const char *s;
	int text, html;

	if (!json_object_is_type(t, json_type_object))
		return 0;
	text = has_body(t, "body_text");
	html = has_body(t, "body_html");
	if (!text && !html)
		vlist_add(errs, "%s: needs body_text or body_html",
		    *path != '\0' ? path : "input");
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if ((s = jstr(t, texts[i])) != NULL)
			tmpl_check(s, jpath(sub, sizeof(sub), path, texts[i], 0), errs);
	return (int)(errs->total - before);
}

int
template_read(json_object *t, const char *path, struct vlist *errs)
{
	size_t before = errs->total;

	jread_check(t, path, template_add_fields, errs);
	template_rules(t, path, errs);
	return errs->total == before ? 0 : -1;
}

/*
 * Give template t its step and the defaults that depend on it: step 1
 * starts a new thread after no delay; later steps reply in the thread of
 * the step before, TEMPLATE_DELAY_DEFAULT days after it. Step 1 can never
 * be a reply: there is nothing to reply to.
 */
int
template_settle(json_object *t, int step, const char *path, struct vlist *errs)
{
	const char *thread = jstr(t, "thread");
	char sub[256];

	json_object_object_add(t, "step", json_object_new_int(step));
	if (member(t, "delay_days") == NULL)
		json_object_object_add(t, "delay_days",
		    json_object_new_int(step == 1 ? 0 : TEMPLATE_DELAY_DEFAULT));
	if (thread == NULL)
		json_object_object_add(t, "thread",
		    json_object_new_string(step == 1 ? "new" : "reply"));
	else if (step == 1 && strcmp(thread, "reply") == 0) {
		vlist_add(errs, "%s: step 1 cannot be a reply",
		    jpath(sub, sizeof(sub), path, "thread", 0));
		return -1;
	}
	return 0;
}

/* days[] into a bit per day (mon = bit 0); 0 after reporting a duplicate. */
static unsigned
window_days(json_object *days, const char *path, struct vlist *errs)
{
	size_t i, n = json_object_array_length(days);
	unsigned bits = 0, bit;
	char sub[256];
	int d;

	for (i = 0; i < n; i++) {
		json_object *day = json_object_array_get_idx(days, i);

		/* null or not a word: reported by jread_check */
		if (!json_object_is_type(day, json_type_string) ||
		    (d = word_index(day_names, 7, json_object_get_string(day))) < 0)
			return 0;
		bit = 1u << d;
		if (bits & bit) {
			vlist_add(errs, "%s: %s appears twice",
			    jpath(sub, sizeof(sub), path, NULL, (long)i), day_names[d]);
			return 0;
		}
		bits |= bit;
	}
	return bits;
}

static void
days_literal(unsigned bits, char out[CAMPAIGN_DAYS_LEN])
{
	int d;

	strlcpy(out, "{", CAMPAIGN_DAYS_LEN);
	for (d = 0; d < 7; d++) {
		if (!(bits & (1u << d)))
			continue;
		if (out[1] != '\0')
			strlcat(out, ",", CAMPAIGN_DAYS_LEN);
		strlcat(out, day_names[d], CAMPAIGN_DAYS_LEN);
	}
	strlcat(out, "}", CAMPAIGN_DAYS_LEN);
}

/* The window fields given in w (already type-checked) into c. */
static void
window_read(json_object *w, struct campaign_in *c, struct vlist *errs)
{
	json_object *v;
	unsigned bits;

	if (w == NULL || !json_object_is_type(w, json_type_object))
		return;
	if ((v = member(w, "days")) != NULL && json_object_is_type(v, json_type_array) &&
	    (bits = window_days(v, "send_window.days", errs)) != 0)
		days_literal(bits, c->days);
	/* A bad time (reported by jread_check) leaves no order to check. */
	if ((v = member(w, "start")) != NULL &&
	    (!json_object_is_type(v, json_type_string) ||
	    (c->start = window_minutes(json_object_get_string(v), 0)) < 0))
		c->window_bad = 1;
	if ((v = member(w, "end")) != NULL &&
	    (!json_object_is_type(v, json_type_string) ||
	    (c->end = window_minutes(json_object_get_string(v), 1)) < 0))
		c->window_bad = 1;
}

static void
window_order(const struct campaign_in *c, struct vlist *errs)
{
	if (!c->window_bad && c->start >= 0 && c->end >= 0 && c->start >= c->end)
		vlist_add(errs, "send_window: start must be before end");
}

static void
common_read(json_object *in, struct campaign_in *c, struct vlist *errs)
{
	json_object *v;
	long long n;

	c->name = jstr(in, "name");
	c->status = jstr(in, "status");
	c->timezone = jstr(in, "timezone");
	if (jint(in, "identity_id", &n))
		c->identity_id = n;
	if (json_object_object_get_ex(in, "daily_cap", &v)) {
		c->cap_given = 1;
		c->cap_null = v == NULL;
		c->daily_cap = v != NULL ? json_object_get_int64(v) : 0;
	}
	window_read(member(in, "send_window"), c, errs);
}

/* Duplicate addresses, compared as the database does (lower(email)). */
struct addr {
	char	*lower;
	size_t	 index;
};

static int
addr_cmp(const void *a, const void *b)
{
	const struct addr *x = a, *y = b;
	int r = strcmp(x->lower, y->lower);

	if (r != 0)
		return r;
	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Normalize each prospect's address in place (the domain lower-cased, as
 * prospect_read does) and report every address given twice.
 */
static int
prospects_settle(json_object *list, struct vlist *errs)
{
	size_t i, n = json_object_array_length(list), m = 0;
	struct addr *a;
	char norm[EMAIL_MAX + 1], sub[64];
	int rc = 0;
	const char *why, *s;
	json_object *p;

	if ((a = calloc(n ? n : 1, sizeof(*a))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(list, i);
		if ((s = jstr(p, "email")) == NULL ||
		    email_normalize(s, norm, &why) == -1)
			continue;
		json_object_object_add(p, "email", json_object_new_string(norm));
		if ((a[m].lower = xstrdup_lower(norm)) == NULL) {
			rc = -1;
			goto done;
		}
		a[m++].index = i;
	}
	qsort(a, m, sizeof(*a), addr_cmp);
	for (i = 1; i < m; i++)
		if (strcmp(a[i].lower, a[i - 1].lower) == 0)
			vlist_add(errs, "%s.email: duplicate of prospects[%zu]",
			    jpath(sub, sizeof(sub), "prospects", NULL, (long)a[i].index),
			    a[i - 1].index);
done:
	for (i = 0; i < m; i++)
		free(a[i].lower);
	free(a);
	return rc;
}

static void
campaign_init(struct campaign_in *c)
{
	memset(c, 0, sizeof(*c));
	c->start = c->end = -1;
}

int
campaign_read(json_object *in, struct campaign_in *c, struct vlist *errs)
{
	size_t i, n, before = errs->total;
	json_object *t;
	char path[64];

	campaign_init(c);
	if (jread_check(in, "", campaign_fields, errs) != 0 &&
	    !json_object_is_type(in, json_type_object))
		return -1;
	c->customer_id = jstr(in, "customer_id");
	c->key = jstr(in, "key");
	common_read(in, c, errs);
	c->templates = member(in, "templates");
	c->prospects = member(in, "prospects");
	if (c->templates != NULL && !json_object_is_type(c->templates, json_type_array))
		c->templates = NULL;
	if (c->prospects != NULL && !json_object_is_type(c->prospects, json_type_array))
		c->prospects = NULL;
	n = c->templates != NULL ? json_object_array_length(c->templates) : 0;
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(c->templates, i);
		jpath(path, sizeof(path), "templates", NULL, (long)i);
		if (json_object_is_type(t, json_type_object)) {
			template_rules(t, path, errs);
			template_settle(t, (int)i + 1, path, errs);
		}
	}
	if (c->prospects != NULL && prospects_settle(c->prospects, errs) == -1)
		vlist_add(errs, "prospects: out of memory");
	/* Defaults, stored and printed: UTC, Monday to Friday 09:00-17:00. */
	if (c->timezone == NULL)
		c->timezone = "UTC";
	if (c->status == NULL)
		c->status = "draft";
	if (c->days[0] == '\0')
		strlcpy(c->days, "{mon,tue,wed,thu,fri}", sizeof(c->days));
	if (c->start < 0)
		c->start = 9 * 60;
	if (c->end < 0)
		c->end = 17 * 60;
	window_order(c, errs);
	if (strcmp(c->status, "running") == 0) {
		if (n == 0)
			vlist_add(errs, "templates: a running campaign needs at least one template");
		if (c->prospects == NULL || json_object_array_length(c->prospects) == 0)
			vlist_add(errs, "prospects: a running campaign needs at least one prospect");
	}
	return errs->total == before ? 0 : -1;
}

int
campaign_patch_read(json_object *in, struct campaign_in *c, struct vlist *errs)
{
	size_t before = errs->total;

	campaign_init(c);
	if (jread_check(in, "", patch_fields, errs) != 0 &&
	    !json_object_is_type(in, json_type_object))
		return -1;
	common_read(in, c, errs);
	return errs->total == before ? 0 : -1;
}

/* Parameters travel as text. */
static const char *
num(char buf[24], long long n)
{
	snprintf(buf, 24, "%lld", n);
	return buf;
}

static const char *
hhmm(char buf[8], int minutes)
{
	unsigned m = (unsigned)minutes % (24 * 60 + 1);

	snprintf(buf, 8, "%02u:%02u", (m / 60) % 100, m % 60);
	return buf;
}

/* One row, one column, as a long long; 0 rows: 0 and *found = 0. */
static int
query_id(struct derr *e, PGconn *db, const char *sql, int n,
    const char *const *p, long long *id, int *found)
{
	PGresult *r;
	const char *errstr;

	if ((r = db_exec(e, db, sql, n, p)) == NULL)
		return -1;
	*found = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0);
	*id = *found ? strtonum(PQgetvalue(r, 0, 0), 0, INT64_MAX, &errstr) : 0;
	PQclear(r);
	return 0;
}

/*
 * The identity a campaign sends from: it exists (else 66), it is the
 * customer's (else 77), and when the campaign runs it is connected (65).
 */
static int
identity_usable(struct derr *e, PGconn *db, long long id, const char *customer,
    int running)
{
	const char *p[1];
	char ids[24];
	PGresult *r;
	int rc = 0;

	p[0] = num(ids, id);
	r = db_exec(e, db, "SELECT customer_id, status FROM drip.email_identity"
	    " WHERE id = $1 FOR SHARE", 1, p);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0)
		rc = derr_set(e, EX_NOINPUT, "identity_id: no identity %lld", id);
	else if (strcmp(PQgetvalue(r, 0, 0), customer) != 0)
		rc = derr_set(e, EX_NOPERM,
		    "identity_id: identity %lld belongs to another customer", id);
	else if (running && strcmp(PQgetvalue(r, 0, 1), "connected") != 0)
		rc = derr_set(e, EX_DATAERR,
		    "status: running needs a connected sender identity, "
		    "identity %lld is %s (run outlook-auth)", id, PQgetvalue(r, 0, 1));
	PQclear(r);
	return rc;
}

/* The campaign under customer and key, if any; same: its input matches. */
static int
key_lookup(struct derr *e, PGconn *db, const char *customer, const char *key,
    const char *input, long long *id, int *same)
{
	const char *p[3] = { customer, key, input };
	PGresult *r;
	const char *errstr;

	r = db_exec(e, db, "SELECT id, key_input = $3::jsonb FROM drip.email_campaign"
	    " WHERE customer_id = $1 AND key = $2", 3, p);
	if (r == NULL)
		return -1;
	*id = 0;
	if (PQntuples(r) > 0) {
		*id = strtonum(PQgetvalue(r, 0, 0), 1, INT64_MAX, &errstr);
		*same = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	}
	PQclear(r);
	return 0;
}

static int
key_answer(struct derr *e, const char *key, long long id, int same)
{
	if (same)
		return 0;
	return derr_set(e, EX_DATAERR, "key: '%s' is taken by campaign %lld, "
	    "whose input was different", key, id);
}

/* The rows of templates (each with its step) into campaign. */
static int
templates_insert(struct derr *e, PGconn *db, const char *campaign,
    json_object *list, int replace)
{
	const char *p[2] = { campaign,
	    json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN) };

	return db_cmd(e, db, replace ?
	    "INSERT INTO drip.email_campaign_template AS t (customer_id, campaign_id, step,"
	    " subject, body_text, body_html, delay_days, thread)"
	    " SELECT c.customer_id, c.id, x.step, x.subject, x.body_text, x.body_html,"
	    " x.delay_days, x.thread"
	    " FROM drip.email_campaign c, json_to_recordset($2::json) AS x(step int,"
	    " subject text, body_text text, body_html text, delay_days int, thread text)"
	    " WHERE c.id = $1"
	    " ON CONFLICT (customer_id, campaign_id, step) DO UPDATE SET"
	    " subject = EXCLUDED.subject, body_text = EXCLUDED.body_text,"
	    " body_html = EXCLUDED.body_html, delay_days = EXCLUDED.delay_days,"
	    " thread = EXCLUDED.thread" :
	    "INSERT INTO drip.email_campaign_template (customer_id, campaign_id, step,"
	    " subject, body_text, body_html, delay_days, thread)"
	    " SELECT c.customer_id, c.id, x.step, x.subject, x.body_text, x.body_html,"
	    " x.delay_days, x.thread"
	    " FROM drip.email_campaign c, json_to_recordset($2::json) AS x(step int,"
	    " subject text, body_text text, body_html text, delay_days int, thread text)"
	    " WHERE c.id = $1", 2, p);
}

/*
 * Prospects into a campaign in one statement, in input order, each stored
 * suppressed, with its event 'suppressed', when the customer's suppression
 * list covers its address (the address itself or a parent domain:
 * drip.suppression_keys). The keys of
 * all prospects are joined with the list at once, not probed row by row;
 * fields travel as json and are cast once (json_to_recordset's own jsonb
 * conversion is three times slower).
 */
int
prospects_insert(struct derr *e, PGconn *db, const char *campaign,
    const char *json_array)
{
	const char *p[2] = { campaign, json_array };

	return db_cmd(e, db,
	    "WITH c AS (SELECT customer_id, id FROM drip.email_campaign WHERE id = $1),"
	    " x AS MATERIALIZED (SELECT * FROM ROWS FROM (json_to_recordset($2::json)"
	    "  AS (email text, first_name text, last_name text, company text, title text,"
	    "  timezone text, fields json)) WITH ORDINALITY"
	    "  AS x(email, first_name, last_name, company, title, timezone, fields, n)),"
	    " hit AS (SELECT DISTINCT x.n FROM x"
	    "  CROSS JOIN LATERAL unnest(drip.suppression_keys(x.email)) AS k(value)"
	    "  JOIN drip.suppression_entry s ON s.value = k.value"
	    "  JOIN c ON s.customer_id = c.customer_id),"
	    " ins AS (INSERT INTO drip.email_campaign_prospect (customer_id, campaign_id,"
	    " email, first_name, last_name, company, title, timezone, fields, status)"
	    " SELECT c.customer_id, c.id, x.email, nullif(x.first_name, ''),"
	    " nullif(x.last_name, ''), nullif(x.company, ''), nullif(x.title, ''),"
	    " nullif(x.timezone, ''), coalesce(x.fields::jsonb, '{}'),"
	    " CASE WHEN hit.n IS NULL THEN 'active' ELSE 'suppressed' END"
	    " FROM c CROSS JOIN x LEFT JOIN hit ON hit.n = x.n"
	    " ORDER BY x.n RETURNING customer_id, campaign_id, id, status) "
	    SUPPRESSED_EVENTS_SQL("customer_id", "campaign_id",
	    "ins WHERE status = 'suppressed'"), 2, p);
}

long long
campaign_create(struct derr *e, PGconn *db, const struct campaign_in *c,
    const char *input, time_t now, int *reused)
{
	char ids[24], cap[24], st[8], en[8], campaign[24];
	const char *p[11];
	long long id;
	int found, same, running = strcmp(c->status, "running") == 0;

	*reused = 0;
	if (db_begin(e, db) == -1)
		return -1;
	if (c->key != NULL) {
		if (key_lookup(e, db, c->customer_id, c->key, input, &id, &same) == -1)
			goto fail;
		if (id != 0) {
			db_rollback(db);
			*reused = 1;
			return key_answer(e, c->key, id, same) == -1 ? -1 : id;
		}
	}
	if (identity_usable(e, db, c->identity_id, c->customer_id, running) == -1)
		goto fail;
	p[0] = c->customer_id;
	p[1] = num(ids, c->identity_id);
	p[2] = c->name;
	p[3] = c->status;
	p[4] = c->timezone;
	p[5] = c->days;
	p[6] = hhmm(st, c->start);
	p[7] = hhmm(en, c->end);
	p[8] = c->cap_given && !c->cap_null ? num(cap, c->daily_cap) : NULL;
	p[9] = c->key;
	p[10] = c->key != NULL ? input : NULL;
	/* A concurrent run with the same key wins the insert; we then compare. */
	if (query_id(e, db, "INSERT INTO drip.email_campaign (customer_id, identity_id,"
	    " name, status, timezone, send_days, send_start, send_end, daily_cap, key,"
	    " key_input) VALUES ($1, $2, $3, $4, $5, $6::text[], $7::time, $8::time,"
	    " $9::integer, $10, $11::jsonb)"
	    " ON CONFLICT (customer_id, key) DO NOTHING RETURNING id",
	    11, p, &id, &found) == -1)
		goto fail;
	if (!found && c->key == NULL) {
		derr_set(e, EX_SOFTWARE, "campaign: insert returned no row");
		goto fail;
	}
	if (!found) {
		db_rollback(db);
		if (key_lookup(e, db, c->customer_id, c->key, input, &id, &same) == -1)
			return -1;
		*reused = 1;
		return key_answer(e, c->key, id, same) == -1 ? -1 : id;
	}
	num(campaign, id);
	if (c->templates != NULL && json_object_array_length(c->templates) > 0 &&
	    templates_insert(e, db, campaign, c->templates, 0) == -1)
		goto fail;
	if (c->prospects != NULL && json_object_array_length(c->prospects) > 0 &&
	    prospects_insert(e, db, campaign, json_object_to_json_string_ext(
	    c->prospects, JSON_C_TO_STRING_PLAIN)) == -1)
		goto fail;
	if (running && schedule_first_steps(e, db, campaign, now, NULL) == -1)
		goto fail;
	if (db_commit(e, db) == -1)
		goto fail;
	return id;
fail:
	db_rollback(db);
	return -1;
}

/* What may follow what; the same status again is no change. */
static int
transition_ok(const char *from, const char *to)
{
	static const char *const ok[][2] = {
		{ "draft", "running" }, { "running", "paused" },
		{ "paused", "running" },
	};
	size_t i;

	if (strcmp(from, to) == 0 || strcmp(to, "archived") == 0)
		return 1;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(ok[i][0], from) == 0 && strcmp(ok[i][1], to) == 0)
			return 1;
	return 0;
}

struct stored {
	char		customer[256], status[16];
	long long	identity_id;
	int		start, end;
	long long	templates, prospects;
};

static int
campaign_lock(struct derr *e, PGconn *db, const char *campaign, struct stored *s)
{
	const char *p[1] = { campaign };
	const char *errstr;
	PGresult *r;

	r = db_exec(e, db, "SELECT c.customer_id, c.status, c.identity_id,"
	    " to_char(c.send_start, 'HH24:MI'), to_char(c.send_end, 'HH24:MI'),"
	    " (SELECT count(*) FROM drip.email_campaign_template t"
	    "  WHERE t.customer_id = c.customer_id AND t.campaign_id = c.id),"
	    " (SELECT count(*) FROM drip.email_campaign_prospect p"
	    "  WHERE p.customer_id = c.customer_id AND p.campaign_id = c.id)"
	    " FROM drip.email_campaign c WHERE c.id = $1 FOR UPDATE OF c", 1, p);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return derr_set(e, EX_NOINPUT, "no campaign %s", campaign);
	}
	strlcpy(s->customer, PQgetvalue(r, 0, 0), sizeof(s->customer));
	strlcpy(s->status, PQgetvalue(r, 0, 1), sizeof(s->status));
	s->identity_id = strtonum(PQgetvalue(r, 0, 2), 1, INT64_MAX, &errstr);
	s->start = window_minutes(PQgetvalue(r, 0, 3), 0);
	s->end = window_minutes(PQgetvalue(r, 0, 4), 1);
	s->templates = strtonum(PQgetvalue(r, 0, 5), 0, INT64_MAX, &errstr);
	s->prospects = strtonum(PQgetvalue(r, 0, 6), 0, INT64_MAX, &errstr);
	PQclear(r);
	return 0;
}

/* The checks of a status change, against the campaign as stored. */
static int
status_change_ok(struct derr *e, PGconn *db, const struct stored *s,
    const char *to, long long identity)
{
	if (!transition_ok(s->status, to))
		return derr_set(e, EX_DATAERR,
		    "status: a campaign cannot go from %s to %s", s->status, to);
	if (strcmp(to, "running") != 0 || strcmp(s->status, "running") == 0)
		return 0;
	if (s->templates == 0)
		return derr_set(e, EX_DATAERR,
		    "status: a running campaign needs at least one template");
	if (s->prospects == 0)
		return derr_set(e, EX_DATAERR,
		    "status: a running campaign needs at least one prospect");
	return identity_usable(e, db, identity, s->customer, 1);
}

int
campaign_update(struct derr *e, PGconn *db, long long id,
    const struct campaign_in *c, time_t now)
{
	char campaign[24], ids[24], cap[24], st[8], en[8];
	const char *p[11];
	struct stored s;
	const char *to;
	long long identity;
	int start, end, starts, timing;

	num(campaign, id);
	if (db_begin(e, db) == -1)
		return -1;
	if (campaign_lock(e, db, campaign, &s) == -1)
		goto fail;
	to = c->status != NULL ? c->status : s.status;
	identity = c->identity_id != 0 ? c->identity_id : s.identity_id;
	if (c->identity_id != 0 && identity_usable(e, db, identity, s.customer,
	    strcmp(to, "running") == 0) == -1)
		goto fail;
	if (status_change_ok(e, db, &s, to, identity) == -1)
		goto fail;
	start = c->start >= 0 ? c->start : s.start;
	end = c->end >= 0 ? c->end : s.end;
	if (start >= end) {
		derr_set(e, EX_DATAERR, "send_window: start (%s) must be before end (%s)",
		    hhmm(st, start), hhmm(en, end));
		goto fail;
	}
	p[0] = campaign;
	p[1] = c->name;
	p[2] = c->status;
	p[3] = c->timezone;
	p[4] = c->days[0] != '\0' ? c->days : NULL;
	p[5] = c->start >= 0 ? hhmm(st, c->start) : NULL;
	p[6] = c->end >= 0 ? hhmm(en, c->end) : NULL;
	p[7] = c->cap_given ? "t" : "f";
	p[8] = c->cap_given && !c->cap_null ? num(cap, c->daily_cap) : NULL;
	p[9] = c->identity_id != 0 ? num(ids, c->identity_id) : NULL;
	if (c->name != NULL || c->status != NULL || c->timezone != NULL ||
	    p[4] != NULL || p[5] != NULL || p[6] != NULL || c->cap_given ||
	    p[9] != NULL) {
		if (db_cmd(e, db, "UPDATE drip.email_campaign SET"
		    " name = coalesce($2, name), status = coalesce($3, status),"
		    " timezone = coalesce($4, timezone),"
		    " send_days = coalesce($5::text[], send_days),"
		    " send_start = coalesce($6::time, send_start),"
		    " send_end = coalesce($7::time, send_end),"
		    " daily_cap = CASE WHEN $8::boolean THEN $9::integer ELSE daily_cap END,"
		    " identity_id = coalesce($10::bigint, identity_id)"
		    " WHERE id = $1", 10, p) == -1)
			goto fail;
	}
	starts = strcmp(to, "running") == 0 && strcmp(s.status, "running") != 0;
	timing = c->timezone != NULL || p[4] != NULL || p[5] != NULL || p[6] != NULL;
	if (strcmp(to, "archived") == 0 && strcmp(s.status, "archived") != 0 &&
	    schedule_cancel(e, db, campaign, "campaign archived") == -1)
		goto fail;
	if (timing && strcmp(to, "archived") != 0 &&
	    schedule_refit(e, db, campaign, now) == -1)
		goto fail;
	if (starts && schedule_campaign(e, db, campaign, now, NULL) == -1)
		goto fail;
	if (db_commit(e, db) == -1)
		goto fail;
	return 0;
fail:
	db_rollback(db);
	return -1;
}

json_object *
campaign_get(struct derr *e, PGconn *db, long long id)
{
	char campaign[24];
	const char *p[1] = { num(campaign, id) };
	json_object *o;
	PGresult *r;

	r = db_exec(e, db, "SELECT drip.campaign_json($1)", 1, p);
	if (r == NULL)
		return NULL;
	if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0)) {
		PQclear(r);
		return derr_set(e, EX_NOINPUT, "no campaign %lld", id), NULL;
	}
	if ((o = json_tokener_parse(PQgetvalue(r, 0, 0))) == NULL)
		derr_set(e, EX_SOFTWARE, "campaign %lld: unreadable JSON from the database", id);
	PQclear(r);
	return o;
}

int
campaign_each(struct derr *e, PGconn *db, const char *customer,
    int (*fn)(json_object *, void *), void *arg)
{
	const char *p[1] = { customer };
	json_object *o;
	PGresult *r;
	int i, rc = 0;

	r = db_exec(e, db, "SELECT drip.campaign_json(id) FROM drip.email_campaign"
	    " WHERE customer_id = $1 ORDER BY id", 1, p);
	if (r == NULL)
		return -1;
	for (i = 0; i < PQntuples(r) && rc == 0; i++) {
		if ((o = json_tokener_parse(PQgetvalue(r, i, 0))) == NULL) {
			rc = derr_set(e, EX_SOFTWARE, "unreadable JSON from the database");
			break;
		}
		rc = fn(o, arg);
		json_object_put(o);
	}
	PQclear(r);
	return rc;
}

/*
 * The steps already attempted: a step is "sent" for --replace once any
 * prospect's copy of it has left the scheduled state for one in which the
 * message may have gone out. Locking those rows first means send-due
 * cannot claim one while we replace its text.
 */
static int
step_attempted(struct derr *e, PGconn *db, const char *campaign, int step,
    int *attempted)
{
	char sn[24];
	const char *p[2] = { campaign, num(sn, step) };
	PGresult *r;

	if (db_cmd(e, db, "SELECT 1 FROM drip.email_campaign_prospect_step"
	    " WHERE campaign_id = $1 AND step = $2 FOR UPDATE", 2, p) == -1)
		return -1;
	r = db_exec(e, db, "SELECT EXISTS (SELECT 1 FROM drip.email_campaign_prospect_step"
	    " WHERE campaign_id = $1 AND step = $2"
	    " AND status IN ('claimed', 'sending', 'sent', 'review'))", 2, p);
	if (r == NULL)
		return -1;
	*attempted = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return 0;
}

/* Delay of step in campaign as stored, or -1 when the step is new. */
static int
step_delay(struct derr *e, PGconn *db, const char *campaign, int step, int *delay)
{
	char sn[24];
	const char *p[2] = { campaign, num(sn, step) };
	long long d;
	int found;

	if (query_id(e, db, "SELECT delay_days FROM drip.email_campaign_template"
	    " WHERE campaign_id = $1 AND step = $2", 2, p, &d, &found) == -1)
		return -1;
	*delay = found ? (int)d : -1;
	return 0;
}

/* The errors of one input line, moved to "to" as "line N: path: why". */
void
vlist_move_line(struct vlist *to, struct vlist *from, long line)
{
	size_t k;

	for (k = 0; k < from->n; k++) {
		if (line > 0)
			vlist_add(to, "line %ld: %s", line, from->msg[k]);
		else
			vlist_add(to, "%s", from->msg[k]);
	}
	to->total += from->total - from->n;
	vlist_free(from);
}

/*
 * Each template in list gets its step: the one it names, else the next
 * after the last. Steps stay contiguous, a taken step needs replace, and
 * with replace a step may change only while no copy of it was attempted.
 */
static int
templates_place(struct derr *e, PGconn *db, const char *campaign,
    json_object *list, int replace, int last, const long *lines,
    struct vlist *errs)
{
	size_t i, n = json_object_array_length(list);
	struct vlist one = { .n = 0 };
	json_object *t;
	long long want;
	int step, attempted;
	char seen[TEMPLATE_STEP_MAX + 2] = { 0 };

	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(list, i);
		step = jint(t, "step", &want) ? (int)want : last + 1;
		if (step > TEMPLATE_STEP_MAX)
			vlist_add(&one, "step: a campaign has at most %d steps",
			    TEMPLATE_STEP_MAX);
		else if (seen[step]++)
			vlist_add(&one, "step: step %d is given twice", step);
		else if (replace && member(t, "step") == NULL)
			vlist_add(&one, "step: required with --replace");
		else if (step > last + 1)
			vlist_add(&one, "step: must be at most %d (the next step)", last + 1);
		else if (step <= last && !replace)
			vlist_add(&one, "step: step %d exists (--replace replaces it)", step);
		else if (step <= last) {
			if (step_attempted(e, db, campaign, step, &attempted) == -1) {
				vlist_free(&one);
				return -1;
			}
			if (attempted)
				vlist_add(&one, "step: step %d has been sent and stays "
				    "as it was sent", step);
		}
		if (step > last && step <= TEMPLATE_STEP_MAX)
			last = step;
		template_settle(t, step, "", &one);
		vlist_move_line(errs, &one, lines != NULL ? lines[i] : 0);
	}
	return 0;
}

/*
 * Schedule what a new step gives. A campaign that finished because every
 * prospect had sent every step was running until then: when the new step
 * gives anyone something to send it runs again; when it does not, it stays
 * finished.
 */
static int
templates_revive(struct derr *e, PGconn *db, const char *campaign,
    const char *status, time_t now)
{
	const char *p[1] = { campaign };
	long long n;

	if (strcmp(status, "finished") == 0 && db_cmd(e, db,
	    "UPDATE drip.email_campaign SET status = 'running' WHERE id = $1", 1, p) == -1)
		return -1;
	if (schedule_campaign(e, db, campaign, now, &n) == -1)
		return -1;
	if (strcmp(status, "finished") == 0 && n == 0 && db_cmd(e, db,
	    "UPDATE drip.email_campaign SET status = 'finished' WHERE id = $1", 1, p) == -1)
		return -1;
	return 0;
}

int
templates_add(struct derr *e, PGconn *db, long long id, json_object *list,
    const long *lines, int replace, time_t now, struct vlist *errs,
    json_object **out)
{
	char campaign[24];
	size_t i, n = json_object_array_length(list);
	struct stored s;
	long long last;
	int found, *old = NULL;
	json_object *t;
	PGresult *r;
	const char *p[2];
	char steps[1024];

	*out = NULL;
	num(campaign, id);
	p[0] = campaign;
	if (db_begin(e, db) == -1)
		return -1;
	if (campaign_lock(e, db, campaign, &s) == -1)
		goto fail;
	if (strcmp(s.status, "archived") == 0) {
		derr_set(e, EX_DATAERR, "campaign %lld is archived", id);
		goto fail;
	}
	if (query_id(e, db, "SELECT coalesce(max(step), 0) FROM drip.email_campaign_template"
	    " WHERE campaign_id = $1", 1, p, &last, &found) == -1)
		goto fail;
	if (templates_place(e, db, campaign, list, replace, (int)last, lines, errs) == -1)
		goto fail;
	if (errs->total > 0) {
		derr_set(e, EX_DATAERR, "invalid input");
		goto fail;
	}
	if ((old = calloc(n, sizeof(*old))) == NULL) {
		derr_set(e, EX_OSERR, "out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		jint(json_object_array_get_idx(list, i), "step", &last);
		if (step_delay(e, db, campaign, (int)last, &old[i]) == -1)
			goto fail;
	}
	if (templates_insert(e, db, campaign, list, replace) == -1)
		goto fail;
	/* A replaced step whose delay changed moves its scheduled copies along. */
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(list, i);
		jint(t, "step", &last);
		if (old[i] >= 0 && schedule_shift(e, db, campaign, (int)last,
		    json_object_get_int(member(t, "delay_days")) - old[i], now) == -1)
			goto fail;
	}
	if (templates_revive(e, db, campaign, s.status, now) == -1)
		goto fail;
	if (db_commit(e, db) == -1)
		goto fail;
	free(old);
	strlcpy(steps, "{", sizeof(steps));
	for (i = 0; i < n; i++) {
		jint(json_object_array_get_idx(list, i), "step", &last);
		snprintf(steps + strlen(steps), sizeof(steps) - strlen(steps), "%s%lld",
		    i ? "," : "", last);
	}
	strlcat(steps, "}", sizeof(steps));
	p[1] = steps;
	r = db_exec(e, db, "SELECT drip.template_json(t) FROM drip.email_campaign_template t"
	    " JOIN unnest($2::int[]) WITH ORDINALITY AS u(step, n) ON u.step = t.step"
	    " WHERE t.campaign_id = $1 ORDER BY u.n", 2, p);
	if (r == NULL)
		return -1;
	*out = json_object_new_array();
	for (i = 0; i < (size_t)PQntuples(r); i++)
		json_object_array_add(*out, json_tokener_parse(PQgetvalue(r, (int)i, 0)));
	PQclear(r);
	return 0;
fail:
	free(old);
	db_rollback(db);
	return -1;
}
