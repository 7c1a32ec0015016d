/*
 * identity.c: email_identity rows: connecting a mailbox, printing it, and
 * its OAuth tokens, which are sealed (crypt.c) in the row and refreshed
 * under a row lock.
 *
 * The refresh is serialised per identity by SELECT ... FOR UPDATE, and the
 * rotated refresh token is stored in the same transaction that took the
 * lock: a second process (or host) waits, then reads the new tokens instead
 * of spending the old refresh token, which the identity platform may have
 * retired. No session state is used, so this holds behind PgBouncer.
 */
#include <stdlib.h>
#include <string.h>

#include "drip.h"

#define IDENTITY_SELECT \
	"SELECT id, customer_id, email, display_name, status, rate_per_minute, " \
	"daily_cap, drip.rfc3339(created_at), drip.rfc3339(updated_at) " \
	"FROM drip.email_identity "

static json_object *
row_json(PGresult *r, int i)
{
	json_object *o = json_object_new_object();
	const char *errstr;

	json_object_object_add(o, "id", json_object_new_int64(
	    strtonum(PQgetvalue(r, i, 0), 1, INT64_MAX, &errstr)));
	json_object_object_add(o, "customer_id", json_object_new_string(PQgetvalue(r, i, 1)));
	json_object_object_add(o, "email", json_object_new_string(PQgetvalue(r, i, 2)));
	json_object_object_add(o, "display_name", json_object_new_string(PQgetvalue(r, i, 3)));
	json_object_object_add(o, "status", json_object_new_string(PQgetvalue(r, i, 4)));
	json_object_object_add(o, "rate_per_minute", json_object_new_int64(
	    strtonum(PQgetvalue(r, i, 5), 0, INT32_MAX, &errstr)));
	json_object_object_add(o, "daily_cap", json_object_new_int64(
	    strtonum(PQgetvalue(r, i, 6), 0, INT32_MAX, &errstr)));
	json_object_object_add(o, "created_at", json_object_new_string(PQgetvalue(r, i, 7)));
	json_object_object_add(o, "updated_at", json_object_new_string(PQgetvalue(r, i, 8)));
	return o;
}

/* The identity as stored: what every outlook-auth mode prints. */
json_object *
identity_json(struct derr *e, PGconn *c, long long id)
{
	char ids[32];
	const char *p[] = { ids };
	PGresult *r;
	json_object *o = NULL;

	snprintf(ids, sizeof(ids), "%lld", id);
	if ((r = db_exec(e, c, IDENTITY_SELECT "WHERE id = $1", 1, p)) == NULL)
		return NULL;
	if (PQntuples(r) == 1)
		o = row_json(r, 0);
	else
		derr_set(e, EX_NOINPUT, "identity %lld: no such identity", id);
	PQclear(r);
	return o;
}

json_object *
identity_list_json(struct derr *e, PGconn *c, const char *customer)
{
	const char *p[] = { customer };
	PGresult *r;
	json_object *a;
	int i;

	if ((r = db_exec(e, c, IDENTITY_SELECT "WHERE customer_id = $1 ORDER BY id",
	    1, p)) == NULL)
		return NULL;
	a = json_object_new_array();
	for (i = 0; i < PQntuples(r); i++)
		json_object_array_add(a, row_json(r, i));
	PQclear(r);
	return a;
}

int
identity_owned(struct derr *e, PGconn *c, long long id, const char *customer)
{
	char ids[32];
	const char *p[] = { ids };
	PGresult *r;
	int rc = 0;

	snprintf(ids, sizeof(ids), "%lld", id);
	if ((r = db_exec(e, c, "SELECT customer_id FROM drip.email_identity WHERE id = $1",
	    1, p)) == NULL)
		return -1;
	if (PQntuples(r) != 1)
		rc = derr_set(e, EX_NOINPUT, "identity %lld: no such identity", id);
	else if (customer != NULL && strcmp(PQgetvalue(r, 0, 0), customer) != 0)
		rc = derr_set(e, EX_NOPERM, "identity %lld: belongs to another customer", id);
	PQclear(r);
	return rc;
}

