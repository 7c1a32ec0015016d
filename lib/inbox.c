/*
 * inbox.c: inbox-sync's engine. For each connected mailbox, read what is
 * new in its Inbox with Graph's delta query, classify each message
 * (classify.c) and record what it does to the campaign
 * (drip.inbound_record, 006_inbox.sql).
 *
 * Several hosts may run at once. A mailbox is claimed with a lease in one
 * short statement (FOR UPDATE SKIP LOCKED), never in a transaction held
 * across HTTP. Each page of the delta is then committed in one
 * transaction together with the link that follows it, after checking
 * that the claim is still ours: a run that dies resumes at the last page
 * committed, and one whose lease ran out and was taken over commits
 * nothing. A message read twice all the same (a resync, a crash between
 * Graph and the commit) is recorded once: its event is unique per
 * mailbox and message, and only a new event changes anything.
 *
 * Leases and the time a mailbox was read are the database's clock, not
 * the host's (nor DRIP_NOW): they are compared across hosts, whose clocks
 * differ, and they schedule nothing.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "drip.h"

/* What a page needs of each message; Graph sends nothing else. */
#define DELTA_SELECT "subject,from,receivedDateTime,internetMessageId," \
	"conversationId,internetMessageHeaders,body"
#define MAX_RESTARTS	2	/* resyncs of one mailbox in one run */
#define HEADERS_MAX	256

struct inboxer {
	const struct inbox_opts *o;
	struct inbox_stats *st;
	struct derr	*e;
	PGconn		*db;
	struct graph	*g;
	struct crypt_key key;
	char		 worker[128];
	char		 start[64];	/* the database's time when the run began */
	long long	*done;		/* mailboxes this run has claimed */
	size_t		 ndone;
	struct classify_opts words;
};

/* The mailbox being read. */
struct mailbox {
	long long	 id;
	char		 customer[256];
	char		 email[EMAIL_MAX + 1];
	char		*link;		/* where to read next; NULL: from the start */
	int		 done;		/* reached the delta link: up to date */
};

