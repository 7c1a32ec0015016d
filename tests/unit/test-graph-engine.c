/*
 * test-graph-engine: the Graph client against tests/mock-graph. Needs
 * MOCK_URL, DRIP_GRAPH_URL and DRIP_LOGIN_URL of a running mock started
 * with --interval 0 (tests/t0410-graph-engine.t runs it so); skips without.
 *
 * Proves: the device-code states, refresh and strict rotation, drafts,
 * replies in the thread, sends, immutable ids, Sent Items lookup, delta
 * paging; 429/503 retried after Retry-After (fraction, HTTP date), long
 * waits handed back, throttled bursts absorbed; sends never retried and a
 * lost or 5xx answer to a send ambiguous, which the mock proves went out.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "drip.h"
#include "tap.h"

#define ME "alice@example.com"

static struct graph *g;
static const char *mock;
static char access_token[GRAPH_TOKEN_MAX], refresh_token[GRAPH_TOKEN_MAX];

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A control call to the mock; its answer parsed. */
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
		printf("# control %s %s failed: %s %s\n", method, path, e.msg, r.body ? r.body : "");
		graph_resp_free(&r);
		return NULL;
	}
	o = json_object_get(r.json);
	graph_resp_free(&r);
	return o;
}

static void
faults(const char *json)
{
	json_object_put(ctl("POST", "/_mock/faults", json));
}

static size_t
sent_count(void)
{
	json_object *a = ctl("GET", "/_mock/sent", NULL);
	size_t n = a ? json_object_array_length(a) : 0;

	json_object_put(a);
	return n;
}

/* Drafts in every mailbox of the mock. */
static size_t
drafts_count(void)
{
	json_object *a = ctl("GET", "/_mock/users", NULL), *n;
	size_t i, sum = 0;

	for (i = 0; a != NULL && i < json_object_array_length(a); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(a, i), "drafts", &n))
			sum += (size_t)json_object_get_int64(n);
	json_object_put(a);
	return sum;
}

/* The last sent record's header name, or "". */
static const char *
last_sent(const char *field, const char *header)
{
	static char out[1024];
	json_object *a = ctl("GET", "/_mock/sent", NULL), *rec, *h, *v = NULL;
	const char *s;

	out[0] = '\0';
	if (a != NULL && json_object_array_length(a) > 0) {
		rec = json_object_array_get_idx(a, json_object_array_length(a) - 1);
		if (header != NULL && json_object_object_get_ex(rec, "headers", &h))
			rec = h, field = header;
		if (json_object_object_get_ex(rec, field, &v) &&
		    json_object_is_type(v, json_type_array) && json_object_array_length(v) > 0)
			v = json_object_array_get_idx(v, 0);
		if (v != NULL && json_object_is_type(v, json_type_string) &&
		    (s = json_object_get_string(v)) != NULL)
			strlcpy(out, s, sizeof(out));
	}
	json_object_put(a);
	return out;
}