/* The additional data a sealed token is bound to: its row and column. */
static void
token_aad(char *out, size_t outsz, long long id, const char *column)
{
	snprintf(out, outsz, "drip.email_identity:%lld:%s", id, column);
}

static char *
seal_hex(struct derr *e, const struct crypt_key *k, long long id, const char *column,
    const char *token)
{
	char aad[128], *hex;
	unsigned char *b;
	size_t len;

	token_aad(aad, sizeof(aad), id, column);
	if (crypt_seal(e, k, aad, token, strlen(token), &b, &len) == -1)
		return NULL;
	hex = hex_encode(b, len);
	free(b);
	if (hex == NULL)
		derr_set(e, EX_OSERR, "out of memory");
	return hex;
}

static char *
open_hex(struct derr *e, const struct crypt_key *k, long long id, const char *column,
    const char *hex)
{
	char aad[128], *plain;
	unsigned char *b;
	size_t len, plen;
	int rc;

	if (hex_decode(hex, &b, &len) == -1) {
		derr_set(e, EX_SOFTWARE, "identity %lld: %s: not hex", id, column);
		return NULL;
	}
	token_aad(aad, sizeof(aad), id, column);
	rc = crypt_open(e, k, aad, b, len, &plain, &plen);
	free(b);
	if (rc == -1) {
		derr_set(e, EX_NOPERM, "identity %lld: %s: stored token does not open "
		    "(another key, or altered or moved data); connect the mailbox again",
		    id, column);
		return NULL;
	}
	if (strlen(plain) != plen || !graph_token_ok(plain)) {
		secret_free(plain);
		derr_set(e, EX_NOPERM, "identity %lld: %s: stored token is unusable", id, column);
		return NULL;
	}
	return plain;
}

/* Seal and store both tokens and the expiry, in the caller's transaction. */
static int
store_tokens(struct derr *e, PGconn *c, const struct crypt_key *k, long long id,
    const char *access, const char *refresh, long expires_in)
{
	char ids[32], now[RFC3339_LEN], secs[32], *a, *rt = NULL;
	const char *p[5];
	int rc = -1;

	if ((a = seal_hex(e, k, id, "access_token", access)) == NULL)
		return -1;
	if (refresh != NULL && (rt = seal_hex(e, k, id, "refresh_token", refresh)) == NULL)
		goto out;
	snprintf(ids, sizeof(ids), "%lld", id);
	rfc3339(now, clock_now());
	snprintf(secs, sizeof(secs), "%ld", expires_in);
	p[0] = ids;
	p[1] = a;
	p[2] = rt;
	p[3] = now;
	p[4] = secs;
	rc = db_cmd(e, c, "UPDATE drip.email_identity SET access_token = $2::bytea, "
	    "refresh_token = coalesce($3::bytea, refresh_token), "
	    "access_expires_at = $4::timestamptz + make_interval(secs => $5::int), "
	    "status = 'connected' WHERE id = $1", 5, p);
out:
	free(a);
	free(rt);
	return rc;
}

/* Connecting again keeps the id and settings (a name set with --update). */
static const char reconnect_sql[] =
	"UPDATE drip.email_identity AS i SET status = 'connected', graph_user_id = $4, "
	"display_name = CASE WHEN i.display_name = '' THEN $3 ELSE i.display_name END "
	"WHERE customer_id = $1 AND lower(email) = lower($2) RETURNING id";
static const char connect_sql[] =
	"INSERT INTO drip.email_identity AS i "
	"(customer_id, email, display_name, graph_user_id, status) "
	"VALUES ($1, $2, $3, $4, 'connected') "
	"ON CONFLICT (customer_id, lower(email)) DO UPDATE SET "
	"status = 'connected', graph_user_id = EXCLUDED.graph_user_id, "
	"display_name = CASE WHEN i.display_name = '' THEN EXCLUDED.display_name "
	"ELSE i.display_name END RETURNING id";