static void
note(struct inboxer *ib, int prio, const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	if (ib->o->note == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ib->o->note(ib->o->note_arg, prio, line);
}

static void
worker_name(char *buf, size_t len)
{
	char host[64];

	if (gethostname(host, sizeof(host)) == -1)
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, len, "%s/%ld/%08x", host, (long)getpid(), arc4random());
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
worse(struct inbox_stats *st, int code)
{
	/* a mailbox to connect again outweighs a service that was away */
	if (st->code == 0 || code == EX_NOPERM)
		st->code = code;
}

/* --- claims ------------------------------------------------------------- */

/*
 * The next mailbox to read, least recently read first, leased to this
 * worker: 1 claimed, 0 none left. A mailbox is read once a run, and not
 * at all when another run has read it since this one began.
 */
static int
claim(struct inboxer *ib, struct mailbox *mb)
{
	char lease[16], id[24], *done;
	const char *p[6];
	long long *nd;
	PGresult *r;
	int got;

	memset(mb, 0, sizeof(*mb));
	if ((done = pgarray_ids(ib->done, ib->ndone)) == NULL)
		return derr_set(ib->e, EX_OSERR, "out of memory");
	snprintf(lease, sizeof(lease), "%d", ib->o->lease);
	snprintf(id, sizeof(id), "%lld", ib->o->identity);
	p[0] = ib->worker;
	p[1] = ib->start;
	p[2] = lease;
	p[3] = ib->o->identity > 0 ? id : NULL;
	p[4] = ib->o->customer;
	p[5] = done;
	r = db_exec(ib->e, ib->db,
	    "UPDATE drip.email_identity i"
	    "   SET sync_claimed_by = $1,"
	    "       sync_lease_until = now() + make_interval(secs => $3::int)"
	    " WHERE i.id = (SELECT c.id FROM drip.email_identity c"
	    "                WHERE c.status = 'connected'"
	    "                  AND (c.sync_lease_until IS NULL OR c.sync_lease_until < now())"
	    "                  AND (c.last_synced_at IS NULL OR c.last_synced_at < $2::timestamptz)"
	    "                  AND ($4::bigint IS NULL OR c.id = $4)"
	    "                  AND ($5::text IS NULL OR c.customer_id = $5)"
	    "                  AND c.id <> ALL ($6::bigint[])"
	    "                ORDER BY c.last_synced_at NULLS FIRST, c.id"
	    "                LIMIT 1"
	    "                FOR UPDATE SKIP LOCKED)"
	    " RETURNING i.id, i.customer_id, i.email, i.delta_link", 6, p);
	free(done);
	if (r == NULL)
		return -1;
	if ((got = PQntuples(r) == 1)) {
		mb->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		if ((nd = reallocarray(ib->done, ib->ndone + 1, sizeof(*nd))) == NULL) {
			PQclear(r);
			return derr_set(ib->e, EX_OSERR, "out of memory");
		}
		ib->done = nd;
		ib->done[ib->ndone++] = mb->id;
		strlcpy(mb->customer, PQgetvalue(r, 0, 1), sizeof(mb->customer));
		strlcpy(mb->email, PQgetvalue(r, 0, 2), sizeof(mb->email));
		if (!PQgetisnull(r, 0, 3) && (mb->link = strdup(PQgetvalue(r, 0, 3))) == NULL) {
			PQclear(r);
			return derr_set(ib->e, EX_OSERR, "out of memory");
		}
	}
	PQclear(r);
	return got;
}

static int
run_start(struct inboxer *ib)
{
	PGresult *r;

	if ((r = db_exec(ib->e, ib->db, "SELECT now()::text", 0, NULL)) == NULL)
		return -1;
	strlcpy(ib->start, PQgetvalue(r, 0, 0), sizeof(ib->start));
	PQclear(r);
	return 0;
}

/* Give the mailbox up (if it is still ours), up to date or not. */
static int
release(struct inboxer *ib, struct mailbox *mb)
{
	char id[24];
	const char *p[] = { id, ib->worker };

	snprintf(id, sizeof(id), "%lld", mb->id);
	return db_cmd(ib->e, ib->db, "UPDATE drip.email_identity"
	    " SET sync_claimed_by = NULL, sync_lease_until = NULL"
	    " WHERE id = $1 AND sync_claimed_by = $2", 2, p);
}

/* Why --identity found nothing to read. */
static int
explain_identity(struct inboxer *ib)
{
	char id[24];
	const char *p[] = { id };
	PGresult *r;
	int rc = 0;

	snprintf(id, sizeof(id), "%lld", ib->o->identity);
	if ((r = db_exec(ib->e, ib->db, "SELECT status, email, coalesce(sync_claimed_by, ''),"
	    " coalesce(drip.rfc3339(sync_lease_until), ''), sync_lease_until >= now()"
	    " FROM drip.email_identity WHERE id = $1", 1, p)) == NULL)
		return -1;
	if (PQntuples(r) != 1)
		rc = derr_set(ib->e, EX_NOINPUT, "identity %s: no such identity", id);
	else if (strcmp(PQgetvalue(r, 0, 0), "connected") != 0)
		rc = derr_set(ib->e, EX_NOPERM, "identity %s (%s): %s: connect it again "
		    "with outlook-auth", id, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 0));
	else if (strcmp(PQgetvalue(r, 0, 4), "t") == 0)
		note(ib, LOG_NOTICE, "identity %s (%s): being read by %s until %s", id,
		    PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3));
	else
		note(ib, LOG_INFO, "identity %s (%s): read by another run since this "
		    "one began", id, PQgetvalue(r, 0, 1));
	PQclear(r);
	return rc;
}

/* --- one message ---------------------------------------------------------- */

/*
 * A value from the message that PostgreSQL will take as text: valid
 * UTF-8, and short enough for an index (a btree entry holds some 2,700
 * bytes). What a sender put in a message must never stop the mailbox.
 */
static const char *
usable(const char *s, size_t max)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max || !utf8_valid(s, n))
		return NULL;
	return s;
}

/*
 * Classify one message of a delta page and record it (in the page's
 * transaction). Graph sends changes to messages too (read, flagged,
 * moved): those have no sender or body and classify as nothing.
 */
