/*
 * steps.c: the C side of a step's state machine. The transitions
 * themselves are SQL functions in lib/migrations/005_send.sql, where the
 * exactly-once argument can be read in one sitting; this file claims,
 * loads what a claimed step needs to be sent, and calls those functions
 * with whole batches at once.
 */
#include <stdlib.h>
#include <string.h>

#include "drip.h"

/* What a worker needs to render and send a claimed step (migration 011). */
static const char details_sql[] =
    "SELECT * FROM drip.step_details($1::bigint[])";

static char *
dup_or_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static long long
num(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int
fill(struct step *s, const PGresult *r, int i)
{
	s->id = num(r, i, 0);
	s->step = (int)num(r, i, 1);
	s->campaign_id = num(r, i, 3);
	s->prospect_id = num(r, i, 4);
	s->identity_id = num(r, i, 5);
	s->attempts = (int)num(r, i, 6);
	s->reply = strcmp(PQgetvalue(r, i, 16), "reply") == 0;
	s->draft_created = (time_t)num(r, i, 23);
	s->customer_id = dup_or_null(r, i, 2);
	s->email = dup_or_null(r, i, 7);
	s->first_name = dup_or_null(r, i, 8);
	s->last_name = dup_or_null(r, i, 9);
	s->company = dup_or_null(r, i, 10);
	s->title = dup_or_null(r, i, 11);
	s->fields = json_tokener_parse(PQgetvalue(r, i, 12));
	s->subject = dup_or_null(r, i, 13);
	s->body_text = dup_or_null(r, i, 14);
	s->body_html = dup_or_null(r, i, 15);
	s->sender_email = dup_or_null(r, i, 17);
	s->sender_name = dup_or_null(r, i, 18);
	s->reply_to = dup_or_null(r, i, 19);
	s->draft_id = dup_or_null(r, i, 20);
	s->internet_message_id = dup_or_null(r, i, 21);
	s->conversation_id = dup_or_null(r, i, 22);
	return s->customer_id && s->email && s->subject && s->sender_email ? 0 : -1;
}

void
steps_free(struct step *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct step *s = &v[i];

		free(s->customer_id); free(s->email); free(s->first_name);
		free(s->last_name); free(s->company); free(s->title);
		json_object_put(s->fields);
		free(s->subject); free(s->body_text); free(s->body_html);
		free(s->sender_email); free(s->sender_name); free(s->reply_to);
		free(s->draft_id); free(s->internet_message_id);
		free(s->conversation_id);
	}
	free(v);
}

/* The details of the steps whose ids are ids' first column, sent. */
int
steps_load_send(struct derr *e, PGconn *c, const PGresult *ids)
{
	long long *v;
	char *arr;
	const char *p[1];
	int i, rc, rows = PQntuples(ids);

	if ((v = reallocarray(NULL, rows ? (size_t)rows : 1, sizeof(*v))) == NULL)
		return derr_set(e, EX_OSERR, "out of memory");
	for (i = 0; i < rows; i++)
		v[i] = num(ids, i, 0);
	arr = pgarray_ids(v, (size_t)rows);
	free(v);
	if (arr == NULL)
		return derr_set(e, EX_OSERR, "out of memory");
	p[0] = arr;
	rc = db_send(e, c, details_sql, 1, p);
	free(arr);
	return rc;
}

/* The steps of an answer to steps_load_send. */
int
steps_load_rows(struct derr *e, const PGresult *r, struct step **out, size_t *n)
{
	int i;

	*n = 0;
	if ((*out = calloc((size_t)PQntuples(r) + 1, sizeof(**out))) == NULL)
		return derr_set(e, EX_OSERR, "out of memory");
	for (i = 0; i < PQntuples(r); i++) {
		(*n)++;
		if (fill(&(*out)[i], r, i) == -1) {
			steps_free(*out, *n);
			*out = NULL;
			*n = 0;
			return derr_set(e, EX_OSERR, "out of memory");
		}
	}
	return 0;
}

static int
load(struct derr *e, PGconn *c, const PGresult *ids, struct step **out, size_t *n)
{
	PGresult *r;
	int rc;

	*out = NULL;
	*n = 0;
	if (PQntuples(ids) == 0)
		return 0;
	if (steps_load_send(e, c, ids) == -1 || db_answer(e, c, 1, &r) == -1)
		return -1;
	rc = steps_load_rows(e, r, out, n);
	PQclear(r);
	return rc;
}