/*
 * The row of the customer's mailbox, made or found. UPDATE first, as an
 * INSERT ... ON CONFLICT spends an id even when it updates; the INSERT
 * still covers two first connections racing.
 */
static int
upsert_row(struct derr *e, PGconn *c, const char *customer,
    const struct graph_user *me, long long *id)
{
	const char *p[] = { customer, me->email, me->display_name, me->id };
	const char *errstr;
	PGresult *r;

	if ((r = db_exec(e, c, reconnect_sql, 4, p)) == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		if ((r = db_exec(e, c, connect_sql, 4, p)) == NULL)
			return -1;
	}
	*id = strtonum(PQgetvalue(r, 0, 0), 1, INT64_MAX, &errstr);
	PQclear(r);
	return 0;
}

/*
 * Connect (or connect again) the mailbox /me described for a customer: one
 * transaction finds or makes the row, then seals the tokens to its id.
 */
int
identity_connect(struct derr *e, PGconn *c, const struct crypt_key *k,
    const char *customer, const struct graph_user *me,
    const struct graph_tokens *t, long long *id)
{
	if (t->refresh == NULL)
		return derr_set(e, EX_NOPERM, "sign-in gave no refresh token "
		    "(offline_access was not granted): drip could not keep the mailbox");
	if (db_begin(e, c) == -1)
		return -1;
	if (upsert_row(e, c, customer, me, id) == -1 ||
	    store_tokens(e, c, k, *id, t->access, t->refresh, t->expires_in) == -1 ||
	    db_commit(e, c) == -1) {
		db_rollback(c);
		return -1;
	}
	return 0;
}

int
identity_needs_reauth(struct derr *e, PGconn *c, long long id)
{
	char ids[32];
	const char *p[] = { ids };

	snprintf(ids, sizeof(ids), "%lld", id);
	return db_cmd(e, c, "UPDATE drip.email_identity SET status = 'needs_reauth', "
	    "access_token = NULL, refresh_token = NULL, access_expires_at = NULL "
	    "WHERE id = $1", 1, p);
}

struct locked {
	long long	 id;
	char		 customer[256];
	char		 email[EMAIL_MAX + 1];
	char		 status[32];
	char		*access;	/* hex of the sealed token, or NULL */
	char		*refresh;
	int		 fresh;		/* the access token has the margin left */
};

static void
locked_free(struct locked *l)
{
	free(l->access);
	free(l->refresh);
}

static int
read_row(struct derr *e, PGconn *c, long long id, struct locked *l, int lock)
{
	char ids[32], now[RFC3339_LEN], margin[16];
	const char *p[] = { ids, now, margin };
	PGresult *r;
	int oom;

	memset(l, 0, sizeof(*l));
	l->id = id;
	snprintf(ids, sizeof(ids), "%lld", id);
	rfc3339(now, clock_now());
	snprintf(margin, sizeof(margin), "%d", IDENTITY_REFRESH_MARGIN);
	r = db_exec(e, c, lock ?
	    "SELECT customer_id, email, status, encode(access_token, 'hex'), "
	    "encode(refresh_token, 'hex'), coalesce(access_expires_at > "
	    "$2::timestamptz + make_interval(secs => $3::int), false) "
	    "FROM drip.email_identity WHERE id = $1 FOR UPDATE" :
	    "SELECT customer_id, email, status, encode(access_token, 'hex'), "
	    "NULL, coalesce(access_expires_at > "
	    "$2::timestamptz + make_interval(secs => $3::int), false) "
	    "FROM drip.email_identity WHERE id = $1", 3, p);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return derr_set(e, EX_NOINPUT, "identity %lld: no such identity", id);
	}
	strlcpy(l->customer, PQgetvalue(r, 0, 0), sizeof(l->customer));
	strlcpy(l->email, PQgetvalue(r, 0, 1), sizeof(l->email));
	strlcpy(l->status, PQgetvalue(r, 0, 2), sizeof(l->status));
	if (!PQgetisnull(r, 0, 3))
		l->access = strdup(PQgetvalue(r, 0, 3));
	if (!PQgetisnull(r, 0, 4))
		l->refresh = strdup(PQgetvalue(r, 0, 4));
	l->fresh = strcmp(PQgetvalue(r, 0, 5), "t") == 0;
	oom = (!PQgetisnull(r, 0, 3) && l->access == NULL) ||
	    (!PQgetisnull(r, 0, 4) && l->refresh == NULL);
	PQclear(r);
	if (oom) {
		locked_free(l);
		return derr_set(e, EX_OSERR, "out of memory");
	}
	return 0;
}