static int
one_message(struct inboxer *ib, const struct mailbox *mb, json_object *msg)
{
	struct inbound_header hdr[HEADERS_MAX];
	struct inbound_verdict v;
	struct inbound_msg m = { .mailbox = mb->email };
	json_object *hs, *h, *body, *detail;
	const char *kind, *inbound_id, *received, *outcome, *ctype, *p[11];
	char *refs, mailbox[24], received_now[RFC3339_LEN];
	const char *refv[INBOUND_REFS_MAX];
	PGresult *r;
	time_t when;
	size_t i, n;

	if (json_object_object_get_ex(msg, "@removed", NULL))
		return 0;
	ib->st->messages++;
	if (json_object_object_get_ex(msg, "from", &h) &&
	    json_object_object_get_ex(h, "emailAddress", &h)) {
		m.from = jstr(h, "address");
		m.from_name = jstr(h, "name");
	}
	m.subject = jstr(msg, "subject");
	if (json_object_object_get_ex(msg, "body", &body)) {
		m.body = jstr(body, "content");
		ctype = jstr(body, "contentType");
		m.body_html = ctype != NULL && strcasecmp(ctype, "html") == 0;
	}
	if (json_object_object_get_ex(msg, "internetMessageHeaders", &hs) &&
	    json_object_is_type(hs, json_type_array)) {
		n = json_object_array_length(hs);
		for (i = 0; i < n && m.nheaders < HEADERS_MAX; i++) {
			h = json_object_array_get_idx(hs, i);
			hdr[m.nheaders].name = jstr(h, "name");
			hdr[m.nheaders].value = jstr(h, "value");
			if (hdr[m.nheaders].name != NULL && hdr[m.nheaders].value != NULL)
				m.nheaders++;
		}
	}
	m.headers = hdr;
	if (inbound_classify(&m, &ib->words, &v) == -1)
		return derr_set(ib->e, EX_OSERR, "classify: out of memory");
	if (v.class == INBOUND_OTHER)
		return 0;

	if ((inbound_id = usable(jstr(msg, "internetMessageId"), 998)) == NULL &&
	    (inbound_id = usable(jstr(msg, "id"), 998)) == NULL) {
		note(ib, LOG_WARNING, "identity %lld: a message without a usable id: skipped",
		    mb->id);
		return 0;
	}
	if ((received = jstr(msg, "receivedDateTime")) == NULL ||
	    rfc3339_parse(received, &when) == -1) {
		rfc3339(received_now, clock_now());
		received = received_now;
	}
	m.from = usable(m.from, EMAIL_MAX);
	m.subject = usable(m.subject, JSTR_MAX);
	kind = inbound_class_name(v.class);
	for (i = 0; i < v.nrefs; i++)
		refv[i] = v.refs[i];
	if ((refs = pgarray_text(refv, v.nrefs)) == NULL)
		return derr_set(ib->e, EX_OSERR, "out of memory");
	detail = json_object_new_object();
	json_object_object_add(detail, "class", json_object_new_string(kind));
	json_object_object_add(detail, "from", m.from ? json_object_new_string(m.from) : NULL);
	json_object_object_add(detail, "subject", m.subject ? json_object_new_string(m.subject) : NULL);
	json_object_object_add(detail, "received_at", json_object_new_string(received));
	if (v.class == INBOUND_BOUNCE || v.class == INBOUND_DELAY)
		json_object_object_add(detail, "recipient", v.address[0] ?
		    json_object_new_string(v.address) : NULL);
	json_object_object_add(detail, "graph_id", usable(jstr(msg, "id"), 998) ?
	    json_object_new_string(jstr(msg, "id")) : NULL);
	snprintf(mailbox, sizeof(mailbox), "%lld", mb->id);
	p[0] = mailbox;
	p[1] = inbound_id;
	p[2] = kind;
	p[3] = refs;
	p[4] = usable(jstr(msg, "conversationId"), 998);
	p[5] = v.address[0] ? v.address : NULL;
	p[6] = received;
	p[7] = v.status[0] ? v.status : NULL;
	p[8] = v.reason[0] ? v.reason : NULL;
	p[9] = json_object_to_json_string_ext(detail, JSON_C_TO_STRING_PLAIN);
	p[10] = ib->o->stop_on_auto_reply ? "true" : "false";
	r = db_exec(ib->e, ib->db, "SELECT outcome, event_id, prospect_id FROM"
	    " drip.inbound_record($1, $2, $3, $4::text[], $5, $6, $7, $8, $9, $10::jsonb, $11)",
	    11, p);
	free(refs);
	json_object_put(detail);
	if (r == NULL)
		return -1;
	outcome = PQgetvalue(r, 0, 0);
	if (strcmp(outcome, "recorded") == 0) {
		switch (v.class) {
		case INBOUND_REPLY:	 ib->st->replied++; break;
		case INBOUND_AUTO_REPLY: ib->st->auto_replies++; break;
		case INBOUND_BOUNCE:	 ib->st->bounced++; break;
		case INBOUND_DELAY:	 ib->st->delayed++; break;
		case INBOUND_OPTOUT:	 ib->st->unsubscribed++; break;
		case INBOUND_OTHER:	 break;
		}
		note(ib, LOG_INFO, "identity %lld: %s (%s): prospect %s%s%s", mb->id, kind,
		    v.address[0] ? v.address : "?", PQgetvalue(r, 0, 2),
		    v.reason[0] ? ": " : "", v.reason);
	} else if (strcmp(outcome, "duplicate") == 0)
		ib->st->duplicates++;
	else
		ib->st->unmatched++;
	PQclear(r);
	return 0;
}