static void
device_states(void)
{
	struct graph_device d;
	struct graph_resp r;
	struct graph_tokens t;
	struct derr e;
	char body[256];

	graph_device_start(g, &e, NULL, &r);
	ok(r.class == GRAPH_OK && graph_device_parse(&e, &r, &d) == 0 &&
	    strstr(d.message, d.user_code) != NULL && d.interval == 0,
	    "device code: a user code and Microsoft's message");
	graph_resp_free(&r);

	graph_device_poll(g, &e, d.device_code, NULL, &r);
	ok(graph_device_state(&r) == GRAPH_DEVICE_PENDING && r.attempts == 1,
	    "before sign-in: authorization_pending, not retried by the engine");
	graph_resp_free(&r);

	faults("{\"force_device\":\"slow_down\"}");
	graph_device_poll(g, &e, d.device_code, NULL, &r);
	ok(graph_device_state(&r) == GRAPH_DEVICE_SLOW_DOWN, "slow_down");
	graph_resp_free(&r);

	snprintf(body, sizeof(body), "{\"user_code\":\"%s\",\"email\":\"" ME "\"}", d.user_code);
	json_object_put(ctl("POST", "/_mock/devicecode/approve", body));
	graph_device_poll(g, &e, d.device_code, NULL, &r);
	ok(graph_device_state(&r) == GRAPH_DEVICE_OK && graph_tokens_parse(&e, &r, &t) == 0 &&
	    t.refresh != NULL && t.expires_in > 0, "approved: access and refresh tokens");
	graph_resp_free(&r);
	strlcpy(access_token, t.access, sizeof(access_token));
	strlcpy(refresh_token, t.refresh, sizeof(refresh_token));
	graph_tokens_wipe(&t);

	graph_device_poll(g, &e, "DAQABnonsense", NULL, &r);
	ok(graph_device_state(&r) == GRAPH_DEVICE_BAD_CODE, "an unknown code: bad_verification_code");
	graph_resp_free(&r);

	graph_device_start(g, &e, NULL, &r);
	graph_device_parse(&e, &r, &d);
	graph_resp_free(&r);
	faults("{\"force_device\":\"authorization_declined\"}");
	graph_device_poll(g, &e, d.device_code, NULL, &r);
	ok(graph_device_state(&r) == GRAPH_DEVICE_DECLINED, "authorization_declined");
	graph_resp_free(&r);

	graph_device_start(g, &e, NULL, &r);
	graph_device_parse(&e, &r, &d);
	graph_resp_free(&r);
	faults("{\"force_device\":\"expired_token\"}");
	graph_device_poll(g, &e, d.device_code, NULL, &r);
	ok(graph_device_state(&r) == GRAPH_DEVICE_EXPIRED, "expired_token");
	graph_resp_free(&r);
}

static void
refresh_rotation(void)
{
	struct graph_resp r;
	struct graph_tokens t;
	struct derr e;
	char old[GRAPH_TOKEN_MAX];

	strlcpy(old, refresh_token, sizeof(old));
	graph_refresh(g, &e, refresh_token, NULL, &r);
	ok(r.class == GRAPH_OK && graph_tokens_parse(&e, &r, &t) == 0 && t.refresh != NULL &&
	    strcmp(t.refresh, old) != 0, "refresh: a new access token and a rotated refresh token");
	graph_resp_free(&r);
	strlcpy(access_token, t.access, sizeof(access_token));
	strlcpy(refresh_token, t.refresh, sizeof(refresh_token));
	graph_tokens_wipe(&t);

	graph_refresh(g, &e, old, NULL, &r);
	ok(r.class == GRAPH_PERM_MAILBOX && strcmp(r.code, "invalid_grant") == 0 &&
	    r.attempts == 1, "the spent refresh token: invalid_grant, permanent for the mailbox");
	graph_resp_free(&r);
}

