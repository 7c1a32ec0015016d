/*
 * send.c: send-due's engine. Claim due steps in batches, check each
 * address against the customer's suppressions, render, create the draft,
 * commit the step as 'sending' with the draft's immutable id, and only
 * then ask Graph to send it. Many requests run at once (curl multi), at
 * most per_mailbox at a time for one mailbox, as Outlook allows.
 *
 * State changes are collected and committed in batches (one transaction
 * per kind per turn of the loop): that, and not the HTTP, is what would
 * otherwise bound the rate. The SQL of every transition is in
 * lib/migrations/005_send.sql; the exactly-once argument is there.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "drip.h"

enum stage {
	ST_DRAFT,	/* POST /me/messages */
	ST_REPLY,	/* POST /me/messages/{prev}/createReply */
	ST_PATCH,	/* PATCH the reply draft's subject and body */
	ST_SEND,	/* POST /me/messages/{id}/send */
	ST_LOOKUP,	/* reconcile: GET /me/messages/{id} */
	ST_FIND,	/* reconcile: Sent Items by internetMessageId */
	ST_DISCARD,	/* DELETE a draft that will not be sent */
	ST_SWEEP,	/* a step tried before: drafts its lost answers left? */
	ST_SWEEP_DEL,	/* DELETE one of them */
};

struct batch;
struct mbox;

struct job {
	struct step	*s;
	struct batch	*b;
	struct mbox	*mb;
	struct sender	*sd;
	enum stage	 stage;
	int		 auth_retried;
	int		 gen;		/* its mailbox's token generation used */
	int		 reconcile;	/* taken by claim_reconcile */
	int		 fresh;		/* its draft is not recorded (no 'sending') */
	enum stage	 after_sweep;	/* ST_DRAFT or ST_REPLY */
	int		 sweeps;	/* drafts deleted by the sweep */
	char		*orphan;	/* the one being deleted */
	time_t		 lease_end;
	char		*subject, *body;
	int		 html;
	struct job	*next;		/* in its mailbox's queue */
};

/* A claimed batch lives until the last of its jobs is done. */
struct batch {
	struct step	*steps;
	struct job	*jobs;
	size_t		 n, live;
};

struct mbox {
	long long	 id;
	char		*token;
	int		 inflight;
	int		 gen;		/* bumped at each new token */
	int		 refresh;	/* a 401 asked for a new token */
	int		 down;		/* refused us: its work waits */
	int		 released;	/* mailbox_down done */
	char		*why;		/* why it is down */
	struct mbox	*down_next;	/* down, not yet released */
	struct job	*head, *tail;
	struct mbox	*next;		/* hash chain */
	struct mbox	*rnext;		/* ready ring */
	int		 ready;
};

/* State changes waiting for the next commit. */
struct marks {
	long long	*ids;
	time_t		*times;
	char		**reasons;
	size_t		 n, cap;
};

#define NBUCKET	1024

/* When batched commits go (see send_due's loop). */
#define FLUSH_SENDING_S	0.02
#define FLUSH_MARKS	200
#define FLUSH_MARKS_S	0.2

struct sender {
	const struct send_opts *o;
	struct send_stats *st;
	struct derr	*e;
	PGconn		*db;
	struct graph	*g;
	struct crypt_key key;
	char		 keyname[CRYPT_NAME_LEN + 1];	/* in draft tags */
	char		 worker[128];
	struct mbox	*bucket[NBUCKET];
	struct mbox	*ready_head, *ready_tail;
	size_t		 inflight, queued;
	struct job	**sending;	/* drafts to commit as 'sending' */
	size_t		 nsending, capsending;
	struct marks	 m[MARK_RELEASED + 1];
	PGconn		*mdb;		/* commits the marks, while we go on */
	struct marks	 busy;		/* the marks being committed there */
	enum step_mark	 busy_kind;
	int		 busy_on;
	PGconn		*cdb;		/* claims, without waiting */
	struct {
		enum { CL_IDLE, CL_RELEASE, CL_CLAIM, CL_LOAD, CL_SUPPRESSED } stage;
		int	 reconcile;
		struct step *steps;	/* loaded, not yet taken */
		size_t	 n;
	} cl;
	PGconn		*sdb;		/* commits drafts as 'sending' */
	struct job	**committing;	/* the drafts being committed there */
	struct step	**committing_s;	/* and their steps */
	size_t		 capcommitting_s;
	size_t		 ncommitting, capcommitting;
	int		 committing_on;
	int		 failed;	/* a database error: stop */
	int		 pumping;	/* inside pump(): no nested pump */
	double		 sending_since;	/* oldest draft waiting for its commit */
	double		 marks_since;	/* oldest state change not committed */
	struct mbox	*down;		/* mailboxes to give back (mailbox_down) */
};

