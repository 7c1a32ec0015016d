/*
 * import.c: prospects into a campaign, streamed and set-wise.
 *
 * Everything happens in one transaction. Valid rows, already checked by
 * the caller, stream with COPY into a temporary staging table; then a few
 * statements do the rest for all rows at once: update the prospects the
 * campaign already has (--update), insert the new ones (the first of each
 * address wins, the unique index on (campaign_id, lower(email)) turns the
 * others away), mark suppressed addresses, and schedule step 1 in a
 * running campaign. Nothing is visible to anyone until the caller commits;
 * a killed import leaves the campaign as it was.
 *
 * The campaign row is locked FOR NO KEY UPDATE for the whole import: two
 * imports into one campaign take turns (so their counts are exact), and a
 * status change cannot slip in between our check and our scheduling;
 * sending, which only references the campaign, is not held up.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "drip.h"

struct importer {
	PGconn		*conn;
	struct copyw	*copy;
	char		 campaign[24];
	char		*customer;
	int		 running;
	int		 update;
	int		 keys;		/* the customer has suppression entries */
};

static const char stage_sql[] =
    "CREATE TEMP TABLE drip_import ("
    " line bigint NOT NULL, email text NOT NULL, first_name text,"
    " last_name text, company text, title text, timezone text, fields jsonb,"
    " keys text[]) ON COMMIT DROP";

static const char copy_sql[] =
    "COPY pg_temp.drip_import (line, email, first_name, last_name, company,"
    " title, timezone, fields, keys) FROM STDIN";

static int
lock_campaign(struct derr *e, struct importer *im, long long id)
{
	const char *p[1] = { im->campaign };
	PGresult *r;
	const char *status;

	snprintf(im->campaign, sizeof(im->campaign), "%lld", id);
	r = db_exec(e, im->conn,
	    "SELECT customer_id, status,"
	    " EXISTS (SELECT 1 FROM drip.suppression_entry s"
	    "  WHERE s.customer_id = c.customer_id)"
	    " FROM drip.email_campaign c WHERE id = $1 FOR NO KEY UPDATE", 1, p);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return derr_set(e, EX_NOINPUT, "campaign %lld: no such campaign", id);
	}
	status = PQgetvalue(r, 0, 1);
	if (strcmp(status, "archived") == 0) {
		PQclear(r);
		return derr_set(e, EX_DATAERR, "campaign %lld: archived", id);
	}
	im->running = strcmp(status, "running") == 0;
	im->keys = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	im->customer = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (im->customer == NULL)
		return derr_set(e, EX_OSERR, "out of memory");
	return 0;
}

struct importer *
import_begin(struct derr *e, PGconn *c, long long campaign_id, int update)
{
	struct importer *im;

	if ((im = calloc(1, sizeof(*im))) == NULL) {
		derr_set(e, EX_OSERR, "out of memory");
		return NULL;
	}
	im->conn = c;
	im->update = update;
	if (db_begin(e, c) == -1)
		goto fail;
	/* Sorting the staged rows by address stays in memory up to here. */
	if (lock_campaign(e, im, campaign_id) == -1 ||
	    db_cmd(e, c, "SET LOCAL work_mem = '256MB'", 0, NULL) == -1 ||
	    db_cmd(e, c, stage_sql, 0, NULL) == -1 ||
	    (im->copy = copyw_start(e, c, copy_sql)) == NULL)
		goto fail;
	return im;
fail:
	db_rollback(c);
	free(im->customer);
	free(im);
	return NULL;
}

const char *
import_customer(const struct importer *im)
{
	return im->customer;
}