static int
reauth_error(struct derr *e, const struct locked *l, const char *why)
{
	return derr_set(e, EX_NOPERM, "identity %lld (%s): %s: connect it again with "
	    "outlook-auth --customer %s", l->id, l->email, why, l->customer);
}

static int
give(struct derr *e, char *tok, size_t toksz, const char *t)
{
	if (strlcpy(tok, t, toksz) >= toksz) {
		explicit_bzero(tok, toksz);
		return derr_set(e, EX_SOFTWARE, "access token longer than the buffer");
	}
	return 0;
}

/*
 * Spend the refresh token and store what comes back, in the transaction
 * that locked the row, which this ends (commit or rollback).
 */
static int
refresh_locked(struct derr *e, PGconn *c, struct graph *g, const struct crypt_key *k,
    struct locked *l, char *tok, size_t toksz)
{
	struct graph_resp r;
	struct graph_tokens t;
	char what[300], *rt;
	int rc;

	if (l->refresh == NULL) {
		db_rollback(c);
		return reauth_error(e, l, "no refresh token stored");
	}
	if ((rt = open_hex(e, k, l->id, "refresh_token", l->refresh)) == NULL) {
		db_rollback(c);
		return -1;
	}
	rc = graph_refresh(g, e, rt, NULL, &r);
	secret_free(rt);
	if (rc == -1) {
		db_rollback(c);
		return -1;
	}
	snprintf(what, sizeof(what), "identity %lld (%s): refresh token", l->id, l->email);
	if (r.class == GRAPH_PERM_MAILBOX) {
		/* Revoked, expired or already spent: only a new sign-in helps. */
		if (identity_needs_reauth(e, c, l->id) == -1 || db_commit(e, c) == -1)
			db_rollback(c);
		else
			reauth_error(e, l, r.code);
		graph_resp_free(&r);
		return -1;
	}
	if (r.class != GRAPH_OK) {
		db_rollback(c);
		graph_derr(e, what, &r);
		graph_resp_free(&r);
		return -1;
	}
	rc = graph_tokens_parse(e, &r, &t);
	graph_resp_free(&r);
	if (rc == -1) {
		db_rollback(c);
		return -1;
	}
	if ((rc = store_tokens(e, c, k, l->id, t.access, t.refresh, t.expires_in)) == 0)
		rc = db_commit(e, c);
	if (rc == 0)
		rc = give(e, tok, toksz, t.access);
	else
		db_rollback(c);
	graph_tokens_wipe(&t);
	return rc;
}