static void
note(struct sender *sd, int prio, const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	if (sd->o->note == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sd->o->note(sd->o->note_arg, prio, line);
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
grow(void **v, size_t *cap, size_t need, size_t size)
{
	void *p;
	size_t c = *cap ? *cap : 64;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if ((p = reallocarray(*v, c, size)) == NULL)
		return -1;
	*v = p;
	*cap = c;
	return 0;
}

static size_t
nmarks(const struct sender *sd)
{
	size_t n = 0;
	int w;

	for (w = 0; w <= MARK_RELEASED; w++)
		n += sd->m[w].n;
	return n;
}

static void
mark(struct sender *sd, enum step_mark what, long long id, time_t t, const char *why)
{
	struct marks *m = &sd->m[what];
	size_t cap = m->cap ? m->cap * 2 : 64;
	char *r = strdup(why != NULL ? why : "");

	if (r != NULL && m->n == m->cap) {
		long long *ids = reallocarray(m->ids, cap, sizeof(*ids));
		time_t *times = ids ? reallocarray(m->times, cap, sizeof(*times)) : NULL;
		char **reasons = times ? reallocarray(m->reasons, cap, sizeof(*reasons)) : NULL;

		if (ids != NULL)
			m->ids = ids;
		if (times != NULL)
			m->times = times;
		if (reasons != NULL) {
			m->reasons = reasons;
			m->cap = cap;
		}
	}
	if (r == NULL || m->n == m->cap) {
		free(r);
		sd->failed = 1;
		derr_set(sd->e, EX_OSERR, "out of memory");
		return;
	}
	if (nmarks(sd) == 0)
		sd->marks_since = mono();
	m->ids[m->n] = id;
	m->times[m->n] = t;
	m->reasons[m->n] = r;
	m->n++;
}

/* ---- mailboxes ---- */

static void mbox_down(struct sender *, struct mbox *, const char *);

static struct mbox *
mbox_get(struct sender *sd, long long id)
{
	struct mbox **p = &sd->bucket[(unsigned long long)id % NBUCKET], *mb;

	for (mb = *p; mb != NULL; mb = mb->next)
		if (mb->id == id)
			return mb;
	if ((mb = calloc(1, sizeof(*mb))) == NULL)
		return NULL;
	mb->id = id;
	mb->next = *p;
	*p = mb;
	return mb;
}

static void
mbox_ready(struct sender *sd, struct mbox *mb)
{
	if (mb->ready || mb->head == NULL)
		return;
	mb->ready = 1;
	mb->rnext = NULL;
	if (sd->ready_tail != NULL)
		sd->ready_tail->rnext = mb;
	else
		sd->ready_head = mb;
	sd->ready_tail = mb;
}

static void
enqueue(struct sender *sd, struct job *j)
{
	struct mbox *mb = j->mb;

	j->next = NULL;
	if (mb->tail != NULL)
		mb->tail->next = j;
	else
		mb->head = j;
	mb->tail = j;
	sd->queued++;
	mbox_ready(sd, mb);
}

/* The mailbox's access token, fetched (and refreshed) once per run. */
static const char *
mbox_token(struct sender *sd, struct mbox *mb, int refresh)
{
	char tok[GRAPH_TOKEN_MAX];
	struct derr e;
	int rc;

	if (mb->token != NULL && !refresh)
		return mb->token;
	if (refresh)
		rc = identity_refresh(&e, sd->db, sd->g, &sd->key, mb->id, mb->token,
		    tok, sizeof(tok));
	else
		rc = identity_access_token(&e, sd->db, sd->g, &sd->key, mb->id,
		    tok, sizeof(tok));
	secret_free(mb->token);
	mb->token = NULL;
	if (rc == -1) {
		note(sd, LOG_WARNING, "mailbox %lld: %s", mb->id, e.msg);
		if (e.code == EX_NOPERM)
			mbox_down(sd, mb, e.msg);
		return NULL;
	}
	mb->token = strdup(tok);
	mb->gen++;
	explicit_bzero(tok, sizeof(tok));
	return mb->token;
}

/* ---- jobs ---- */

static void
job_done(struct sender *sd, struct job *j)
{
	struct batch *b = j->b;

	free(j->subject);
	free(j->body);
	free(j->orphan);
	j->subject = j->body = j->orphan = NULL;
	if (--b->live == 0) {
		steps_free(b->steps, b->n);
		free(b->jobs);
		free(b);
	}
}

static time_t
retry_at(const struct graph_resp *r, int attempts)
{
	double wait = r != NULL && r->retry_after > 0 ? r->retry_after :
	    graph_backoff(attempts + 1);

	return clock_now() + (time_t)(wait + 0.999);
}

/* The job is over; the draft it made and could not delete stays: say so. */
static void
draft_left(struct sender *sd, struct job *j, const char *why)
{
	note(sd, LOG_WARNING, "step %lld: unsent draft left in the mailbox: %s",
	    j->s->id, why);
	job_done(sd, j);
}

/*
 * A first 401: the job goes again with the token pump() refreshes, once
 * for all the mailbox's jobs that met it (not here: this runs inside the
 * HTTP engine, maybe inside another synchronous call). 0: it had its retry.
 */
static int
again_after_401(struct sender *sd, struct job *j)
{
	if (j->auth_retried)
		return 0;
	j->auth_retried = 1;
	if (j->gen == j->mb->gen)
		j->mb->refresh = 1;
	enqueue(sd, j);
	return 1;
}

/* "code: detail" of a failed answer, for notes and events. */
static void
resp_why(const struct graph_resp *r, char *why, size_t size)
{
	snprintf(why, size, "%s%s%s", r->code[0] ? r->code : graph_class_name(r->class),
	    r->detail[0] ? ": " : "", r->detail);
}

/*
 * The job is over. A draft it made that no 'sending' commit recorded will
 * never be sent (a later try makes its own): it is deleted first, or it
 * would stay in the mailbox's Drafts folder.
 */
static void
drop_job(struct sender *sd, struct job *j)
{
	if (!j->fresh || j->s->draft_id == NULL) {
		job_done(sd, j);
		return;
	}
	if (j->mb->down) {
		draft_left(sd, j, "mailbox must be connected again");
		return;
	}
	j->fresh = 0;
	j->auth_retried = 0;
	j->stage = ST_DISCARD;
	enqueue(sd, j);
}

static void
finish_mark(struct sender *sd, struct job *j, enum step_mark what, time_t t,
    const char *why)
{
	mark(sd, what, j->s->id, t, why);
	drop_job(sd, j);
}

static void start(struct sender *, struct job *);

/* The earlier tries' drafts are dealt with: make this try's. */
static void
sweep_done(struct sender *sd, struct job *j)
{
	j->stage = j->after_sweep;
	enqueue(sd, j);
}

/*
 * Looking for what earlier tries left never holds a send up: on failure
 * the draft is made all the same, and a draft not found stays.
 */
static void
sweep_skipped(struct sender *sd, struct job *j, const char *why)
{
	note(sd, LOG_WARNING, "step %lld: drafts of earlier tries not cleared: %s",
	    j->s->id, why);
	sweep_done(sd, j);
}

static void
sweep_failed(struct sender *sd, struct job *j, const struct graph_resp *r,
    const char *why)
{
	if (r->class == GRAPH_AUTH && again_after_401(sd, j))
		return;
	if (r->class == GRAPH_PERM_MAILBOX) {
		mbox_down(sd, j->mb, why);
		drop_job(sd, j);
		return;
	}
	if (j->stage == ST_SWEEP_DEL && r->status == 404)	/* gone already */
		sweep_done(sd, j);
	else
		sweep_skipped(sd, j, why);
}

/* What every stage does with an answer that is not a success. */
static void
failure(struct sender *sd, struct job *j, const struct graph_resp *r)
{
	char why[GRAPH_CODE_MAX + GRAPH_DETAIL_MAX + 32];

	resp_why(r, why, sizeof(why));
	if (j->stage == ST_SWEEP || j->stage == ST_SWEEP_DEL) {
		sweep_failed(sd, j, r, why);
		return;
	}
	/* Looking a message up never decides anything by failing. */
	if ((j->stage == ST_LOOKUP || j->stage == ST_FIND) &&
	    (r->class != GRAPH_AUTH || j->auth_retried)) {
		if (r->class == GRAPH_PERM_MAILBOX)
			mbox_down(sd, j->mb, why);
		finish_mark(sd, j, MARK_UNKNOWN, 0, why);
		return;
	}
	switch (r->class) {
	case GRAPH_AUTH:
		if (again_after_401(sd, j))
			return;
		/* FALLTHROUGH */
	case GRAPH_TRANSIENT:
		note(sd, LOG_NOTICE, "step %lld: deferred: %s", j->s->id, why);
		finish_mark(sd, j, MARK_DEFERRED, retry_at(r, j->s->attempts), why);
		return;
	case GRAPH_AMBIGUOUS:
		note(sd, LOG_WARNING, "step %lld: outcome of send unknown, will reconcile: %s",
		    j->s->id, why);
		finish_mark(sd, j, MARK_UNKNOWN, 0, why);
		return;
	case GRAPH_PERM_MESSAGE:
		if (strcmp(r->code, "ErrorInvalidRecipients") == 0) {
			note(sd, LOG_NOTICE, "step %lld: %s bounced: %s", j->s->id,
			    j->s->email, why);
			finish_mark(sd, j, MARK_BOUNCED, 0, why);
		} else {
			note(sd, LOG_ERR, "step %lld: failed: %s", j->s->id, why);
			finish_mark(sd, j, MARK_FAILED, 0, why);
		}
		return;
	case GRAPH_PERM_MAILBOX:
		mbox_down(sd, j->mb, why);
		/* refused, so not sent: a claimed step went back with the
		 * mailbox; one already 'sending' waits for the next claim */
		if (j->reconcile)
			finish_mark(sd, j, MARK_UNKNOWN, 0, why);
		else if (j->stage == ST_SEND)
			finish_mark(sd, j, MARK_DEFERRED, retry_at(r, j->s->attempts), why);
		else
			drop_job(sd, j);
		return;
	case GRAPH_OK:
		break;
	}
}

static void
queue_sending(struct sender *sd, struct job *j)
{
	if (grow((void **)&sd->sending, &sd->capsending, sd->nsending + 1,
	    sizeof(*sd->sending)) == -1) {
		sd->failed = 1;
		derr_set(sd->e, EX_OSERR, "out of memory");
		return;
	}
	if (sd->nsending == 0)
		sd->sending_since = mono();
	sd->sending[sd->nsending++] = j;
}

static time_t
sent_time(const struct graph_msg *m)
{
	time_t t;

	return m->sent_at[0] && rfc3339_parse(m->sent_at, &t) == 0 ? t : clock_now();
}

static void answer(struct sender *, struct job *, struct graph_resp *);
static void pump(struct sender *);

/* A draft's DELETE is over: 204, or 404 when it is gone already. */
static void
discarded(struct sender *sd, struct job *j, const struct graph_resp *r)
{
	char why[GRAPH_CODE_MAX + GRAPH_DETAIL_MAX + 32];

	if (r->class == GRAPH_AUTH && again_after_401(sd, j))
		return;
	if (r->class == GRAPH_OK || r->status == 404) {
		job_done(sd, j);
		return;
	}
	resp_why(r, why, sizeof(why));
	draft_left(sd, j, why);
}

/*
 * A request is over. Queued work starts at once, from here, so that
 * concurrency requests stay in flight while the answers come in, not
 * only at the next turn of the main loop.
 */
static void
answered(struct graph_resp *r, void *arg)
{
	struct job *j = arg;
	struct sender *sd = j->sd;

	j->mb->inflight--;
	sd->inflight--;
	mbox_ready(sd, j->mb);
	answer(sd, j, r);
	if (!sd->pumping && !sd->failed)
		pump(sd);
}

static void
answer(struct sender *sd, struct job *j, struct graph_resp *r)
{
	struct graph_msg msg;
	int found;

	if (j->stage == ST_DISCARD) {
		discarded(sd, j, r);
		return;
	}
	if (r->class != GRAPH_OK) {
		/* a draft or message that is gone, when we look it up */
		if (j->stage == ST_LOOKUP && r->status == 404) {
			j->stage = ST_FIND;
			enqueue(sd, j);
			return;
		}
		failure(sd, j, r);
		return;
	}
	switch (j->stage) {
	case ST_DRAFT:
	case ST_REPLY:
		if (graph_msg_parse(r, &msg) != 1 || msg.id[0] == '\0') {
			finish_mark(sd, j, MARK_FAILED, 0, "draft: answer without an id");
			return;
		}
		free(j->s->draft_id);
		free(j->s->internet_message_id);
		free(j->s->conversation_id);
		j->s->draft_id = strdup(msg.id);
		j->s->internet_message_id = strdup(msg.internet_message_id);
		j->s->conversation_id = strdup(msg.conversation_id);
		j->fresh = 1;
		if (j->stage == ST_REPLY) {
			j->stage = ST_PATCH;
			enqueue(sd, j);
		} else
			queue_sending(sd, j);
		return;
	case ST_PATCH:
		queue_sending(sd, j);
		return;
	case ST_SEND:
		if (j->reconcile)
			sd->st->reconciled++;
		finish_mark(sd, j, MARK_SENT, clock_now(), NULL);
		return;
	case ST_LOOKUP:
		if (graph_msg_parse(r, &msg) == 1 && msg.is_draft == 0) {
			sd->st->reconciled++;
			note(sd, LOG_NOTICE, "step %lld: reconciled: it was sent", j->s->id);
			finish_mark(sd, j, MARK_SENT, sent_time(&msg), NULL);
		} else {
			/* still a draft: it was never sent; send it now */
			j->stage = ST_SEND;
			enqueue(sd, j);
		}
		return;
	case ST_FIND:
		found = graph_msg_parse(r, &msg);
		if (found == 1) {
			sd->st->reconciled++;
			note(sd, LOG_NOTICE, "step %lld: reconciled: found in Sent Items", j->s->id);
			finish_mark(sd, j, MARK_SENT, sent_time(&msg), NULL);
		} else if (clock_now() - j->s->draft_created >= sd->o->grace) {
			note(sd, LOG_ERR, "step %lld: outcome unknown after %d s: needs review",
			    j->s->id, sd->o->grace);
			finish_mark(sd, j, MARK_REVIEW, 0, "draft gone and not in Sent Items");
		} else
			finish_mark(sd, j, MARK_UNKNOWN, 0, "not in Sent Items yet");
		return;
	case ST_SWEEP:
		if (graph_msg_parse(r, &msg) == 1 && msg.id[0] != '\0' && j->sweeps < 10) {
			free(j->orphan);
			if ((j->orphan = strdup(msg.id)) != NULL) {
				j->stage = ST_SWEEP_DEL;
				enqueue(sd, j);
				return;
			}
		}
		sweep_done(sd, j);
		return;
	case ST_SWEEP_DEL:
		j->sweeps++;
		note(sd, LOG_NOTICE, "step %lld: deleted a draft an earlier try left", j->s->id);
		j->stage = ST_SWEEP;
		enqueue(sd, j);
		return;
	case ST_DISCARD:	/* answered by discarded() */
		return;
	}
}

/*
 * The mailbox refused us for good. Its claimed steps are given back by
 * give_back(), from the main loop: this may run inside a callback.
 */
static void
mbox_down(struct sender *sd, struct mbox *mb, const char *why)
{
	if (mb->down)
		return;
	mb->down = 1;
	mb->why = strdup(why);
	mb->down_next = sd->down;
	sd->down = mb;
}

static int
give_back(struct sender *sd)
{
	struct mbox *mb;

	while ((mb = sd->down) != NULL) {
		sd->down = mb->down_next;
		note(sd, LOG_ERR, "mailbox %lld: must be connected again: %s", mb->id,
		    mb->why ? mb->why : "refused");
		if (steps_mailbox_down(sd->e, sd->db, sd->worker, clock_now(), mb->id,
		    mb->why ? mb->why : "refused") == -1)
			return -1;
		mb->released = 1;
	}
	return 0;
}

static void
start_discard(struct sender *sd, struct job *j)
{
	const char *tok = NULL;
	struct derr e;

	if (!j->mb->down)
		tok = mbox_token(sd, j->mb, 0);
	if (tok == NULL) {
		draft_left(sd, j, "no access token");
		return;
	}
	j->gen = j->mb->gen;
	if (graph_delete_message(sd->g, &e, tok, j->s->draft_id, answered, j) == -1) {
		draft_left(sd, j, e.msg);
		return;
	}
	j->mb->inflight++;
	sd->inflight++;
}

static void
start(struct sender *sd, struct job *j)
{
	const char *tok = NULL;
	char stepid[32], tag[32 + CRYPT_NAME_LEN];
	struct graph_mail mail = { 0 };
	struct derr e;
	int rc = 0;

	if (j->stage == ST_DISCARD) {
		start_discard(sd, j);
		return;
	}
	if (!j->mb->down)
		tok = mbox_token(sd, j->mb, 0);
	if (j->mb->down) {
		/* claimed steps went back with mailbox_down; a 'sending' one
		 * stays so, for a later run to reconcile */
		if (j->stage == ST_SEND || j->reconcile)
			finish_mark(sd, j, MARK_UNKNOWN, 0, "mailbox must be connected again");
		else
			drop_job(sd, j);
		return;
	}
	if (tok == NULL) {
		finish_mark(sd, j, j->stage == ST_SEND || j->reconcile ? MARK_UNKNOWN :
		    MARK_DEFERRED, retry_at(NULL, j->s->attempts), "no access token");
		return;
	}
	j->gen = j->mb->gen;
	snprintf(stepid, sizeof(stepid), "%lld", j->s->id);
	if (j->stage == ST_DRAFT || j->stage == ST_REPLY || j->stage == ST_SWEEP)
		snprintf(tag, sizeof(tag), "%lld.%s", j->s->id, sd->keyname);
	mail.subject = j->subject;
	mail.body = j->body;
	mail.html = j->html;
	mail.to = j->s->email;
	mail.step = stepid;
	switch (j->stage) {
	case ST_DRAFT:
		mail.tag = tag;
		rc = graph_create_draft(sd->g, &e, tok, &mail, answered, j);
		break;
	case ST_REPLY:
		mail.subject = mail.body = NULL;
		mail.tag = tag;
		rc = graph_create_reply(sd->g, &e, tok, j->s->reply_to, &mail, answered, j);
		break;
	case ST_SWEEP:
		rc = graph_find_drafts(sd->g, &e, tok, tag, answered, j);
		break;
	case ST_SWEEP_DEL:
		rc = graph_delete_message(sd->g, &e, tok, j->orphan, answered, j);
		break;
	case ST_PATCH:
		mail.to = NULL;
		mail.step = NULL;
		rc = graph_patch_message(sd->g, &e, tok, j->s->draft_id, &mail, answered, j);
		break;
	case ST_SEND:
		rc = graph_send(sd->g, &e, tok, j->s->draft_id, answered, j);
		break;
	case ST_LOOKUP:
		rc = graph_get_message(sd->g, &e, tok, j->s->draft_id,
		    "id,isDraft,sentDateTime,internetMessageId", answered, j);
		break;
	case ST_FIND:
		rc = graph_find_sent(sd->g, &e, tok, j->s->internet_message_id, answered, j);
		break;
	case ST_DISCARD:	/* started by start_discard() */
		return;
	}
	if (rc == -1 && (j->stage == ST_SWEEP || j->stage == ST_SWEEP_DEL)) {
		sweep_skipped(sd, j, e.msg);
		return;
	}
	if (rc == -1) {
		note(sd, LOG_ERR, "step %lld: %s", j->s->id, e.msg);
		finish_mark(sd, j, j->stage == ST_SEND || j->reconcile ? MARK_UNKNOWN :
		    MARK_FAILED, 0, e.msg);
		return;
	}
	j->mb->inflight++;
	sd->inflight++;
}

/* Start queued work, round robin over mailboxes, within both limits. */
static void
pump(struct sender *sd)
{
	struct mbox *mb;
	struct job *j;
	size_t rounds = 0;

	sd->pumping = 1;
	while (sd->inflight < (size_t)sd->o->concurrency && (mb = sd->ready_head) != NULL) {
		sd->ready_head = mb->rnext;
		if (sd->ready_head == NULL)
			sd->ready_tail = NULL;
		mb->ready = 0;
		if (mb->inflight >= sd->o->per_mailbox || mb->head == NULL) {
			if (++rounds > 100000)
				break;
			continue;	/* re-queued when an answer comes */
		}
		if (mb->refresh && !mb->down) {
			mb->refresh = 0;
			if (mbox_token(sd, mb, 1) == NULL && mb->down)
				mbox_down(sd, mb, "the token could not be refreshed");
		}
		j = mb->head;
		mb->head = j->next;
		if (mb->head == NULL)
			mb->tail = NULL;
		sd->queued--;
		start(sd, j);
		mbox_ready(sd, mb);
	}
	sd->pumping = 0;
}

/* ---- preparing a claimed batch ---- */

/*
 * A step's subject and body for its prospect. The HTML body goes when
 * there is one (Graph carries one body per message), else the text.
 */
static int
render_step(struct derr *e, const struct step *s, char **subject, char **body,
    int *html)
{
	struct tmpl_vars v = {
		.email = s->email, .first_name = s->first_name, .last_name = s->last_name,
		.company = s->company, .title = s->title, .sender_name = s->sender_name,
		.sender_email = s->sender_email, .fields = s->fields,
	};

	*html = s->body_html != NULL;
	*body = NULL;
	if ((*subject = tmpl_render(e, s->subject, TMPL_SUBJECT, tmpl_vars_lookup, &v)) == NULL)
		return -1;
	if ((*body = tmpl_render(e, *html ? s->body_html : s->body_text,
	    *html ? TMPL_HTML : TMPL_TEXT, tmpl_vars_lookup, &v)) == NULL) {
		free(*subject);
		*subject = NULL;
		return -1;
	}
	return 0;
}

static int
render(struct sender *sd, struct job *j)
{
	struct derr e;

	if (render_step(&e, j->s, &j->subject, &j->body, &j->html) == -1) {
		note(sd, LOG_ERR, "step %lld: not sent: %s", j->s->id, e.msg);
		finish_mark(sd, j, MARK_FAILED, 0, e.msg);
		return -1;
	}
	return 0;
}

/*
 * Which of these addresses their customers have suppressed: one query for
 * the batch, sent here and read by suppressed_hits. The keys an address
 * is suppressed under (itself, its domain and every parent domain) are
 * made here (suppress_keys), so the join is plain index probes on
 * (customer_id, value).
 */
static int
suppressed_send(struct derr *e, PGconn *db, const struct step *v, size_t n)
{
	const char **cust = reallocarray(NULL, n ? n : 1, sizeof(*cust));
	char **keys = calloc(n ? n : 1, sizeof(*keys));
	long long *ids = reallocarray(NULL, n ? n : 1, sizeof(*ids));
	const char *p[3] = { NULL };
	char buf[SUPPRESS_KEYS_MAX];
	size_t i;
	int rc = -1;

	if (cust == NULL || keys == NULL || ids == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		cust[i] = v[i].customer_id;
		ids[i] = v[i].id;
		if (suppress_keys(v[i].email, buf, sizeof(buf)) == -1)
			strlcpy(buf, "{}", sizeof(buf));
		if ((keys[i] = strdup(buf)) == NULL)
			goto oom;
	}
	p[0] = pgarray_ids(ids, n);
	p[1] = pgarray_text(cust, n);
	p[2] = pgarray_text((const char *const *)keys, n);
	if (p[0] == NULL || p[1] == NULL || p[2] == NULL)
		goto oom;
	rc = db_send(e, db,
	    "SELECT DISTINCT x.id"
	    "  FROM unnest($1::bigint[], $2::text[], $3::text[]) AS x(id, customer, keys)"
	    " CROSS JOIN LATERAL unnest(x.keys::text[]) AS k(value)"
	    "  JOIN drip.suppression_entry s"
	    "    ON s.customer_id = x.customer AND s.value = k.value", 3, p);
	goto out;
oom:
	derr_set(e, EX_OSERR, "out of memory");
out:
	free((void *)p[0]); free((void *)p[1]); free((void *)p[2]);
	for (i = 0; keys != NULL && i < n; i++)
		free(keys[i]);
	free(cust); free(keys); free(ids);
	return rc;
}

static void
suppressed_hits(const PGresult *r, const struct step *v, size_t n, char *hit)
{
	size_t i;
	int row;

	memset(hit, 0, n);
	for (row = 0; row < PQntuples(r); row++) {
		long long id = strtoll(PQgetvalue(r, row, 0), NULL, 10);

		for (i = 0; i < n; i++)
			if (v[i].id == id)
				hit[i] = 1;
	}
}

/*
 * The tokens of the batch's mailboxes that have none yet, in one
 * statement; those it cannot give are fetched one by one when needed
 * (mbox_token), which refreshes them or says why not.
 */
static int
prefetch_tokens(struct sender *sd, const struct batch *b)
{
	long long *ids;
	struct mbox **mbs;
	char **toks;
	size_t i, k, n = 0;
	int rc = -1;

	ids = reallocarray(NULL, b->n, sizeof(*ids));
	mbs = reallocarray(NULL, b->n, sizeof(*mbs));
	toks = reallocarray(NULL, b->n, sizeof(*toks));
	if (ids == NULL || mbs == NULL || toks == NULL) {
		derr_set(sd->e, EX_OSERR, "out of memory");
		goto out;
	}
	for (i = 0; i < b->n; i++) {
		struct mbox *mb = b->jobs[i].mb;

		if (mb == NULL || mb->token != NULL || mb->down)
			continue;
		for (k = 0; k < n && mbs[k] != mb; k++)
			;
		if (k == n) {
			mbs[n] = mb;
			ids[n++] = mb->id;
		}
	}
	if (identity_fresh_tokens(sd->e, sd->db, &sd->key, ids, n, toks) == -1)
		goto out;
	for (k = 0; k < n; k++)
		if (toks[k] != NULL) {
			mbs[k]->token = toks[k];
			mbs[k]->gen++;
		}
	rc = 0;
out:
	free(ids); free(mbs); free(toks);
	return rc;
}

/* Claimed steps become jobs; hit[i]: steps[i]'s address is suppressed. */
static int
take(struct sender *sd, struct step *steps, size_t n, int reconcile,
    const char *hit)
{
	struct batch *b;
	size_t i;

	if (n == 0) {
		free(steps);
		return 0;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->jobs = calloc(n, sizeof(*b->jobs))) == NULL) {
		if (b != NULL)
			free(b->jobs);
		free(b);
		steps_free(steps, n);
		return derr_set(sd->e, EX_OSERR, "out of memory");
	}
	b->steps = steps;
	b->n = b->live = n;
	for (i = 0; i < n; i++) {
		struct job *j = &b->jobs[i];

		j->s = &steps[i];
		j->b = b;
		j->sd = sd;
		j->reconcile = reconcile;
		if ((j->mb = mbox_get(sd, j->s->identity_id)) == NULL)
			return derr_set(sd->e, EX_OSERR, "out of memory");
	}
	if (prefetch_tokens(sd, b) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		struct job *j = &b->jobs[i];

		if (hit != NULL && hit[i]) {
			note(sd, LOG_NOTICE, "step %lld: %s is suppressed: not sent",
			    j->s->id, j->s->email);
			finish_mark(sd, j, MARK_SUPPRESSED, 0, SUPPRESSED_REASON);
			continue;
		}
		if (reconcile) {
			j->stage = ST_LOOKUP;
			enqueue(sd, j);
			continue;
		}
		if (render(sd, j) == -1)
			continue;
		if (j->s->draft_id != NULL)	/* a draft from an earlier try */
			queue_sending(sd, j);
		else {
			j->stage = j->s->reply && j->s->reply_to != NULL ? ST_REPLY : ST_DRAFT;
			if (j->s->attempts > 0) {
				/* an earlier try may have made a draft whose answer
				 * was lost: look for it first */
				j->after_sweep = j->stage;
				j->stage = ST_SWEEP;
			}
			enqueue(sd, j);
		}
	}
	return 0;
}

/* ---- committing ---- */

/*
 * Drafts are committed as 'sending' on their own connection, one batch at
 * a time, without waiting: requests go on meanwhile, and a draft is sent
 * only once collect_sending has seen its commit.
 */
static int
collect_sending(struct sender *sd, int wait)
{
	char *outcome;
	size_t i, n = sd->ncommitting;
	int r;

	if (!sd->committing_on)
		return 0;
	if ((outcome = malloc(n ? n : 1)) == NULL)
		return derr_set(sd->e, EX_OSERR, "out of memory");
	r = steps_mark_sending_poll(sd->e, sd->sdb, wait,
	    (struct step *const *)sd->committing_s, n, outcome);
	if (r <= 0) {
		free(outcome);
		return r;
	}
	if (graph_watch(sd->g, sd->e, PQsocket(sd->sdb), 0) == -1) {
		free(outcome);
		return -1;
	}
	sd->committing_on = 0;
	sd->ncommitting = 0;
	for (i = 0; i < n; i++) {
		struct job *j = sd->committing[i];

		switch (outcome[i]) {
		case 's':
			j->fresh = 0;
			j->stage = ST_SEND;
			enqueue(sd, j);
			break;
		case 'k':
			note(sd, LOG_NOTICE, "step %lld: skipped: prospect no longer active",
			    j->s->id);
			sd->st->skipped++;
			/* never to be sent, whichever try made it */
			j->fresh = 1;
			drop_job(sd, j);
			break;
		default:	/* released (paused) or no longer ours */
			drop_job(sd, j);
			break;
		}
	}
	free(outcome);
	return 0;
}

/* Start committing the drafts waiting, if the last batch was collected. */
static int
flush_sending(struct sender *sd)
{
	size_t i, n = sd->nsending;
	struct job **tmp;

	if (n == 0 || sd->committing_on)
		return 0;
	if (grow((void **)&sd->committing_s, &sd->capcommitting_s, n,
	    sizeof(*sd->committing_s)) == -1)
		return derr_set(sd->e, EX_OSERR, "out of memory");
	/* the batch goes; its array comes back empty for new drafts */
	tmp = sd->committing;
	sd->committing = sd->sending;
	sd->sending = tmp;
	i = sd->capcommitting;
	sd->capcommitting = sd->capsending;
	sd->capsending = i;
	sd->ncommitting = n;
	sd->nsending = 0;
	for (i = 0; i < n; i++)
		sd->committing_s[i] = sd->committing[i]->s;
	if (steps_mark_sending_start(sd->e, sd->sdb, sd->worker, clock_now(),
	    (struct step *const *)sd->committing_s, n) == -1 ||
	    graph_watch(sd->g, sd->e, PQsocket(sd->sdb), 1) == -1)
		return -1;
	sd->committing_on = 1;
	return 0;
}

static int
flush_all_sending(struct sender *sd)
{
	while (sd->committing_on || sd->nsending > 0) {
		if (collect_sending(sd, 1) == -1 || flush_sending(sd) == -1)
			return -1;
	}
	return 0;
}

/*
 * The final state changes (sent, deferred, stopped, ...) are committed on
 * a second connection, one batch at a time, without waiting: the server
 * works on them while the requests go on. They only ever follow a commit
 * made on the first connection ('sending' before a send), never precede
 * one, so the exactly-once argument is unchanged.
 */
static void
count_marks(struct sender *sd, enum step_mark w, size_t done)
{
	switch (w) {
	case MARK_SENT:		sd->st->sent += (long)done; break;
	case MARK_DEFERRED:	sd->st->deferred += (long)done; break;
	case MARK_FAILED:	sd->st->failed += (long)done; break;
	case MARK_SUPPRESSED:	sd->st->suppressed += (long)done; break;
	case MARK_BOUNCED:	sd->st->bounced += (long)done; break;
	case MARK_REVIEW:	sd->st->review += (long)done; break;
	case MARK_UNKNOWN:
	case MARK_RELEASED:	break;
	}
}

static int
collect_marks(struct sender *sd, int wait)
{
	size_t i, done;
	int r;

	if (!sd->busy_on)
		return 0;
	if ((r = steps_mark_poll(sd->e, sd->mdb, wait, &done)) <= 0)
		return r;
	if (graph_watch(sd->g, sd->e, PQsocket(sd->mdb), 0) == -1)
		return -1;
	count_marks(sd, sd->busy_kind, done);
	for (i = 0; i < sd->busy.n; i++)
		free(sd->busy.reasons[i]);
	sd->busy.n = 0;
	sd->busy_on = 0;
	return 0;
}

/* Start committing the next kind of marks, if the last batch is done. */
static int
flush_marks(struct sender *sd, int wait)
{
	enum step_mark w;
	struct marks tmp;

	do {
		if (collect_marks(sd, wait) == -1)
			return -1;
		if (sd->busy_on)
			return 0;
		for (w = 0; w <= MARK_RELEASED && sd->m[w].n == 0; w++)
			;
		if (w > MARK_RELEASED)
			return 0;
		/* the batch goes; its arrays come back empty for new marks */
		tmp = sd->busy;
		sd->busy = sd->m[w];
		sd->m[w] = tmp;
		sd->busy_kind = w;
		if (nmarks(sd) > 0)
			sd->marks_since = mono();
		if (steps_mark_start(sd->e, sd->mdb, w, sd->worker, clock_now(),
		    sd->busy.ids, sd->busy.times, (const char *const *)sd->busy.reasons,
		    sd->busy.n) == -1 ||
		    graph_watch(sd->g, sd->e, PQsocket(sd->mdb), 1) == -1)
			return -1;
		sd->busy_on = 1;
	} while (wait);
	return 0;
}

static int
flush_all_marks(struct sender *sd)
{
	while (sd->busy_on || nmarks(sd) > 0)
		if (flush_marks(sd, 1) == -1)
			return -1;
	return 0;
}

/* ---- the run ---- */

static void
worker_name(char *buf, size_t len)
{
	char host[64];
	unsigned int r;

	if (gethostname(host, sizeof(host)) == -1)
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	r = arc4random();
	snprintf(buf, len, "%s/%ld/%08x", host, (long)getpid(), r);
}

/*
 * The claim runs on its own connection without waiting, one statement
 * after another: release expired leases, claim (committed when it
 * answers), load the steps, check their addresses against suppression;
 * the requests in flight go on meanwhile.
 */
static int
claim_start(struct sender *sd, int reconcile)
{
	if (steps_release_send(sd->e, sd->cdb, clock_now()) == -1 ||
	    graph_watch(sd->g, sd->e, PQsocket(sd->cdb), 1) == -1)
		return -1;
	sd->cl.stage = CL_RELEASE;
	sd->cl.reconcile = reconcile;
	return 0;
}

static int
claim_over(struct sender *sd, const char *hit, size_t *got)
{
	struct step *steps = sd->cl.steps;
	size_t n = sd->cl.n;

	sd->cl.stage = CL_IDLE;
	sd->cl.steps = NULL;
	sd->cl.n = 0;
	*got = n;
	if (!sd->cl.reconcile)
		sd->st->claimed += (long)n;
	if (graph_watch(sd->g, sd->e, PQsocket(sd->cdb), 0) == -1) {
		steps_free(steps, n);
		return -1;
	}
	return take(sd, steps, n, sd->cl.reconcile, hit) == -1 ? -1 : 1;
}

/* 1 and *got (steps taken) when the claim is over, 0 meanwhile, -1 */
static int
claim_poll(struct sender *sd, size_t *got)
{
	PGresult *r;
	char *hit;
	int a, rc;

	while ((a = db_answer(sd->e, sd->cdb, 0, &r)) == 1) {
		switch (sd->cl.stage) {
		case CL_RELEASE:
			PQclear(r);
			if (steps_claim_send(sd->e, sd->cdb, sd->cl.reconcile, sd->worker,
			    clock_now(), sd->o->batch, sd->o->lease) == -1)
				return -1;
			sd->cl.stage = CL_CLAIM;
			break;
		case CL_CLAIM:
			if (PQntuples(r) == 0) {
				PQclear(r);
				return claim_over(sd, NULL, got);
			}
			rc = steps_load_send(sd->e, sd->cdb, r);
			PQclear(r);
			if (rc == -1)
				return -1;
			sd->cl.stage = CL_LOAD;
			break;
		case CL_LOAD:
			rc = steps_load_rows(sd->e, r, &sd->cl.steps, &sd->cl.n);
			PQclear(r);
			if (rc == -1)
				return -1;
			if (sd->cl.reconcile || sd->cl.n == 0)
				return claim_over(sd, NULL, got);
			if (suppressed_send(sd->e, sd->cdb, sd->cl.steps, sd->cl.n) == -1)
				return -1;
			sd->cl.stage = CL_SUPPRESSED;
			break;
		default:	/* CL_SUPPRESSED */
			if ((hit = calloc(sd->cl.n, 1)) == NULL) {
				PQclear(r);
				return derr_set(sd->e, EX_OSERR, "out of memory");
			}
			suppressed_hits(r, sd->cl.steps, sd->cl.n, hit);
			PQclear(r);
			rc = claim_over(sd, hit, got);
			free(hit);
			return rc;
		}
	}
	return a;
}

static void
release_queued(struct sender *sd)
{
	struct mbox *mb;
	struct job *j, *next;
	size_t i;

	for (i = 0; i < NBUCKET; i++)
		for (mb = sd->bucket[i]; mb != NULL; mb = mb->next) {
			j = mb->head;
			mb->head = mb->tail = NULL;
			for (; j != NULL; j = next) {
				next = j->next;
				sd->queued--;
				/* drafts are still deleted; reconcile jobs
				 * stay 'sending'; others go back */
				if (j->stage == ST_DISCARD)
					enqueue(sd, j);
				else
					finish_mark(sd, j, j->reconcile || j->stage == ST_SEND ?
					    MARK_UNKNOWN : MARK_RELEASED, 0, "run over");
			}
		}
	for (i = 0; i < sd->nsending; i++)
		finish_mark(sd, sd->sending[i], MARK_RELEASED, 0, "run over");
	sd->nsending = 0;
}

static void
sender_free(struct sender *sd)
{
	struct mbox *mb, *next;
	size_t i;

	for (i = 0; i < NBUCKET; i++)
		for (mb = sd->bucket[i]; mb != NULL; mb = next) {
			next = mb->next;
			secret_free(mb->token);
			free(mb->why);
			free(mb);
		}
	for (i = 0; i <= MARK_RELEASED; i++) {
		free(sd->m[i].ids);
		free(sd->m[i].times);
		free(sd->m[i].reasons);
	}
	for (i = 0; i < sd->busy.n; i++)
		free(sd->busy.reasons[i]);
	free(sd->busy.ids);
	free(sd->busy.times);
	free(sd->busy.reasons);
	PQfinish(sd->mdb);
	PQfinish(sd->sdb);
	PQfinish(sd->cdb);
	steps_free(sd->cl.steps, sd->cl.n);
	free(sd->sending);
	free(sd->committing);
	free(sd->committing_s);
	crypt_key_wipe(&sd->key);
	graph_free(sd->g);
	PQfinish(sd->db);
}

int
send_due(struct derr *e, const struct send_opts *o, struct send_stats *st)
{
	struct sender sd = { .o = o, .st = st, .e = e };
	time_t start_t = time(NULL), deadline = start_t + o->max_seconds;
	struct graph_opts go = { .max_attempts = 3, .max_retry_wait = 5,
	    .max_host_connections = o->concurrency };
	int more = 1, reconcile = 1, stopping = 0, rc = -1, r;
	size_t got;

	memset(st, 0, sizeof(*st));
	if (o->worker != NULL)
		strlcpy(sd.worker, o->worker, sizeof(sd.worker));
	else
		worker_name(sd.worker, sizeof(sd.worker));
	if ((sd.db = db_open(e, o->conninfo)) == NULL)
		return -1;
	if ((sd.mdb = db_open(e, o->conninfo)) == NULL ||
	    (sd.sdb = db_open(e, o->conninfo)) == NULL ||
	    (sd.cdb = db_open(e, o->conninfo)) == NULL) {
		PQfinish(sd.sdb);
		PQfinish(sd.mdb);
		PQfinish(sd.db);
		return -1;
	}
	if (crypt_key_load(e, o->key_file, &sd.key) == -1 ||
	    (sd.g = graph_new(e, &go)) == NULL)
		goto out;
	if (crypt_key_name(&sd.key, sd.keyname) == -1) {
		derr_set(e, EX_SOFTWARE, "naming the key: SHA-256 failed");
		goto out;
	}
	while (!sd.failed) {
		int time_left = time(NULL) < deadline;
		double now;
		int dry;

		if (!stopping && o->stop != NULL && *o->stop) {
			stopping = 1;
			note(&sd, LOG_NOTICE, "asked to stop: finishing the requests under way");
		}
		if (stopping)
			time_left = 0;

		/*
		 * A whole batch as soon as fewer steps wait than can be
		 * in flight, so the requests never wait for a claim.
		 */
		if (time_left && (more || reconcile) && sd.queued < (size_t)o->concurrency &&
		    sd.cl.stage == CL_IDLE && claim_start(&sd, reconcile) == -1)
			goto out;
		if (sd.cl.stage != CL_IDLE) {
			if ((r = claim_poll(&sd, &got)) == -1)
				goto out;
			if (r == 1 && reconcile && got == 0)
				reconcile = 0;
			else if (r == 1 && !reconcile)
				more = got > 0;
		}
		if (!time_left)
			release_queued(&sd);
		pump(&sd);
		/*
		 * Commits go in batches: drafts as soon as the requests in
		 * flight run low or FLUSH_SENDING_S has passed (their sends
		 * wait for that commit), the other state changes by count
		 * or age. Nothing in flight: everything, now.
		 */
		now = mono();
		dry = sd.inflight < (size_t)(o->concurrency + 1) / 2;
		if (give_back(&sd) == -1)
			goto out;
		if (collect_sending(&sd, 0) == -1)
			goto out;
		if (sd.nsending > 0 && (dry || sd.nsending >= (size_t)o->concurrency / 2 ||
		    now - sd.sending_since >= FLUSH_SENDING_S) && flush_sending(&sd) == -1)
			goto out;
		if (collect_marks(&sd, 0) == -1)
			goto out;
		if (nmarks(&sd) > 0 && (sd.inflight == 0 || !time_left ||
		    nmarks(&sd) >= FLUSH_MARKS || now - sd.marks_since >= FLUSH_MARKS_S) &&
		    flush_marks(&sd, sd.inflight == 0) == -1)
			goto out;
		pump(&sd);
		if (sd.inflight == 0 && sd.queued == 0 && sd.nsending == 0 &&
		    !sd.committing_on && sd.cl.stage == CL_IDLE &&
		    (!time_left || (!more && !reconcile)))
			break;
		if (sd.inflight > 0 || sd.committing_on || sd.busy_on ||
		    sd.cl.stage != CL_IDLE)
			graph_run(sd.g, 5);
	}
	if (give_back(&sd) == 0 && flush_all_sending(&sd) == 0 &&
	    flush_all_marks(&sd) == 0 && !sd.failed)
		rc = 0;
out:
	st->seconds = difftime(time(NULL), start_t);
	sender_free(&sd);
	return rc;
}

/* --dry-run: what a run would claim now, rendered; nothing is written. */
static json_object *
dry_json(const struct step *s, int supp)
{
	json_object *o = json_object_new_object();
	char *subject, *body;
	struct derr e;
	int html;

	json_object_object_add(o, "step_id", json_object_new_int64(s->id));
	json_object_object_add(o, "campaign_id", json_object_new_int64(s->campaign_id));
	json_object_object_add(o, "prospect_id", json_object_new_int64(s->prospect_id));
	json_object_object_add(o, "identity_id", json_object_new_int64(s->identity_id));
	json_object_object_add(o, "step", json_object_new_int(s->step));
	json_object_object_add(o, "from", json_object_new_string(s->sender_email));
	json_object_object_add(o, "to", json_object_new_string(s->email));
	json_object_object_add(o, "thread", json_object_new_string(
	    s->reply && s->reply_to != NULL ? "reply" : "new"));
	json_object_object_add(o, "suppressed", json_object_new_boolean(supp));
	if (render_step(&e, s, &subject, &body, &html) == -1) {
		json_object_object_add(o, "error", json_object_new_string(e.msg));
		return o;
	}
	json_object_object_add(o, "subject", json_object_new_string(subject));
	json_object_object_add(o, "body_type", json_object_new_string(html ? "html" : "text"));
	json_object_object_add(o, "body", json_object_new_string(body));
	free(subject);
	free(body);
	return o;
}

int
send_due_dry_run(struct derr *e, const struct send_opts *o,
    int (*emit)(void *, json_object *), void *arg)
{
	struct step *steps = NULL;
	PGconn *db;
	char *hit = NULL;
	size_t i, n = 0;
	int rc = -1;

	if ((db = db_open(e, o->conninfo)) == NULL)
		return -1;
	if (steps_peek(e, db, clock_now(), o->batch, &steps, &n) == -1)
		goto out;
	if ((hit = calloc(n ? n : 1, 1)) == NULL) {
		derr_set(e, EX_OSERR, "out of memory");
		goto out;
	}
	if (n > 0) {
		PGresult *r;

		if (suppressed_send(e, db, steps, n) == -1 || db_answer(e, db, 1, &r) == -1)
			goto out;
		suppressed_hits(r, steps, n, hit);
		PQclear(r);
	}
	for (i = 0; i < n; i++) {
		json_object *j = dry_json(&steps[i], hit[i]);

		rc = emit(arg, j);
		json_object_put(j);
		if (rc != 0)
			break;
	}
	rc = 0;
out:
	free(hit);
	steps_free(steps, n);
	PQfinish(db);
	return rc;
}