int
import_add(struct derr *e, struct importer *im, long line,
    const struct prospect *p)
{
	struct copyw *w = im->copy;
	char keys[SUPPRESS_KEYS_MAX];
	const char *fields = NULL;

	if (w == NULL)
		return 0;	/* cancelled: rows are only being checked */
	if (p->fields != NULL && json_object_object_length(p->fields) > 0)
		fields = json_object_to_json_string_ext(p->fields,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (copyw_int(e, w, line) == -1 ||
	    copyw_str(e, w, p->email) == -1 ||
	    copyw_str(e, w, p->first_name) == -1 ||
	    copyw_str(e, w, p->last_name) == -1 ||
	    copyw_str(e, w, p->company) == -1 ||
	    copyw_str(e, w, p->title) == -1 ||
	    copyw_str(e, w, p->timezone) == -1 ||
	    copyw_str(e, w, fields) == -1)
		return -1;
	if (im->keys) {
		if (suppress_keys(p->email, keys, sizeof(keys)) == -1)
			return derr_set(e, EX_SOFTWARE, "line %ld: cannot make keys", line);
		if (copyw_str(e, w, keys) == -1)
			return -1;
	} else if (copyw_null(e, w) == -1)
		return -1;
	return copyw_row(e, w);
}

/* Stop sending rows: the import will not be committed. */
void
import_cancel(struct importer *im)
{
	copyw_abort(im->copy, "import cancelled");
	im->copy = NULL;
}

static int
count2(struct derr *e, PGconn *c, const char *sql, int n, const char *const *p,
    long long *a, long long *b)
{
	PGresult *r;
	const char *errstr;

	if ((r = db_exec(e, c, sql, n, p)) == NULL)
		return -1;
	*a = strtonum(PQgetvalue(r, 0, 0), 0, LLONG_MAX, &errstr);
	if (b != NULL)
		*b = strtonum(PQgetvalue(r, 0, 1), 0, LLONG_MAX, &errstr);
	PQclear(r);
	return 0;
}

/*
 * With --update, a prospect the campaign has gets the values of the first
 * row with its address; one whose values are the same is left alone (and
 * counted as a duplicate), so re-running an import changes nothing.
 */
static const char update_sql[] =
    "WITH s AS (SELECT DISTINCT ON (lower(email)) * FROM pg_temp.drip_import"
    " ORDER BY lower(email), line),"
    " u AS (UPDATE drip.email_campaign_prospect p SET"
    " first_name = s.first_name, last_name = s.last_name,"
    " company = s.company, title = s.title, timezone = s.timezone,"
    " fields = coalesce(s.fields, '{}')"
    " FROM s WHERE p.campaign_id = $1 AND lower(p.email) = lower(s.email)"
    " AND (p.first_name, p.last_name, p.company, p.title, p.timezone, p.fields)"
    " IS DISTINCT FROM"
    " (s.first_name, s.last_name, s.company, s.title, s.timezone,"
    " coalesce(s.fields, '{}'))"
    " RETURNING 1)"
    " SELECT count(*) FROM u";

/*
 * Rows go in input order, so of several rows with one address the first
 * is the one kept; the others, and addresses the campaign already has,
 * meet the unique index and are counted as duplicates. Input order needs
 * no ORDER BY (a sort of every row): the staging table was filled by one
 * COPY in this transaction and never changed, and a scan of a temporary
 * table reads its pages in order (no synchronized or parallel scans).
 */
#define INSERT_SQL(status, from) \
    "INSERT INTO drip.email_campaign_prospect AS p" \
    " (customer_id, campaign_id, email, first_name, last_name, company," \
    " title, timezone, fields, status)" \
    " SELECT ($2)::text, ($1)::bigint, s.email, s.first_name, s.last_name," \
    " s.company, s.title, s.timezone, coalesce(s.fields, '{}'), " status \
    " FROM " from \
    " ON CONFLICT (campaign_id, lower(email)) DO NOTHING"

/* The customer has no suppression entries: every new prospect is active. */
static const char insert_sql[] = INSERT_SQL("'active'", "pg_temp.drip_import s");

/*
 * Which rows are suppressed is one join of every row's keys with the
 * customer's entries (a hash join when both are large, index probes when
 * the import is small), not a probe per row. A join may return rows in
 * any order, so here input order is asked for (an in-memory sort).
 */
static const char insert_suppressed_sql[] =
    "WITH sup AS MATERIALIZED (SELECT DISTINCT s.line"
    " FROM pg_temp.drip_import s CROSS JOIN LATERAL unnest(s.keys) AS k(key)"
    " JOIN drip.suppression_entry e ON e.customer_id = ($2)::text"
    " AND e.value = k.key),"
    " ins AS (" INSERT_SQL(
    "CASE WHEN sup.line IS NULL THEN 'active' ELSE 'suppressed' END",
    "pg_temp.drip_import s LEFT JOIN sup ON sup.line = s.line ORDER BY s.line")
    " RETURNING p.status)"
    " SELECT count(*), count(*) FILTER (WHERE status = 'suppressed') FROM ins";

static int
insert_rows(struct derr *e, struct importer *im, const char *const *p,
    struct import_counts *n)
{
	PGresult *r;
	const char *errstr;

	if (im->keys)
		return count2(e, im->conn, insert_suppressed_sql, 2, p,
		    &n->inserted, &n->suppressed);
	if ((r = db_exec(e, im->conn, insert_sql, 2, p)) == NULL)
		return -1;
	n->inserted = strtonum(PQcmdTuples(r), 0, LLONG_MAX, &errstr);
	PQclear(r);
	return 0;
}

int
import_finish(struct derr *e, struct importer *im, time_t now,
    struct import_counts *n)
{
	const char *p[2] = { im->campaign, im->customer };
	long long staged = 0, scheduled;
	struct copyw *w = im->copy;

	im->copy = NULL;
	if (w == NULL)
		return derr_set(e, EX_SOFTWARE, "import: finished after cancel");
	if (copyw_end(e, w, &staged) == -1)
		return -1;
	n->updated = n->inserted = n->suppressed = n->scheduled = 0;
	if (staged > 0 && im->update &&
	    count2(e, im->conn, update_sql, 1, p, &n->updated, NULL) == -1)
		return -1;
	if (staged > 0 && insert_rows(e, im, p, n) == -1)
		return -1;
	n->duplicates = staged - n->inserted - n->updated;
	if (im->running && n->inserted > n->suppressed) {
		if ((scheduled = schedule_first_steps(e, im->conn, im->campaign, now)) == -1)
			return -1;
		n->scheduled = scheduled;
	}
	return 0;
}

void
import_free(struct importer *im)
{
	if (im == NULL)
		return;
	copyw_abort(im->copy, "import abandoned");
	free(im->customer);
	free(im);
}