static int
get_token(struct derr *e, PGconn *c, struct graph *g, const struct crypt_key *k,
    long long id, int force, const char *stale, char *tok, size_t toksz)
{
	struct locked l;
	char *a = NULL;
	int rc;

	/*
	 * A fresh token is read without a transaction or a lock: it stays
	 * valid until it expires, whoever refreshes meanwhile. Only a
	 * refresh needs the row lock (one refresh at a time, for rotation).
	 */
	if (!force) {
		if (read_row(e, c, id, &l, 0) == -1)
			return -1;
		if (strcmp(l.status, "connected") == 0 && l.access != NULL && l.fresh) {
			a = open_hex(e, k, id, "access_token", l.access);
			rc = a == NULL ? -1 : give(e, tok, toksz, a);
			locked_free(&l);
			secret_free(a);
			return rc;
		}
		locked_free(&l);
	}
	if (db_begin(e, c) == -1)
		return -1;
	if (read_row(e, c, id, &l, 1) == -1) {
		db_rollback(c);
		return -1;
	}
	if (strcmp(l.status, "connected") != 0) {
		rc = reauth_error(e, &l, l.status);
		goto out;
	}
	if (l.access != NULL && l.fresh && (!force || stale != NULL)) {
		if ((a = open_hex(e, k, id, "access_token", l.access)) == NULL) {
			rc = -1;
			goto out;
		}
		/* Fresh, or refreshed by someone else since the caller's 401. */
		if (!force || strcmp(a, stale) != 0) {
			rc = give(e, tok, toksz, a);
			goto out;
		}
	}
	rc = refresh_locked(e, c, g, k, &l, tok, toksz);
	locked_free(&l);
	secret_free(a);
	return rc;
out:
	db_rollback(c);
	locked_free(&l);
	secret_free(a);
	return rc;
}

/*
 * The fresh access tokens of many mailboxes in one statement, for
 * send-due's batches: toks[i] is ids[i]'s token (secret_free it) or NULL
 * when it must go through identity_access_token (not fresh, not
 * connected, does not open: that path refreshes or says why).
 */
int
identity_fresh_tokens(struct derr *e, PGconn *c, const struct crypt_key *k,
    const long long *ids, size_t n, char **toks)
{
	char now[RFC3339_LEN], margin[16], *arr;
	const char *p[3] = { NULL, now, margin };
	struct derr ignored;
	PGresult *r;
	size_t i;
	int row;

	for (i = 0; i < n; i++)
		toks[i] = NULL;
	if (n == 0)
		return 0;
	if ((arr = pgarray_ids(ids, n)) == NULL)
		return derr_set(e, EX_OSERR, "out of memory");
	p[0] = arr;
	rfc3339(now, clock_now());
	snprintf(margin, sizeof(margin), "%d", IDENTITY_REFRESH_MARGIN);
	r = db_exec(e, c, "SELECT id, encode(access_token, 'hex') "
	    "FROM drip.email_identity WHERE id = ANY ($1::bigint[]) "
	    "AND status = 'connected' AND access_token IS NOT NULL "
	    "AND access_expires_at > $2::timestamptz + make_interval(secs => $3::int)",
	    3, p);
	free(arr);
	if (r == NULL)
		return -1;
	for (row = 0; row < PQntuples(r); row++) {
		long long id = strtoll(PQgetvalue(r, row, 0), NULL, 10);

		for (i = 0; i < n; i++)
			if (ids[i] == id && toks[i] == NULL)
				toks[i] = open_hex(&ignored, k, id, "access_token",
				    PQgetvalue(r, row, 1));
	}
	PQclear(r);
	return 0;
}

/*
 * An access token with at least IDENTITY_REFRESH_MARGIN seconds left,
 * refreshed first if it has not. 77 (and status needs_reauth) when the
 * refresh token is refused; 69 when the identity platform is away.
 */
int
identity_access_token(struct derr *e, PGconn *c, struct graph *g,
    const struct crypt_key *k, long long id, char *tok, size_t toksz)
{
	tok[0] = '\0';
	derr_clear(e);
	return get_token(e, c, g, k, id, 0, NULL, tok, toksz);
}

int
identity_refresh(struct derr *e, PGconn *c, struct graph *g,
    const struct crypt_key *k, long long id, const char *stale, char *tok,
    size_t toksz)
{
	tok[0] = '\0';
	derr_clear(e);
	return get_token(e, c, g, k, id, 1, stale, tok, toksz);
}

