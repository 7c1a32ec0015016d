/*
 * schedule.c: put prospects on a running campaign's schedule.
 *
 * Step 1 is due at the first moment, from now on, that lies inside the
 * campaign's send window in the prospect's time zone (else the
 * campaign's). The clock comes from the caller (clock_now()), never from
 * SQL now(), so tests can stand on any day.
 */
#include <limits.h>
#include <stdlib.h>

#include "drip.h"

/*
 * Schedule step 1 for every active prospect of campaign_id that has no
 * step yet, if the campaign is running and has a step 1. Set-wise, in the
 * caller's transaction; next_in_window() runs once per time zone, not
 * once per prospect. Returns the number of steps scheduled, or -1.
 */
long long
schedule_first_steps(struct derr *e, PGconn *c, const char *campaign_id,
    time_t now)
{
	char ts[RFC3339_LEN];
	const char *p[2] = { campaign_id, ts }, *errstr;
	PGresult *r;
	long long n;

	rfc3339(ts, now);
	r = db_exec(e, c,
	    "WITH todo AS ("
	    " SELECT p.customer_id, p.campaign_id, p.id,"
	    "  coalesce(p.timezone, c.timezone) AS tz"
	    " FROM drip.email_campaign c"
	    " JOIN drip.email_campaign_template t ON t.customer_id = c.customer_id"
	    "  AND t.campaign_id = c.id AND t.step = 1"
	    " JOIN drip.email_campaign_prospect p ON p.customer_id = c.customer_id"
	    "  AND p.campaign_id = c.id AND p.status = 'active'"
	    " WHERE c.id = $1 AND c.status = 'running'"
	    "  AND NOT EXISTS (SELECT 1 FROM drip.email_campaign_prospect_step s"
	    "   WHERE s.prospect_id = p.id)),"
	    " due AS ("
	    " SELECT z.tz, drip.next_in_window(($2)::timestamptz, z.tz,"
	    "  c.send_days, c.send_start, c.send_end) AS at"
	    " FROM (SELECT DISTINCT tz FROM todo) z, drip.email_campaign c"
	    " WHERE c.id = $1),"
	    " ins AS ("
	    " INSERT INTO drip.email_campaign_prospect_step"
	    "  (customer_id, campaign_id, prospect_id, step, due_at)"
	    " SELECT todo.customer_id, todo.campaign_id, todo.id, 1, due.at"
	    " FROM todo JOIN due USING (tz)"
	    " WHERE due.at IS NOT NULL"
	    " RETURNING 1)"
	    " SELECT count(*) FROM ins", 2, p);
	if (r == NULL)
		return -1;
	n = strtonum(PQgetvalue(r, 0, 0), 0, LLONG_MAX, &errstr);
	PQclear(r);
	return n;
}
