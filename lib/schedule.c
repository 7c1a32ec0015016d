/*
 * schedule.c: when each prospect's next step is due.
 *
 * Every decision here is one set-wise statement, whatever the number of
 * prospects, and takes the clock as a parameter (clock_now() in the tool,
 * pinned by DRIP_NOW in tests) instead of calling now() in SQL. A step is
 * due at the first moment inside the campaign's send window, in the
 * prospect's time zone when it has one, else the campaign's
 * (drip.next_in_window); a delay is counted in local calendar days
 * (drip.add_local_days), so it keeps its wall-clock time across a
 * daylight-saving change.
 *
 * These run inside the caller's transaction, which should hold the
 * campaign row (SELECT ... FOR UPDATE or FOR SHARE) so its status and
 * window cannot change underneath. Each is a no-op unless the campaign is
 * running, and none schedules a step twice (UNIQUE (prospect_id, step)).
 */
#include <stdlib.h>
#include <string.h>

#include "drip.h"

static int
count_of(struct derr *e, PGconn *db, const char *sql, int n,
    const char *const *p, long long *count)
{
	const char *errstr;
	PGresult *r;
	long long c;

	if ((r = db_exec(e, db, sql, n, p)) == NULL)
		return -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		c = PQntuples(r) > 0 ? strtonum(PQgetvalue(r, 0, 0), 0, INT64_MAX, &errstr) : 0;
	else
		c = strtonum(PQcmdTuples(r), 0, INT64_MAX, &errstr);
	PQclear(r);
	if (count != NULL)
		*count = c;
	return 0;
}

/* Step 1 for every active prospect of a running campaign without one. */
int
schedule_first_steps(struct derr *e, PGconn *db, const char *campaign,
    time_t now, long long *scheduled)
{
	char ts[RFC3339_LEN];
	const char *p[2] = { campaign, ts };

	rfc3339(ts, now);
	return count_of(e, db,
	    "INSERT INTO drip.email_campaign_prospect_step"
	    " (customer_id, campaign_id, prospect_id, step, due_at)"
	    " SELECT p.customer_id, p.campaign_id, p.id, 1,"
	    "  drip.next_in_window(drip.add_local_days($2::timestamptz, z.tz, t.delay_days),"
	    "   z.tz, c.send_days, c.send_start, c.send_end)"
	    " FROM drip.email_campaign c"
	    " JOIN drip.email_campaign_template t ON t.customer_id = c.customer_id"
	    "  AND t.campaign_id = c.id AND t.step = 1"
	    " JOIN drip.email_campaign_prospect p ON p.customer_id = c.customer_id"
	    "  AND p.campaign_id = c.id"
	    " CROSS JOIN LATERAL (SELECT coalesce(p.timezone, c.timezone) AS tz) z"
	    " WHERE c.id = $1 AND c.status = 'running'"
	    "  AND p.status = 'active' AND p.last_step = 0"
	    "  AND NOT EXISTS (SELECT 1 FROM drip.email_campaign_prospect_step s"
	    "   WHERE s.prospect_id = p.id)"
	    " ON CONFLICT (prospect_id, step) DO NOTHING", 2, p, scheduled);
}

/*
 * The step after the last one sent, for each prospect that has sent a step,
 * has nothing scheduled after it, and is active or finished (it had sent
 * every step there was), when the campaign now has that step. It is due
 * its delay after the last send, and never before now; a finished prospect
 * is active again.
 */