static void
messages(void)
{
	struct graph_header extra = { "x-drip-campaign", "7" };
	struct graph_mail m = {
		.subject = "Quick question", .body = "Hi Bob,\nshort note.", .to = "bob@example.org",
		.to_name = "Bob", .step = "101", .headers = &extra, .nheaders = 1,
	};
	struct graph_mail follow = { .body = "<p>Following up.</p>", .html = 1, .step = "102" };
	struct graph_msg d, got, reply;
	struct graph_user u;
	struct graph_resp r;
	struct derr e;
	size_t before = sent_count();
	long conns;
	int i;

	graph_me(g, &e, access_token, NULL, &r);
	ok(r.class == GRAPH_OK && graph_user_parse(&r, &u) == 0 && strcmp(u.email, ME) == 0 &&
	    u.id[0] != '\0', "/me: the mailbox address and id");
	ok(r.request_id[0] != '\0', "Graph's request-id is kept for support");
	graph_resp_free(&r);
	for (i = 0, conns = 0; i < 10; i++) {
		graph_me(g, &e, access_token, NULL, &r);
		conns += r.connects;
		graph_resp_free(&r);
	}
	ok(conns == 0, "ten more requests reuse the open connection (%ld new)", conns);

	graph_create_draft(g, &e, access_token, &m, NULL, &r);
	ok(r.status == 201 && graph_msg_parse(&r, &d) == 1 && strlen(d.id) == 116 &&
	    d.conversation_id[0] != '\0' && d.internet_message_id[0] == '<',
	    "a draft: 201 with id, conversationId and internetMessageId");
	ok(r.immutable_ids, "Prefer: IdType=\"ImmutableId\" was sent and applied");
	{
		char id[GRAPH_ID_MAX];
		struct jscan_field f = { "id", id, sizeof(id), NULL, 0 };

		ok(r.json == NULL && jscan_object(r.body, r.len, &f, 1) == 1 &&
		    strcmp(id, d.id) == 0,
		    "the draft's answer is read from its text, no json-c tree (GRQ_LAZY)");
	}
	graph_resp_free(&r);

	graph_send(g, &e, access_token, d.id, NULL, &r);
	ok(r.class == GRAPH_OK && r.status == 202 && r.len == 0, "send: 202, empty body");
	ok(r.connects == 0, "  on the draft's connection, kept alive");
	graph_resp_free(&r);
	ok(sent_count() == before + 1, "the mock sent exactly one message");
	is_str(last_sent(NULL, "x-drip-step"), "101", "tagged with x-drip-step");
	is_str(last_sent(NULL, "x-drip-campaign"), "7", "and the extra x- header");

	graph_get_message(g, &e, access_token, d.id, "id,isDraft,sentDateTime,internetMessageId",
	    NULL, &r);
	ok(r.class == GRAPH_OK && graph_msg_parse(&r, &got) == 1 && strcmp(got.id, d.id) == 0 &&
	    got.is_draft == 0 && got.sent_at[0] != '\0',
	    "the draft's id still finds it in Sent Items, sent (immutable id)");
	graph_resp_free(&r);

	graph_find_sent(g, &e, access_token, d.internet_message_id, NULL, &r);
	ok(r.class == GRAPH_OK && graph_msg_parse(&r, &got) == 1 && strcmp(got.id, d.id) == 0,
	    "found in Sent Items by internetMessageId ($filter, encoded)");
	graph_resp_free(&r);
	graph_find_sent(g, &e, access_token, "<nobody'quote@example.org>", NULL, &r);
	ok(r.class == GRAPH_OK && graph_msg_parse(&r, &got) == 0,
	    "an unknown internetMessageId (with a quote) finds nothing");
	graph_resp_free(&r);

	graph_create_reply(g, &e, access_token, d.id, &follow, NULL, &r);
	ok(r.status == 201 && graph_msg_parse(&r, &reply) == 1 &&
	    strcmp(reply.conversation_id, d.conversation_id) == 0,
	    "createReply: a draft in the same conversation");
	graph_resp_free(&r);
	graph_patch_message(g, &e, access_token, reply.id, &follow, NULL, &r);
	ok(r.class == GRAPH_OK && r.body != NULL && strstr(r.body, "Following up.") != NULL,
	    "PATCH puts our body on the reply draft");
	graph_resp_free(&r);
	graph_send(g, &e, access_token, reply.id, NULL, &r);
	ok(r.class == GRAPH_OK, "the follow-up is sent");
	graph_resp_free(&r);
	is_str(last_sent(NULL, "In-Reply-To"), d.internet_message_id,
	    "in the thread: In-Reply-To is the first message");
	is_str(last_sent("to", NULL), "bob@example.org", "to the first message's recipient");
	is_str(last_sent("subject", NULL), "RE: Quick question", "subject RE: the first");

	graph_send(g, &e, access_token, d.id, NULL, &r);
	ok(r.class == GRAPH_PERM_MESSAGE && strcmp(r.code, "ErrorInvalidOperation") == 0,
	    "sending a sent message again is refused, not ambiguous");
	graph_resp_free(&r);

	faults("{\"invalid_recipients\":[\"bob@example.org\"]}");
	graph_create_draft(g, &e, access_token, &m, NULL, &r);
	graph_msg_parse(&r, &d);
	graph_resp_free(&r);
	before = sent_count();
	graph_send(g, &e, access_token, d.id, NULL, &r);
	ok(r.class == GRAPH_PERM_MESSAGE && strcmp(r.code, "ErrorInvalidRecipients") == 0 &&
	    sent_count() == before, "ErrorInvalidRecipients: permanent for the message, not sent");
	graph_resp_free(&r);
	faults("{}");

	graph_me(g, &e, "not-a-token", NULL, &r);
	ok(r.class == GRAPH_AUTH && strcmp(r.code, "InvalidAuthenticationToken") == 0,
	    "a bad token: 401 InvalidAuthenticationToken, refresh and retry");
	graph_resp_free(&r);

	faults("{\"rules\":[{\"path\":\"/me$\",\"status\":403,\"count\":1}]}");
	graph_me(g, &e, access_token, NULL, &r);
	ok(r.class == GRAPH_PERM_MAILBOX && strcmp(r.code, "ErrorAccessDenied") == 0,
	    "ErrorAccessDenied: permanent for the mailbox");
	graph_resp_free(&r);
}