/* --- pages ------------------------------------------------------------------ */

struct delta_arg {
	const char	*link;
};

static int
delta_op(struct graph *g, struct derr *e, const char *token, void *arg,
    struct graph_resp *out)
{
	struct delta_arg *a = arg;

	return graph_delta_page(g, e, token, a->link, DELTA_SELECT, NULL, out);
}

/*
 * Commit a page: every message recorded, the next link stored, the lease
 * renewed, and, on the last page, the mailbox released as up to date; all
 * only while the claim is still ours (else 0: another worker has the
 * mailbox now, and nothing of the page is kept). The mailbox's row is
 * updated last, so it is locked for the commit only: send-due skips a
 * locked mailbox when it claims. 1: committed.
 */
static int
commit_page(struct inboxer *ib, struct mailbox *mb, json_object *value,
    const char *next, const char *delta)
{
	struct inbox_stats before = *ib->st;
	char id[24], lease[16];
	const char *p[5];
	PGresult *r;
	size_t i, n;
	int ours;

	snprintf(id, sizeof(id), "%lld", mb->id);
	snprintf(lease, sizeof(lease), "%d", ib->o->lease);
	p[0] = id;
	p[1] = ib->worker;
	p[2] = delta != NULL ? delta : next;
	p[3] = lease;
	p[4] = delta != NULL ? "t" : "f";
	if (db_begin(ib->e, ib->db) == -1)
		return -1;
	n = json_object_array_length(value);
	for (i = 0; i < n; i++)
		if (one_message(ib, mb, json_object_array_get_idx(value, i)) == -1)
			goto fail;
	r = db_exec(ib->e, ib->db, "UPDATE drip.email_identity SET delta_link = $3,"
	    " sync_lease_until = CASE WHEN $5::boolean THEN NULL"
	    "     ELSE now() + make_interval(secs => $4::int) END,"
	    " sync_claimed_by = CASE WHEN $5::boolean THEN NULL ELSE sync_claimed_by END,"
	    " last_synced_at = CASE WHEN $5::boolean THEN now() ELSE last_synced_at END"
	    " WHERE id = $1 AND sync_claimed_by = $2 RETURNING id", 5, p);
	if (r == NULL)
		goto fail;
	ours = PQntuples(r) == 1;
	PQclear(r);
	if (!ours) {
		db_rollback(ib->db);
		*ib->st = before;
		return 0;
	}
	if (db_commit(ib->e, ib->db) == -1)
		goto fail;
	return 1;
fail:
	db_rollback(ib->db);
	return -1;
}

/* A 410 from a delta link: Graph lost the state; read the folder again. */
static int
resync_needed(const struct graph_resp *r)
{
	return r->status == 410 || strcasecmp(r->code, "syncStateNotFound") == 0 ||
	    strcasecmp(r->code, "resyncRequired") == 0 ||
	    strcasecmp(r->code, "syncStateInvalid") == 0;
}

/*
 * Read the mailbox's Inbox from where it was left. -1 only for what stops
 * the whole run (the database); a mailbox's own trouble is noted and
 * counted, and the run goes on with the next.
 */