/*
 * send-due's claim, in statements sent without waiting, each its own
 * transaction: steps_release_send, then steps_claim_send (whose answer is
 * the ids claimed, committed), then steps_load_send of those ids.
 */
int
steps_release_send(struct derr *e, PGconn *c, time_t now)
{
	char t[RFC3339_LEN];
	const char *p[1] = { t };

	rfc3339(t, now);
	return db_send(e, c, "SELECT drip.release_expired($1)", 1, p);
}

int
steps_claim_send(struct derr *e, PGconn *c, int reconcile, const char *worker,
    time_t now, int batch, int lease)
{
	char t[RFC3339_LEN], lim[16], ls[32];
	const char *p[4] = { worker, t, lim, ls };

	rfc3339(t, now);
	snprintf(lim, sizeof(lim), "%d", batch);
	snprintf(ls, sizeof(ls), "%d seconds", lease);
	return db_send(e, c, reconcile ?
	    "SELECT * FROM drip.claim_reconcile($1, $2, $3, $4::interval)" :
	    "SELECT * FROM drip.claim_due($1, $2, $3, $4::interval)", 4, p);
}

/*
 * What send-due would claim now: release, claim and load in one
 * transaction, rolled back, so nothing is written.
 */
int
steps_peek(struct derr *e, PGconn *c, time_t now, int batch, struct step **out,
    size_t *n)
{
	PGresult *r = NULL;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (db_begin(e, c) == -1)
		return -1;
	if (steps_release_send(e, c, now) == -1 || db_answer(e, c, 1, &r) == -1)
		goto out;
	PQclear(r);
	r = NULL;
	if (steps_claim_send(e, c, 0, "dry-run", now, batch, 60) == -1 ||
	    db_answer(e, c, 1, &r) == -1)
		goto out;
	rc = load(e, c, r, out, n);
out:
	PQclear(r);
	db_rollback(c);
	return rc;
}

/*
 * Run one transition function over a batch, in its own transaction, and
 * return its result (the caller PQclears it). params[0..1] are filled
 * here with the worker and the clock.
 */
static PGresult *
transition(struct derr *e, PGconn *c, const char *sql, const char *worker,
    time_t now, int nparams, const char **params)
{
	char t[RFC3339_LEN];
	PGresult *r;

	rfc3339(t, now);
	params[0] = worker;
	params[1] = t;
	if ((r = db_exec(e, c, sql, nparams, params)) == NULL)
		return NULL;
	return r;
}

static char
outcome_letter(const char *word)
{
	if (strcmp(word, "sending") == 0)
		return 's';
	if (strcmp(word, "skipped") == 0)
		return 'k';
	if (strcmp(word, "released") == 0)
		return 'r';
	return '-';
}

/*
 * mark_sending without waiting for its answer: the server commits the
 * drafts while the requests go on. steps_mark_sending_poll reads the
 * outcome of each step; the connection carries nothing else meanwhile.
 */