int
identity_revoke(struct derr *e, PGconn *c, long long id)
{
	char ids[32];
	const char *p[] = { ids };
	PGresult *r;
	int n;

	snprintf(ids, sizeof(ids), "%lld", id);
	if ((r = db_exec(e, c, "UPDATE drip.email_identity SET status = 'disconnected', "
	    "access_token = NULL, refresh_token = NULL, access_expires_at = NULL "
	    "WHERE id = $1 RETURNING id", 1, p)) == NULL)
		return -1;
	n = PQntuples(r);
	PQclear(r);
	return n == 1 ? 0 : derr_set(e, EX_NOINPUT, "identity %lld: no such identity", id);
}

const struct jfield identity_update_fields[] = {
	{ "display_name", JK_STRING, 0, .maxlen = 256 },
	{ "rate_per_minute", JK_INT, 0, .min = 1, .max = 10000 },
	{ "daily_cap", JK_INT, 0, .min = 0, .max = 1000000 },
	{ .name = NULL }
};

int
identity_update(struct derr *e, PGconn *c, long long id, json_object *in,
    struct vlist *errs)
{
	char ids[32], rate[32], cap[32];
	const char *p[4];
	long long v;
	PGresult *r;
	int n;

	if (jread_check(in, "", identity_update_fields, errs) != 0)
		return derr_set(e, EX_DATAERR, "input: invalid");
	snprintf(ids, sizeof(ids), "%lld", id);
	p[0] = ids;
	p[1] = jstr(in, "display_name");
	p[2] = jint(in, "rate_per_minute", &v) ? (snprintf(rate, sizeof(rate), "%lld", v), rate) : NULL;
	p[3] = jint(in, "daily_cap", &v) ? (snprintf(cap, sizeof(cap), "%lld", v), cap) : NULL;
	if ((r = db_exec(e, c, "UPDATE drip.email_identity SET "
	    "display_name = coalesce($2, display_name), "
	    "rate_per_minute = coalesce($3::int, rate_per_minute), "
	    "daily_cap = coalesce($4::int, daily_cap) WHERE id = $1 RETURNING id",
	    4, p)) == NULL)
		return -1;
	n = PQntuples(r);
	PQclear(r);
	return n == 1 ? 0 : derr_set(e, EX_NOINPUT, "identity %lld: no such identity", id);
}

/*
 * Run a synchronous op for an identity: with its access token, and when
 * Graph says 401, once more after a refresh. A mailbox-level refusal sets
 * the identity to needs_reauth. 0 when a response came (see out->class).
 */
int
identity_call(struct derr *e, PGconn *c, struct graph *g, const struct crypt_key *k,
    long long id, identity_op op, void *arg, struct graph_resp *out)
{
	char *tok, *fresh;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	tok = malloc(GRAPH_TOKEN_MAX);
	fresh = malloc(GRAPH_TOKEN_MAX);
	if (tok == NULL || fresh == NULL) {
		derr_set(e, EX_OSERR, "out of memory");
		goto out;
	}
	if (identity_access_token(e, c, g, k, id, tok, GRAPH_TOKEN_MAX) == -1 ||
	    op(g, e, tok, arg, out) == -1)
		goto out;
	if (out->class == GRAPH_AUTH) {
		graph_resp_free(out);
		if (identity_refresh(e, c, g, k, id, tok, fresh, GRAPH_TOKEN_MAX) == -1 ||
		    op(g, e, fresh, arg, out) == -1)
			goto out;
	}
	if (out->class == GRAPH_PERM_MAILBOX && identity_needs_reauth(e, c, id) == -1) {
		graph_resp_free(out);
		goto out;
	}
	rc = 0;
out:
	if (tok != NULL)
		explicit_bzero(tok, GRAPH_TOKEN_MAX);
	if (fresh != NULL)
		explicit_bzero(fresh, GRAPH_TOKEN_MAX);
	free(tok);
	free(fresh);
	return rc;
}
