/*
 * test-graph-identity: access tokens of a connected identity, against the
 * mock and a database (tests/t0420-identity-tokens.t sets both up and
 * connects identity 1; skips without them).
 *
 * Proves: a fresh token is used without asking Microsoft; one within the
 * 60 s margin is refreshed; two processes needing a refresh at once make
 * ONE refresh (the second waits on the row lock and finds the new token);
 * a forced refresh after a 401 is skipped when someone refreshed meanwhile;
 * identity_call() refreshes and retries once on 401; a mailbox-level
 * refusal sets needs_reauth.
 */
#include <sys/wait.h>

#include <stdlib.h>
#include <unistd.h>

#include "drip.h"
#include "tap.h"

static struct graph *g;
static PGconn *c;
static struct crypt_key key;
static const char *mock;

static json_object *
ctl(const char *method, const char *path, const char *body)
{
	struct graph_req rq = { .method = method, .body = body };
	struct graph_resp r;
	struct derr e;
	json_object *o;
	char url[1024];

	snprintf(url, sizeof(url), "%s%s", mock, path);
	rq.url = url;
	if (graph_request(g, &e, &rq, NULL, &r) == -1 || r.class != GRAPH_OK) {
		printf("# control %s %s failed\n", method, path);
		graph_resp_free(&r);
		return NULL;
	}
	o = json_object_get(r.json);
	graph_resp_free(&r);
	return o;
}

static int
refreshes(void)
{
	json_object *a = ctl("GET", "/_mock/log", NULL), *v;
	size_t i;
	int n = 0;

	for (i = 0; a != NULL && i < json_object_array_length(a); i++) {
		v = json_object_array_get_idx(a, i);
		if (strstr(jstr(v, "path"), "/oauth2/v2.0/token") != NULL)
			n++;
	}
	json_object_put(a);
	return n;
}

static void
sql(const char *q)
{
	PQclear(PQexec(c, q));
}

static char *
token(void)
{
	static char tok[GRAPH_TOKEN_MAX];
	struct derr e;

	if (identity_access_token(&e, c, g, &key, 1, tok, sizeof(tok)) == -1) {
		printf("# identity_access_token: %s\n", e.msg);
		return NULL;
	}
	return tok;
}

/* A child: its own connection and engine; writes the token to fd. */
static void
child(int fd)
{
	struct derr e;
	struct graph *cg;
	PGconn *cc;
	char tok[GRAPH_TOKEN_MAX];

	if ((cc = db_connect(&e, db_conninfo(NULL))) == NULL ||
	    (cg = graph_new(&e, NULL)) == NULL ||
	    identity_access_token(&e, cc, cg, &key, 1, tok, sizeof(tok)) == -1) {
		fprintf(stderr, "child: %s\n", e.msg);
		_exit(1);
	}
	if (write(fd, tok, strlen(tok)) != (ssize_t)strlen(tok))
		_exit(2);
	_exit(0);
}

static int
me_op(struct graph *gg, struct derr *e, const char *tok, void *arg, struct graph_resp *out)
{
	return graph_me(gg, e, tok, NULL, out);
}