/* A draft ready to send, to test what happens to sends. */
static void
draft(struct graph_msg *d)
{
	struct graph_mail m = { .subject = "S", .body = "B", .to = "carol@example.org", .step = "9" };
	struct graph_resp r;
	struct derr e;

	graph_create_draft(g, &e, access_token, &m, NULL, &r);
	if (graph_msg_parse(&r, d) != 1)
		printf("# draft failed: %s\n", r.code);
	graph_resp_free(&r);
}

static void
retries(void)
{
	struct graph_mail m = { .subject = "S", .body = "B", .to = "carol@example.org" };
	struct graph_resp r;
	struct graph_msg d;
	struct derr e;
	char rule[512], date[64];
	time_t t;
	struct tm tm;
	double t0, took;
	size_t before, d0, n0;

	faults("{\"rules\":[{\"method\":\"POST\",\"path\":\"/me/messages$\",\"status\":429,"
	    "\"retry_after\":\"0.6\",\"count\":1}]}");
	t0 = now_s();
	graph_create_draft(g, &e, access_token, &m, NULL, &r);
	took = now_s() - t0;
	ok(r.class == GRAPH_OK && r.attempts == 2 && took >= 0.6,
	    "429 with Retry-After: 0.6: tried again after 0.6 s, then created (%d tries, %.2f s)",
	    r.attempts, took);
	graph_resp_free(&r);

	t = time(NULL) + 2;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(rule, sizeof(rule), "{\"rules\":[{\"path\":\"/me$\",\"status\":503,"
	    "\"retry_after\":\"%s\",\"count\":1}]}", date);
	faults(rule);
	t0 = now_s();
	graph_me(g, &e, access_token, NULL, &r);
	took = now_s() - t0;
	ok(r.class == GRAPH_OK && r.attempts == 2 && took >= 0.9,
	    "503 with an HTTP-date Retry-After: waited for it (%.2f s), then ok", took);
	graph_resp_free(&r);

	faults("{\"rules\":[{\"path\":\"/me$\",\"status\":503,\"retry_after\":\"120\",\"count\":1}]}");
	t0 = now_s();
	graph_me(g, &e, access_token, NULL, &r);
	ok(r.class == GRAPH_TRANSIENT && r.attempts == 1 && r.retry_after == 120 &&
	    now_s() - t0 < 5, "a Retry-After beyond the longest wait is handed back, not slept");
	graph_resp_free(&r);

	faults("{\"rules\":[{\"path\":\"/me$\",\"status\":504,\"count\":10}]}");
	graph_me(g, &e, access_token, NULL, &r);
	ok(r.class == GRAPH_TRANSIENT && r.attempts == 3 && r.retry_after < 0,
	    "504 without Retry-After: backoff, at most max_attempts tries");
	graph_resp_free(&r);
	faults("{}");

	faults("{\"rules\":[{\"method\":\"POST\",\"path\":\"/me/messages$\",\"status\":500,"
	    "\"after_send\":true,\"count\":1}]}");
	graph_create_draft(g, &e, access_token, &m, NULL, &r);
	ok(r.class == GRAPH_TRANSIENT && r.attempts == 1,
	    "a 500 on create (it may have happened) is not repeated by the engine");
	graph_resp_free(&r);
	faults("{}");

	/* Sends: never repeated; a lost or 5xx answer is ambiguous. */
	draft(&d);
	before = sent_count();
	faults("{\"rules\":[{\"path\":\"/send$\",\"status\":429,\"retry_after\":\"0.1\",\"count\":1}]}");
	graph_send(g, &e, access_token, d.id, NULL, &r);
	ok(r.class == GRAPH_TRANSIENT && r.attempts == 1 && sent_count() == before,
	    "429 on send: transient, not retried by the engine, not sent");
	graph_resp_free(&r);

	faults("{\"rules\":[{\"path\":\"/send$\",\"status\":504,\"after_send\":true,\"count\":1}]}");
	graph_send(g, &e, access_token, d.id, NULL, &r);
	ok(r.class == GRAPH_AMBIGUOUS && r.attempts == 1 && sent_count() == before + 1,
	    "504 after the message really went: ambiguous, tried once, sent once");
	graph_resp_free(&r);

	draft(&d);
	faults("{\"rules\":[{\"path\":\"/send$\",\"reset\":true,\"after_send\":true,\"count\":1}]}");
	graph_send(g, &e, access_token, d.id, NULL, &r);
	ok(r.class == GRAPH_AMBIGUOUS && strcmp(r.code, "connection_lost") == 0 &&
	    r.connects == 1 && sent_count() == before + 2,
	    "a reset after sending, on a reused connection: ambiguous (connection_lost), "
	    "sent once: curl did not post it again on the new connection it opened");
	graph_resp_free(&r);

	d0 = drafts_count();
	faults("{\"rules\":[{\"method\":\"POST\",\"path\":\"/me/messages$\",\"reset\":true,"
	    "\"after_send\":true,\"count\":1}]}");
	graph_create_draft(g, &e, access_token, &m, NULL, &r);
	ok(r.class == GRAPH_TRANSIENT && strcmp(r.code, "connection_lost") == 0 &&
	    r.attempts == 1 && drafts_count() == d0 + 1,
	    "a reset after a draft was made: lost, and made once, not again by curl");
	graph_resp_free(&r);

	/*
	 * The same, and then no new connection for a while: curl's second
	 * trip fails to connect. That does not make the request unsent.
	 */
	draft(&d);
	n0 = sent_count();
	faults("{\"rules\":[{\"path\":\"/send$\",\"reset\":true,\"after_send\":true,"
	    "\"refuse_ms\":400,\"count\":1}]}");
	graph_send(g, &e, access_token, d.id, NULL, &r);
	ok(r.class == GRAPH_AMBIGUOUS && strcmp(r.code, "connection_lost") == 0,
	    "a send that went out, then no connection to ask again: ambiguous, not unsent (%s: %s)",
	    r.code, r.detail);
	graph_resp_free(&r);
	usleep(500000);
	ok(sent_count() == n0 + 1, "  and sent once");

	d0 = drafts_count();
	faults("{\"rules\":[{\"method\":\"POST\",\"path\":\"/me/messages$\",\"reset\":true,"
	    "\"after_send\":true,\"refuse_ms\":400,\"count\":1}]}");
	graph_create_draft(g, &e, access_token, &m, NULL, &r);
	ok(r.class == GRAPH_TRANSIENT && strcmp(r.code, "connection_lost") == 0 &&
	    r.attempts == 1, "a draft made, then no connection: lost, not tried again by the engine");
	graph_resp_free(&r);
	usleep(500000);
	ok(drafts_count() == d0 + 1, "  and made once");

	faults("{\"rules\":[{\"method\":\"GET\",\"path\":\"/me$\",\"reset\":true,\"count\":1}]}");
	graph_me(g, &e, access_token, NULL, &r);
	ok(r.class == GRAPH_OK && r.attempts == 1 && r.connects == 1,
	    "a reset on a GET over a reused connection: curl asks again at once (idempotent)");
	graph_resp_free(&r);

	draft(&d);
	n0 = sent_count();
	faults("{\"rules\":[{\"path\":\"/send$\",\"status\":503,\"count\":1}]}");
	graph_send(g, &e, access_token, d.id, NULL, &r);
	ok(r.class == GRAPH_AMBIGUOUS && sent_count() == n0,
	    "503 on send: ambiguous (the client cannot know), never retried");
	graph_resp_free(&r);
	faults("{}");
}