static int
read_mailbox(struct inboxer *ib, struct mailbox *mb, double deadline)
{
	struct graph_resp r;
	struct delta_arg a;
	struct derr e;
	json_object *value;
	const char *next, *delta;
	char *nl;
	int restarts = 0, rc;

	for (;;) {
		if (mono() >= deadline) {
			note(ib, LOG_NOTICE, "identity %lld (%s): time is up; the next run "
			    "goes on from here", mb->id, mb->email);
			return 0;
		}
		a.link = mb->link;
		if (identity_call(&e, ib->db, ib->g, &ib->key, mb->id, delta_op, &a, &r) == -1) {
			if (e.code == EX_DATAERR && mb->link != NULL && restarts < MAX_RESTARTS) {
				/* a link we must not follow (another Graph): start over */
				note(ib, LOG_WARNING, "identity %lld: %s: reading the inbox "
				    "from the start", mb->id, e.msg);
				free(mb->link);
				mb->link = NULL;
				restarts++;
				continue;
			}
			if (e.code == EX_TEMPFAIL && PQstatus(ib->db) != CONNECTION_OK) {
				*ib->e = e;
				return -1;
			}
			note(ib, LOG_ERR, "identity %lld (%s): %s", mb->id, mb->email, e.msg);
			ib->st->errors++;
			worse(ib->st, e.code);
			return 0;
		}
		if (r.class != GRAPH_OK) {
			if (resync_needed(&r) && mb->link != NULL && restarts < MAX_RESTARTS) {
				note(ib, LOG_NOTICE, "identity %lld (%s): delta link expired (%s): "
				    "reading the inbox again; nothing is recorded twice",
				    mb->id, mb->email, r.code);
				graph_resp_free(&r);
				free(mb->link);
				mb->link = NULL;
				restarts++;
				ib->st->resyncs++;
				continue;
			}
			graph_derr(&e, "read inbox", &r);
			graph_resp_free(&r);
			note(ib, LOG_ERR, "identity %lld (%s): %s", mb->id, mb->email, e.msg);
			ib->st->errors++;
			worse(ib->st, e.code == EX_NOPERM ? EX_NOPERM : EX_UNAVAILABLE);
			return 0;
		}
		if (graph_delta_parse(&r, &value, &next, &delta) == -1) {
			graph_resp_free(&r);
			note(ib, LOG_ERR, "identity %lld (%s): read inbox: not a delta page",
			    mb->id, mb->email);
			ib->st->errors++;
			worse(ib->st, EX_UNAVAILABLE);
			return 0;
		}
		rc = commit_page(ib, mb, value, next, delta);
		nl = rc == 1 && delta == NULL ? strdup(next) : NULL;
		graph_resp_free(&r);
		if (rc == -1)
			return -1;
		if (rc == 0) {
			note(ib, LOG_WARNING, "identity %lld (%s): lease lost to another "
			    "worker: stopped", mb->id, mb->email);
			return 0;
		}
		free(mb->link);
		mb->link = nl;
		if (delta != NULL) {
			mb->done = 1;
			return 0;
		}
		if (nl == NULL)
			return derr_set(ib->e, EX_OSERR, "out of memory");
	}
}

/* --- the run ---------------------------------------------------------------- */

int
inbox_sync(struct derr *e, const struct inbox_opts *o, struct inbox_stats *st)
{
	struct inboxer ib = { .o = o, .st = st, .e = e };
	struct graph_opts go = { .max_attempts = 3, .max_retry_wait = 10 };
	struct mailbox mb = { 0 };
	double deadline;
	double t0 = mono();
	int got, rc = -1;

	memset(st, 0, sizeof(*st));
	deadline = mono() + o->max_seconds;
	ib.words.optout = o->optout;
	ib.words.noptout = o->noptout;
	if (o->worker != NULL)
		strlcpy(ib.worker, o->worker, sizeof(ib.worker));
	else
		worker_name(ib.worker, sizeof(ib.worker));
	if ((ib.db = db_open(e, o->conninfo)) == NULL)
		return -1;
	if (run_start(&ib) == -1)
		goto out;
	if (o->identity > 0 && identity_owned(e, ib.db, o->identity, o->customer) == -1)
		goto out;
	if (crypt_key_load(e, o->key_file, &ib.key) == -1 ||
	    (ib.g = graph_new(e, &go)) == NULL)
		goto out;
	while (mono() < deadline) {
		if ((got = claim(&ib, &mb)) == -1)
			goto out;
		if (got == 0)
			break;
		st->identities++;
		note(&ib, LOG_INFO, "identity %lld (%s): reading %s", mb.id, mb.email,
		    mb.link != NULL ? "what is new" : "the inbox from the start");
		if (read_mailbox(&ib, &mb, deadline) == -1) {
			release(&ib, &mb);
			goto out;
		}
		if (!mb.done && release(&ib, &mb) == -1)
			goto out;
		free(mb.link);
		mb.link = NULL;
	}
	if (st->identities == 0 && o->identity > 0 && explain_identity(&ib) == -1)
		goto out;
	rc = 0;
out:
	free(mb.link);
	free(ib.done);
	st->seconds = (double)(long)((mono() - t0) * 1000) / 1000;
	crypt_key_wipe(&ib.key);
	graph_free(ib.g);
	if (ib.db != NULL)
		PQfinish(ib.db);
	return rc;
}