int
steps_mark_sending_start(struct derr *e, PGconn *c, const char *worker,
    time_t now, struct step *const *v, size_t n)
{
	long long *ids = reallocarray(NULL, n ? n : 1, sizeof(*ids));
	const char **g = reallocarray(NULL, n ? n : 1, sizeof(*g));
	const char **m = reallocarray(NULL, n ? n : 1, sizeof(*m));
	const char **k = reallocarray(NULL, n ? n : 1, sizeof(*k));
	char t[RFC3339_LEN];
	const char *p[6] = { worker, t };
	size_t i;
	int rc = -1;

	if (ids == NULL || g == NULL || m == NULL || k == NULL) {
		derr_set(e, EX_OSERR, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		ids[i] = v[i]->id;
		g[i] = v[i]->draft_id;
		m[i] = v[i]->internet_message_id;
		k[i] = v[i]->conversation_id;
	}
	rfc3339(t, now);
	p[2] = pgarray_ids(ids, n);
	p[3] = pgarray_text(g, n);
	p[4] = pgarray_text(m, n);
	p[5] = pgarray_text(k, n);
	if (!(p[2] && p[3] && p[4] && p[5]))
		derr_set(e, EX_OSERR, "out of memory");
	else
		rc = db_send(e, c,
		    "SELECT * FROM drip.mark_sending($1, $2, $3, $4, $5, $6)", 6, p);
	free((void *)p[2]); free((void *)p[3]); free((void *)p[4]); free((void *)p[5]);
out:
	free(ids); free(g); free(m); free(k);
	return rc;
}

/* The answer to steps_mark_sending_start: 1 and outcome[], 0 not yet, -1 */
int
steps_mark_sending_poll(struct derr *e, PGconn *c, int wait,
    struct step *const *v, size_t n, char *outcome)
{
	PGresult *r;
	size_t i;
	int row, rc;

	for (i = 0; i < n; i++)
		outcome[i] = '-';
	if ((rc = db_answer(e, c, wait, &r)) != 1)
		return rc;
	/* rows come in no set order; a batch is tens of steps */
	for (row = 0; row < PQntuples(r); row++)
		for (i = 0; i < n; i++)
			if (v[i]->id == num(r, row, 0))
				outcome[i] = outcome_letter(PQgetvalue(r, row, 1));
	PQclear(r);
	return 1;
}

/*
 * The batch transitions that take ids plus one array of values: sent
 * (times), deferred (times and reasons), stopped, review and unknown
 * (reasons). *done is how many steps changed.
 */
static const char *const mark_sql[] = {
	[MARK_SENT] = "SELECT count(*) FROM drip.mark_sent($1, $2, $3, $4::timestamptz[])",
	[MARK_DEFERRED] = "SELECT count(*) FROM drip.mark_deferred($1, $2, $3, $4::timestamptz[], $5)",
	[MARK_FAILED] = "SELECT count(*) FROM drip.mark_stopped($1, $2, $3, 'failed', $4)",
	[MARK_SUPPRESSED] = "SELECT count(*) FROM drip.mark_stopped($1, $2, $3, 'suppressed', $4)",
	[MARK_BOUNCED] = "SELECT count(*) FROM drip.mark_stopped($1, $2, $3, 'bounced', $4)",
	[MARK_REVIEW] = "SELECT count(*) FROM drip.mark_review($1, $2, $3, $4)",
	[MARK_UNKNOWN] = "SELECT count(*) FROM drip.mark_unknown($1, $2, $3, $4)",
	[MARK_RELEASED] = "SELECT count(*) FROM drip.mark_released($1, $2, $3, $4)",
};

/* The parameters of a mark statement: p[2..4] allocated, *np set. */
static int
mark_params(struct derr *e, enum step_mark what, const long long *ids,
    const time_t *times, const char *const *reasons, size_t n, const char **p,
    int *np)
{
	*np = 4;
	p[2] = pgarray_ids(ids, n);
	p[3] = p[4] = NULL;
	if (what == MARK_SENT)
		p[3] = pgarray_times(times, n);
	else if (what == MARK_DEFERRED) {
		p[3] = pgarray_times(times, n);
		p[4] = pgarray_text(reasons, n);
		*np = 5;
	} else
		p[3] = pgarray_text(reasons, n);
	if (p[2] && p[3] && (*np == 4 || p[4]))
		return 0;
	free((void *)p[2]); free((void *)p[3]); free((void *)p[4]);
	return derr_set(e, EX_OSERR, "out of memory");
}

/*
 * steps_mark without waiting for its answer: the statement runs in the
 * server while the caller goes on; steps_mark_poll reads the answer. The
 * connection carries nothing else meanwhile.
 */
int
steps_mark_start(struct derr *e, PGconn *c, enum step_mark what,
    const char *worker, time_t now, const long long *ids, const time_t *times,
    const char *const *reasons, size_t n)
{
	char t[RFC3339_LEN];
	const char *p[5] = { NULL };
	int np, rc;

	if (mark_params(e, what, ids, times, reasons, n, p, &np) == -1)
		return -1;
	rfc3339(t, now);
	p[0] = worker;
	p[1] = t;
	rc = db_send(e, c, mark_sql[what], np, p);
	free((void *)p[2]); free((void *)p[3]); free((void *)p[4]);
	return rc;
}

/* 1 and *done: answered; 0: still running (only when !wait); -1: failed */
int
steps_mark_poll(struct derr *e, PGconn *c, int wait, size_t *done)
{
	PGresult *r;
	int rc;

	*done = 0;
	if ((rc = db_answer(e, c, wait, &r)) != 1)
		return rc;
	*done = (size_t)num(r, 0, 0);
	PQclear(r);
	return 1;
}

int
steps_mailbox_down(struct derr *e, PGconn *c, const char *worker, time_t now,
    long long identity_id, const char *reason)
{
	char id[32];
	const char *p[4] = { NULL, NULL, id, reason };
	PGresult *r;

	snprintf(id, sizeof(id), "%lld", identity_id);
	if ((r = transition(e, c, "SELECT drip.mailbox_down($1, $2, $3, $4)",
	    worker, now, 4, p)) == NULL)
		return -1;
	PQclear(r);
	return 0;
}
