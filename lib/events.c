/*
 * events.c: the sending telemetry (email_event) as the events tool prints
 * it, streamed row by row, and the notifications that say new rows were
 * committed (the trigger of 001 sends each new id on channel drip_event).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "drip.h"

const char *const event_types[] = {
	"sent", "failed", "bounced", "suppressed", "deferred", "replied",
	"unsubscribed", "auto_replied", NULL
};

int
event_type_valid(const char *t)
{
	size_t i;

	for (i = 0; event_types[i] != NULL; i++)
		if (strcmp(t, event_types[i]) == 0)
			return 1;
	return 0;
}

/*
 * One statement, so one snapshot: what it prints is exactly what was
 * committed when it started. Filters that are NULL match everything; the
 * planner sees the values (unnamed statement), so "$1 IS NULL OR ..."
 * costs nothing.
 */
static const char events_sql[] =
    "SELECT e.id, json_build_object("
    "    'id', e.id, 'type', e.type, 'created_at', drip.rfc3339(e.created_at),"
    "    'customer_id', e.customer_id, 'campaign_id', e.campaign_id,"
    "    'prospect_id', e.prospect_id, 'email', p.email,"
    "    'step_id', e.step_id, 'step', s.step, 'identity_id', e.identity_id,"
    "    'reason', e.reason, 'graph_message_id', e.graph_message_id,"
    "    'internet_message_id', e.internet_message_id,"
    "    'inbound_message_id', e.inbound_message_id, 'detail', e.detail)"
    "  FROM drip.email_event e"
    "  LEFT JOIN drip.email_campaign_prospect p ON p.id = e.prospect_id"
    "  LEFT JOIN drip.email_campaign_prospect_step s ON s.id = e.step_id"
    " WHERE ($1::text IS NULL OR e.customer_id = $1)"
    "   AND ($2::bigint IS NULL OR e.campaign_id = $2)"
    "   AND ($3::text[] IS NULL OR e.type = ANY ($3::text[]))"
    "   AND ($4::timestamptz IS NULL OR e.created_at >= $4)"
    "   AND ($5::bigint[] IS NULL OR e.id = ANY ($5::bigint[]))"
    " ORDER BY e.id";

static int
stream_error(struct derr *e, PGconn *c, PGresult *r)
{
	db_error(e, c, r, "read events");
	PQclear(r);
	/* the rest of the results, so the connection can be used again */
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
	return -1;
}

int
events_each(struct derr *e, PGconn *c, const struct events_filter *f,
    events_fn fn, void *arg)
{
	char campaign[24], since[RFC3339_LEN];
	char *types = NULL, *ids = NULL;
	const char *p[5];
	const char *errstr;
	json_object *o;
	PGresult *r;
	long long id;
	int rc = 0, sent;

	if (f->ntypes > 0 && (types = pgarray_text(f->types, f->ntypes)) == NULL)
		return derr_set(e, EX_OSERR, "read events: out of memory");
	if (f->ids != NULL && (ids = pgarray_ids(f->ids, f->nids)) == NULL) {
		free(types);
		return derr_set(e, EX_OSERR, "read events: out of memory");
	}
	snprintf(campaign, sizeof(campaign), "%lld", f->campaign);
	if (f->has_since)
		rfc3339(since, f->since);
	p[0] = f->customer;
	p[1] = f->campaign > 0 ? campaign : NULL;
	p[2] = types;
	p[3] = f->has_since ? since : NULL;
	p[4] = ids;
	sent = PQsendQueryParams(c, events_sql, 5, NULL, p, NULL, NULL, 0);
	free(types);
	free(ids);
	if (!sent)
		return db_error(e, c, NULL, "read events");
	/* row by row: a year of events need not fit in memory */
	if (!PQsetSingleRowMode(c))
		return stream_error(e, c, NULL);
	while ((r = PQgetResult(c)) != NULL) {
		switch (PQresultStatus(r)) {
		case PGRES_SINGLE_TUPLE:
			break;
		case PGRES_TUPLES_OK:
			PQclear(r);
			continue;
		default:
			return stream_error(e, c, r);
		}
		id = strtonum(PQgetvalue(r, 0, 0), 1, LLONG_MAX, &errstr);
		o = json_tokener_parse(PQgetvalue(r, 0, 1));
		PQclear(r);
		if (rc == 0 && o == NULL)
			rc = derr_set(e, EX_SOFTWARE, "event %lld: unreadable JSON from the database", id);
		else if (rc == 0 && fn(id, o, arg) == -1)
			rc = derr_set(e, EX_IOERR, "event %lld: not written", id);
		json_object_put(o);
	}
	return rc;
}

int
events_listen(struct derr *e, PGconn *c)
{
	return db_cmd(e, c, "LISTEN drip_event", 0, NULL);
}

/*
 * What arrived on the connection, read without waiting: the ids of events
 * committed since. The caller waits for PQsocket() to become readable
 * (and for its signals) itself.
 */
int
events_notified(struct derr *e, PGconn *c, long long *ids, size_t max, size_t *n)
{
	PGnotify *nt;
	const char *errstr;
	long long id;

	*n = 0;
	if (!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK)
		return db_error(e, c, NULL, "wait for events");
	while (*n < max && (nt = PQnotifies(c)) != NULL) {
		id = strtonum(nt->extra, 1, LLONG_MAX, &errstr);
		if (errstr == NULL && strcmp(nt->relname, "drip_event") == 0)
			ids[(*n)++] = id;
		PQfreemem(nt);
	}
	return 0;
}

/* 0 when campaign id exists (and belongs to customer, if given) */
int
events_campaign_check(struct derr *e, PGconn *c, long long id, const char *customer)
{
	char ids[24];
	const char *p[] = { ids };
	PGresult *r;
	int rc = 0;

	snprintf(ids, sizeof(ids), "%lld", id);
	if ((r = db_exec(e, c, "SELECT customer_id FROM drip.email_campaign WHERE id = $1",
	    1, p)) == NULL)
		return -1;
	if (PQntuples(r) != 1)
		rc = derr_set(e, EX_NOINPUT, "campaign %lld: no such campaign", id);
	else if (customer != NULL && strcmp(PQgetvalue(r, 0, 0), customer) != 0)
		rc = derr_set(e, EX_NOPERM, "campaign %lld: belongs to another customer", id);
	PQclear(r);
	return rc;
}