int
main(void)
{
	struct graph_resp r;
	struct derr e;
	char first[GRAPH_TOKEN_MAX], second[GRAPH_TOKEN_MAX], got[2][GRAPH_TOKEN_MAX];
	char stale[GRAPH_TOKEN_MAX], *t;
	int n0, fds[2][2], st[2], i;
	ssize_t len;
	pid_t pid[2];
	PGresult *res;

	if ((mock = getenv("MOCK_URL")) == NULL || getenv("DATABASE_URL") == NULL ||
	    getenv("DRIP_KEY_FILE") == NULL) {
		printf("1..0 # SKIP needs the mock and a database: run by tests/t0420-identity-tokens.t\n");
		return 0;
	}
	plan(16);
	if ((g = graph_new(&e, NULL)) == NULL || (c = db_open(&e, db_conninfo(NULL))) == NULL ||
	    crypt_key_load(&e, NULL, &key) == -1) {
		printf("Bail out! %s\n", e.msg);
		return 1;
	}

	n0 = refreshes();
	t = token();
	strlcpy(first, t ? t : "", sizeof(first));
	t = token();
	ok(t != NULL && strcmp(t, first) == 0 && refreshes() == n0,
	    "a fresh token is used as stored, without asking Microsoft");

	sql("UPDATE drip.email_identity SET access_expires_at = now() + interval '30 seconds'");
	t = token();
	ok(t != NULL && strcmp(t, first) != 0 && refreshes() == n0 + 1,
	    "30 s left (under the 60 s margin): refreshed once");
	strlcpy(second, t ? t : "", sizeof(second));
	res = PQexec(c, "SELECT access_expires_at > now() + interval '50 minutes' FROM drip.email_identity");
	is_str(PQgetvalue(res, 0, 0), "t", "  the new expiry is stored");
	PQclear(res);
	graph_me(g, &e, second, NULL, &r);
	ok(r.class == GRAPH_OK, "  and the new token works");
	graph_resp_free(&r);

	/* Two processes at once, on an expired token, with a slow refresh. */
	sql("UPDATE drip.email_identity SET access_expires_at = now() - interval '1 minute'");
	json_object_put(ctl("POST", "/_mock/faults",
	    "{\"rules\":[{\"path\":\"/token$\",\"latency_ms\":500}]}"));
	n0 = refreshes();
	for (i = 0; i < 2; i++) {
		if (pipe(fds[i]) == -1)
			return 1;
		if ((pid[i] = fork()) == 0) {
			close(fds[i][0]);
			child(fds[i][1]);
		}
		close(fds[i][1]);
	}
	for (i = 0; i < 2; i++) {
		len = read(fds[i][0], got[i], sizeof(got[i]) - 1);
		got[i][len > 0 ? len : 0] = '\0';
		close(fds[i][0]);
		waitpid(pid[i], &st[i], 0);
	}
	json_object_put(ctl("POST", "/_mock/faults", "{}"));
	ok(WIFEXITED(st[0]) && WEXITSTATUS(st[0]) == 0 && WIFEXITED(st[1]) &&
	    WEXITSTATUS(st[1]) == 0, "two processes needing a refresh at once: both get a token");
	ok(refreshes() == n0 + 1, "  with ONE refresh: the second waited on the row lock (%d)",
	    refreshes() - n0);
	ok(got[0][0] != '\0' && strcmp(got[0], got[1]) == 0, "  and both use the new token");
	t = token();
	ok(t != NULL && strcmp(t, got[0]) == 0, "  which is the one stored");

	/* A 401 with a token someone already replaced: no second refresh. */
	strlcpy(stale, second, sizeof(stale));
	n0 = refreshes();
	ok(identity_refresh(&e, c, g, &key, 1, stale, first, sizeof(first)) == 0 &&
	    strcmp(first, got[0]) == 0 && refreshes() == n0,
	    "forced refresh with a stale token that was already replaced: the current one, no refresh");
	strlcpy(stale, got[0], sizeof(stale));
	ok(identity_refresh(&e, c, g, &key, 1, stale, first, sizeof(first)) == 0 &&
	    strcmp(first, stale) != 0 && refreshes() == n0 + 1,
	    "forced refresh of the current token: refreshed");
	ok(identity_refresh(&e, c, g, &key, 1, NULL, second, sizeof(second)) == 0 &&
	    strcmp(first, second) != 0 && refreshes() == n0 + 2,
	    "forced refresh without a stale token: always refreshed");

	/* identity_call: 401 -> refresh -> retry. */
	json_object_put(ctl("POST", "/_mock/faults",
	    "{\"rules\":[{\"path\":\"/me$\",\"status\":401,\"count\":1}]}"));
	n0 = refreshes();
	ok(identity_call(&e, c, g, &key, 1, me_op, NULL, &r) == 0 && r.class == GRAPH_OK &&
	    refreshes() == n0 + 1, "identity_call: a 401, one refresh, the retry succeeds");
	graph_resp_free(&r);
	json_object_put(ctl("POST", "/_mock/faults",
	    "{\"rules\":[{\"path\":\"/me$\",\"status\":401,\"count\":2}]}"));
	ok(identity_call(&e, c, g, &key, 1, me_op, NULL, &r) == 0 && r.class == GRAPH_AUTH,
	    "  a second 401 is handed back, not retried again");
	graph_resp_free(&r);
	res = PQexec(c, "SELECT status FROM drip.email_identity WHERE id = 1");
	is_str(PQgetvalue(res, 0, 0), "connected", "  and the identity stays connected");
	PQclear(res);

	json_object_put(ctl("POST", "/_mock/faults",
	    "{\"rules\":[{\"path\":\"/me$\",\"status\":403,\"count\":1}]}"));
	ok(identity_call(&e, c, g, &key, 1, me_op, NULL, &r) == 0 &&
	    r.class == GRAPH_PERM_MAILBOX, "ErrorAccessDenied: permanent for the mailbox");
	graph_resp_free(&r);
	res = PQexec(c, "SELECT status, access_token IS NULL FROM drip.email_identity WHERE id = 1");
	ok(strcmp(PQgetvalue(res, 0, 0), "needs_reauth") == 0 &&
	    strcmp(PQgetvalue(res, 0, 1), "t") == 0, "  status needs_reauth, tokens forgotten");
	PQclear(res);
	json_object_put(ctl("POST", "/_mock/faults", "{}"));

	crypt_key_wipe(&key);
	graph_free(g);
	PQfinish(c);
	return done();
}