int
schedule_following_steps(struct derr *e, PGconn *db, const char *campaign,
    time_t now, long long *scheduled)
{
	char ts[RFC3339_LEN];
	const char *p[2] = { campaign, ts };

	rfc3339(ts, now);
	return count_of(e, db,
	    "WITH due AS ("
	    " SELECT p.id, p.customer_id, p.campaign_id, t.step,"
	    "  drip.next_in_window(greatest($2::timestamptz,"
	    "   drip.add_local_days(coalesce(p.last_sent_at, $2::timestamptz), z.tz,"
	    "   t.delay_days)), z.tz, c.send_days, c.send_start, c.send_end) AS due_at"
	    " FROM drip.email_campaign c"
	    " JOIN drip.email_campaign_prospect p ON p.customer_id = c.customer_id"
	    "  AND p.campaign_id = c.id"
	    " JOIN drip.email_campaign_template t ON t.customer_id = c.customer_id"
	    "  AND t.campaign_id = c.id AND t.step = p.last_step + 1"
	    " CROSS JOIN LATERAL (SELECT coalesce(p.timezone, c.timezone) AS tz) z"
	    " WHERE c.id = $1 AND c.status = 'running' AND p.last_step > 0"
	    "  AND p.status IN ('active', 'finished')"
	    "  AND NOT EXISTS (SELECT 1 FROM drip.email_campaign_prospect_step s"
	    "   WHERE s.prospect_id = p.id AND s.step > p.last_step)"
	    " FOR UPDATE OF p),"
	    " ins AS (INSERT INTO drip.email_campaign_prospect_step"
	    "  (customer_id, campaign_id, prospect_id, step, due_at)"
	    "  SELECT customer_id, campaign_id, id, step, due_at FROM due"
	    "  ON CONFLICT (prospect_id, step) DO NOTHING RETURNING prospect_id),"
	    " back AS (UPDATE drip.email_campaign_prospect p SET status = 'active'"
	    "  FROM ins WHERE p.id = ins.prospect_id AND p.status <> 'active')"
	    " SELECT count(*) FROM ins", 2, p, scheduled);
}

/* Both: what a campaign that starts or resumes, or gains a step, owes. */
int
schedule_campaign(struct derr *e, PGconn *db, const char *campaign, time_t now,
    long long *scheduled)
{
	long long a, b;

	if (schedule_first_steps(e, db, campaign, now, &a) == -1 ||
	    schedule_following_steps(e, db, campaign, now, &b) == -1)
		return -1;
	if (scheduled != NULL)
		*scheduled = a + b;
	return 0;
}

/*
 * After the window or time zone changed: each scheduled step whose due
 * time is no longer inside the window moves to the next moment that is
 * (and not before now). Steps still inside keep their time.
 */
int
schedule_refit(struct derr *e, PGconn *db, const char *campaign, time_t now)
{
	char ts[RFC3339_LEN];
	const char *p[2] = { campaign, ts };

	rfc3339(ts, now);
	return db_cmd(e, db,
	    "UPDATE drip.email_campaign_prospect_step s SET due_at ="
	    " drip.next_in_window(greatest(s.due_at, $2::timestamptz), z.tz,"
	    "  c.send_days, c.send_start, c.send_end)"
	    " FROM drip.email_campaign c, drip.email_campaign_prospect p,"
	    " LATERAL (SELECT coalesce(p.timezone, c.timezone) AS tz) z"
	    " WHERE c.id = $1 AND s.campaign_id = c.id AND s.status = 'scheduled'"
	    "  AND p.id = s.prospect_id"
	    "  AND drip.next_in_window(s.due_at, z.tz, c.send_days, c.send_start,"
	    "   c.send_end) IS DISTINCT FROM s.due_at", 2, p);
}

/* A step's delay changed by days: its scheduled copies move as much. */
int
schedule_shift(struct derr *e, PGconn *db, const char *campaign, int step,
    int days, time_t now)
{
	char ts[RFC3339_LEN], sn[16], dn[16];
	const char *p[4] = { campaign, ts, sn, dn };

	if (days == 0)
		return 0;
	rfc3339(ts, now);
	snprintf(sn, sizeof(sn), "%d", step);
	snprintf(dn, sizeof(dn), "%d", days);
	return db_cmd(e, db,
	    "UPDATE drip.email_campaign_prospect_step s SET due_at ="
	    " drip.next_in_window(greatest($2::timestamptz,"
	    "  drip.add_local_days(s.due_at, z.tz, $4::integer)), z.tz,"
	    "  c.send_days, c.send_start, c.send_end)"
	    " FROM drip.email_campaign c, drip.email_campaign_prospect p,"
	    " LATERAL (SELECT coalesce(p.timezone, c.timezone) AS tz) z"
	    " WHERE c.id = $1 AND s.campaign_id = c.id AND s.step = $3::integer"
	    "  AND s.status = 'scheduled' AND p.id = s.prospect_id", 4, p);
}

/* Nothing scheduled in the campaign will be sent: each such step is skipped. */
int
schedule_cancel(struct derr *e, PGconn *db, const char *campaign,
    const char *reason)
{
	const char *p[2] = { campaign, reason };

	return db_cmd(e, db,
	    "UPDATE drip.email_campaign_prospect_step SET status = 'skipped',"
	    " last_error = $2 WHERE campaign_id = $1 AND status = 'scheduled'", 2, p);
}