static void
timeouts(void)
{
	struct graph_opts o = { .timeout_ms = 700, .max_attempts = 2, .max_retry_wait = 1 };
	struct graph_resp r;
	struct graph_msg d;
	struct graph *fast, *none;
	struct derr e;
	size_t before;
	double t0;

	fast = graph_new(&e, &o);
	draft(&d);
	before = sent_count();
	faults("{\"rules\":[{\"path\":\"/send$\",\"latency_ms\":2000,\"count\":1}]}");
	t0 = now_s();
	graph_send(fast, &e, access_token, d.id, NULL, &r);
	ok(r.class == GRAPH_AMBIGUOUS && strcmp(r.code, "timeout") == 0 && now_s() - t0 < 1.5,
	    "a send that times out: ambiguous (timeout), after the total timeout");
	graph_resp_free(&r);
	faults("{}");
	/* The mock answers after its latency; the message went. */
	usleep(1600 * 1000);
	ok(sent_count() == before + 1, "and the mock did send it");

	faults("{\"rules\":[{\"path\":\"/me$\",\"latency_ms\":2000,\"count\":1}]}");
	graph_me(fast, &e, access_token, NULL, &r);
	ok(r.class == GRAPH_OK && r.attempts == 2, "a GET that times out is tried again (idempotent)");
	graph_resp_free(&r);
	faults("{}");
	graph_free(fast);

	o.graph_url = "http://127.0.0.1:1/v1.0";
	o.max_retry_wait = 0.2;
	none = graph_new(&e, &o);
	graph_send(none, &e, access_token, "AAMkAGI=", NULL, &r);
	ok(r.class == GRAPH_TRANSIENT && strcmp(r.code, "connect") == 0 && r.status == 0,
	    "no server: a send that never left is transient (connect), not ambiguous");
	graph_derr(&e, "send", &r);
	ok(e.code == EX_UNAVAILABLE && strstr(e.msg, "cannot connect; try again") != NULL,
	    "and says: cannot connect; try again (69)");
	graph_resp_free(&r);
	graph_free(none);
}

struct tally {
	int ok, throttled_then_ok, done;
};

static void
count_me(struct graph_resp *r, void *arg)
{
	struct tally *t = arg;

	t->done++;
	if (r->class == GRAPH_OK) {
		t->ok++;
		if (r->attempts > 1)
			t->throttled_then_ok++;
	}
}

/* A callback that chains: a synchronous call from inside a callback. */
static void
chain(struct graph_resp *r, void *arg)
{
	struct graph_resp inner;
	struct derr e;
	int *state = arg;

	if (r->class != GRAPH_OK)
		return;
	*state = 1;
	if (graph_me(g, &e, access_token, NULL, &inner) == 0 && inner.class == GRAPH_OK)
		*state = 2;
	graph_resp_free(&inner);
}

static void
async_burst(void)
{
	struct graph_opts o = { .max_attempts = 8, .max_retry_wait = 3 };
	int chained[3] = { 0, 0, 0 };
	struct tally t = { 0 };
	struct graph *burst;
	struct derr e;
	double t0, took;
	size_t left;
	int i, n = 12;

	/* Outlook lets 4 requests of a mailbox be in flight; the rest get 429. */
	faults("{\"latency_ms\":300,\"mailbox_concurrency\":4}");
	t0 = now_s();
	burst = graph_new(&e, &o);
	for (i = 0; i < n; i++)
		graph_me(burst, &e, access_token, count_me, &t);
	ok(graph_pending(burst) == (size_t)n, "%d requests submitted at once", n);
	left = graph_run(burst, -1);
	took = now_s() - t0;
	ok(left == 0 && t.done == n && t.ok == n, "all %d end ok (%.2f s)", n, took);
	ok(t.throttled_then_ok > 0, "%d were throttled (429, Retry-After: 1) and retried",
	    t.throttled_then_ok);
	faults("{}");
	graph_free(burst);

	for (i = 0; i < 3; i++)
		graph_me(g, &e, access_token, chain, &chained[i]);
	graph_run(g, -1);
	ok(chained[0] == 2 && chained[1] == 2 && chained[2] == 2,
	    "callbacks may make synchronous calls (the engine runs inside them)");
}

static void
delta(void)
{
	struct graph_resp r;
	struct derr e;
	json_object *v, *b;
	const char *next, *dl, *body_type;
	char link[8192];
	int i, pages = 0, msgs = 0, body_type_ok = 0;

	for (i = 0; i < 55; i++)
		json_object_put(ctl("POST", "/_mock/users/" ME "/inbox",
		    "{\"subject\":\"hello\",\"body\":{\"contentType\":\"html\",\"content\":"
		    "\"<p>hi</p>\"},\"from\":{\"emailAddress\":"
		    "{\"address\":\"dan@example.org\"}}}"));
	link[0] = '\0';
	for (;;) {
		graph_delta_page(g, &e, access_token, link[0] ? link : NULL,
		    "subject,from,body,internetMessageHeaders", NULL, &r);
		if (r.class != GRAPH_OK || graph_delta_parse(&r, &v, &next, &dl) == -1) {
			printf("# delta failed: %s %s\n", r.code, r.detail);
			graph_resp_free(&r);
			break;
		}
		if (pages++ == 0 && json_object_array_length(v) > 0 &&
		    json_object_object_get_ex(json_object_array_get_idx(v, 0), "body", &b) &&
		    (body_type = jstr(b, "contentType")) != NULL)
			body_type_ok = strcmp(body_type, "text") == 0;
		msgs += (int)json_object_array_length(v);
		strlcpy(link, next != NULL ? next : dl, sizeof(link));
		graph_resp_free(&r);
		if (next == NULL)
			break;
	}
	ok(pages == 2 && msgs == 55, "delta: 55 messages in pages of 50, nextLink followed "
	    "(%d pages, %d messages)", pages, msgs);
	ok(body_type_ok, "  bodies come as text (Prefer: outlook.body-content-type)");
	json_object_put(ctl("POST", "/_mock/users/" ME "/inbox",
	    "{\"subject\":\"late\",\"body\":\"hi\"}"));
	graph_delta_page(g, &e, access_token, link, NULL, NULL, &r);
	ok(r.class == GRAPH_OK && graph_delta_parse(&r, &v, &next, &dl) == 0 &&
	    json_object_array_length(v) == 1 && dl != NULL,
	    "the deltaLink brings only what came since");
	graph_resp_free(&r);
	json_object_put(ctl("POST", "/_mock/delta/invalidate", "{}"));
	graph_delta_page(g, &e, access_token, dl ? link : link, NULL, NULL, &r);
	ok(r.status == 410 && r.class == GRAPH_PERM_MESSAGE &&
	    strcasecmp(r.code, "syncStateNotFound") == 0,
	    "an invalidated delta link: 410 syncStateNotFound, start over");
	graph_resp_free(&r);
}

int
main(void)
{
	struct derr e;

	if ((mock = getenv("MOCK_URL")) == NULL || getenv("DRIP_GRAPH_URL") == NULL) {
		printf("1..0 # SKIP needs the mock: run by tests/t0410-graph-engine.t\n");
		return 0;
	}
	setenv("DRIP_CLIENT_ID", "drip-test-client", 1);
	plan(61);
	{
		struct graph_opts o = { .max_attempts = 3, .max_retry_wait = 3 };

		if ((g = graph_new(&e, &o)) == NULL) {
			printf("Bail out! %s\n", e.msg);
			return 1;
		}
	}
	device_states();
	refresh_rotation();
	messages();
	retries();
	timeouts();
	async_burst();
	delta();
	graph_free(g);
	return done();
}
