/*
 * graph.c: the Microsoft Graph and identity-platform operations drip uses,
 * each one request on the engine in http.c, and readers for their answers.
 *
 * Every op takes a callback (send-due keeps many in flight) or none (the
 * call is synchronous: arg is the struct graph_resp to fill). Graph
 * requests carry Prefer: IdType="ImmutableId", so the id of a draft stays
 * the id of the message after it is sent and moved to Sent Items.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "drip.h"

#define STEP_HEADER	"x-drip-step"
/*
 * drip's mark on the drafts it makes: a single-value extended property in
 * a property set of drip's own. Unlike a header it is not sent, and unlike
 * a header Graph can $filter on it, so a draft whose answer was lost can
 * be found again.
 */
#define DRAFT_TAG_ID	"String {6b1c3f0e-2d4a-4e58-9a7b-5c0d8e1f2a39} Name drip-draft"
#define HEADER_VALUE_MAX 900	/* RFC 5322 lines are at most 998 octets */

/* Percent-encode all but RFC 3986 unreserved characters (and '=', which
 * Exchange ids end with and every server reads literally in a path). */
static int
escape(char *out, size_t outsz, const char *in, int keep_eq)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	unsigned char c;

	for (; (c = (unsigned char)*in) != '\0'; in++) {
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
		    (keep_eq && c == '=')) {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outsz)
				return -1;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

/* base + pre + the escaped id + post */
static int
url_of(struct derr *e, char *url, size_t urlsz, const char *base, const char *pre,
    const char *id, const char *post)
{
	char esc[3 * GRAPH_ID_MAX];

	esc[0] = '\0';
	if (id != NULL && (*id == '\0' || strlen(id) >= GRAPH_ID_MAX ||
	    escape(esc, sizeof(esc), id, 1) == -1))
		return derr_set(e, EX_DATAERR, "message id: empty or too long");
	if ((size_t)snprintf(url, urlsz, "%s%s%s%s", base, pre, esc, post) >= urlsz)
		return derr_set(e, EX_SOFTWARE, "URL too long");
	return 0;
}

static int
need_token(struct derr *e, const char *token)
{
	if (token == NULL || !graph_token_ok(token))
		return derr_set(e, EX_SOFTWARE, "graph: no usable access token");
	return 0;
}

static int
graph_call(struct graph *g, struct derr *e, const char *method, const char *url,
    const char *token, const char *body, unsigned flags, graph_done_fn done, void *arg)
{
	struct graph_req rq = {
		.method = method, .url = url, .token = token, .body = body,
		.flags = flags | GRQ_GRAPH,
	};

	if (need_token(e, token) == -1)
		return -1;
	return graph_request(g, e, &rq, done, arg);
}

/* --- messages --- */

static int
header_name_ok(const char *n)
{
	const unsigned char *p = (const unsigned char *)n;

	if (strncasecmp(n, "x-", 2) != 0 || strlen(n) <= 2 || strlen(n) > 76)
		return 0;
	for (; *p != '\0'; p++)
		if (*p <= 32 || *p >= 127 || *p == ':')
			return 0;
	return 1;
}

static int
header_value_ok(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	if (strlen(v) > HEADER_VALUE_MAX)
		return 0;
	for (; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n' || *p == '\0')
			return 0;
	return utf8_valid(v, strlen(v));
}

static json_object *
header_json(const char *name, const char *value)
{
	json_object *h = json_object_new_object();

	json_object_object_add(h, "name", json_object_new_string(name));
	json_object_object_add(h, "value", json_object_new_string(value));
	return h;
}

/*
 * internetMessageHeaders: x-drip-step first, then the caller's. Graph
 * refuses more than five and any name without "x-"; we refuse first, with
 * a message that says which.
 */
static json_object *
headers_json(struct derr *e, const struct graph_mail *m)
{
	json_object *a;
	size_t i, n = m->nheaders + (m->step != NULL);

	if (n > GRAPH_HEADERS_MAX) {
		derr_set(e, EX_DATAERR, "message headers: %zu, Graph accepts at most %d",
		    n, GRAPH_HEADERS_MAX);
		return NULL;
	}
	if (m->step != NULL && (*m->step == '\0' || !header_value_ok(m->step))) {
		derr_set(e, EX_DATAERR, "message headers: " STEP_HEADER ": invalid value");
		return NULL;
	}
	for (i = 0; i < m->nheaders; i++) {
		if (!header_name_ok(m->headers[i].name)) {
			derr_set(e, EX_DATAERR, "message headers: '%s': the name must begin "
			    "with x- and be printable ASCII", m->headers[i].name);
			return NULL;
		}
		if (m->step != NULL && strcasecmp(m->headers[i].name, STEP_HEADER) == 0) {
			derr_set(e, EX_DATAERR, "message headers: " STEP_HEADER " given twice");
			return NULL;
		}
		if (!header_value_ok(m->headers[i].value)) {
			derr_set(e, EX_DATAERR, "message headers: %s: invalid value",
			    m->headers[i].name);
			return NULL;
		}
	}
	a = json_object_new_array();
	if (m->step != NULL)
		json_object_array_add(a, header_json(STEP_HEADER, m->step));
	for (i = 0; i < m->nheaders; i++)
		json_object_array_add(a, header_json(m->headers[i].name, m->headers[i].value));
	return a;
}

static json_object *
recipients_json(const char *addr, const char *name)
{
	json_object *a = json_object_new_array(), *r = json_object_new_object(),
	    *ea = json_object_new_object();

	json_object_object_add(ea, "address", json_object_new_string(addr));
	if (name != NULL && *name != '\0')
		json_object_object_add(ea, "name", json_object_new_string(name));
	json_object_object_add(r, "emailAddress", ea);
	json_object_array_add(a, r);
	return a;
}

/*
 * The message JSON Graph reads. for_reply leaves the body out: createReply
 * takes recipients and headers, and the body is PATCHed afterwards.
 */
json_object *
graph_mail_json(struct derr *e, const struct graph_mail *m, int for_reply)
{
	json_object *o, *b, *h = NULL;

	if (m->step != NULL || m->nheaders > 0)
		if ((h = headers_json(e, m)) == NULL)
			return NULL;
	o = json_object_new_object();
	if (m->subject != NULL && !for_reply)
		json_object_object_add(o, "subject", json_object_new_string(m->subject));
	if (m->body != NULL && !for_reply) {
		b = json_object_new_object();
		json_object_object_add(b, "contentType",
		    json_object_new_string(m->html ? "html" : "text"));
		json_object_object_add(b, "content", json_object_new_string(m->body));
		json_object_object_add(o, "body", b);
	}
	if (m->to != NULL)
		json_object_object_add(o, "toRecipients", recipients_json(m->to, m->to_name));
	if (h != NULL)
		json_object_object_add(o, "internetMessageHeaders", h);
	if (m->tag != NULL) {
		json_object *a = json_object_new_array(), *p = json_object_new_object();

		json_object_object_add(p, "id", json_object_new_string(DRAFT_TAG_ID));
		json_object_object_add(p, "value", json_object_new_string(m->tag));
		json_object_array_add(a, p);
		json_object_object_add(o, "singleValueExtendedProperties", a);
	}
	return o;
}

static int
mail_call(struct graph *g, struct derr *e, const char *method, const char *url,
    const char *token, json_object *o, unsigned flags, graph_done_fn done, void *arg)
{
	int rc;

	if (o == NULL)
		return -1;
	rc = graph_call(g, e, method, url, token, json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), flags, done, arg);
	json_object_put(o);
	return rc;
}

int
graph_me(struct graph *g, struct derr *e, const char *token, graph_done_fn done,
    void *arg)
{
	char url[2048];

	if (url_of(e, url, sizeof(url), graph_base(g),
	    "/me?$select=id,displayName,mail,userPrincipalName", NULL, "") == -1)
		return -1;
	return graph_call(g, e, "GET", url, token, NULL, GRQ_IDEMPOTENT, done, arg);
}

/* POST /me/messages: 201 with id, conversationId, internetMessageId. */
int
graph_create_draft(struct graph *g, struct derr *e, const char *token,
    const struct graph_mail *m, graph_done_fn done, void *arg)
{
	char url[2048];

	if (m->to == NULL || m->subject == NULL || m->body == NULL)
		return derr_set(e, EX_SOFTWARE, "draft: needs to, subject and body");
	if (url_of(e, url, sizeof(url), graph_base(g), "/me/messages", NULL, "") == -1)
		return -1;
	return mail_call(g, e, "POST", url, token, graph_mail_json(e, m, 0), GRQ_LAZY,
	    done, arg);
}

/*
 * POST /me/messages/{id}/createReply: a draft in the thread of msgid, with
 * our headers (and recipient, when given). Its body is the quoted original
 * until graph_patch_message() replaces it.
 */
int
graph_create_reply(struct graph *g, struct derr *e, const char *token,
    const char *msgid, const struct graph_mail *m, graph_done_fn done, void *arg)
{
	json_object *o, *msg;
	char url[4096];

	if (url_of(e, url, sizeof(url), graph_base(g), "/me/messages/", msgid,
	    "/createReply") == -1)
		return -1;
	if ((msg = graph_mail_json(e, m, 1)) == NULL)
		return -1;
	o = json_object_new_object();
	json_object_object_add(o, "message", msg);
	return mail_call(g, e, "POST", url, token, o, GRQ_LAZY, done, arg);
}

int
graph_patch_message(struct graph *g, struct derr *e, const char *token,
    const char *msgid, const struct graph_mail *m, graph_done_fn done, void *arg)
{
	char url[4096];

	if (url_of(e, url, sizeof(url), graph_base(g), "/me/messages/", msgid, "") == -1)
		return -1;
	return mail_call(g, e, "PATCH", url, token, graph_mail_json(e, m, 0),
	    GRQ_IDEMPOTENT | GRQ_LAZY, done, arg);
}

/*
 * POST /me/messages/{id}/send: 202 and no body. Never retried here: a lost
 * answer or a 5xx is GRAPH_AMBIGUOUS and the caller looks before it leaps
 * (graph_get_message, graph_find_sent).
 */
int
graph_send(struct graph *g, struct derr *e, const char *token, const char *msgid,
    graph_done_fn done, void *arg)
{
	char url[4096];

	if (url_of(e, url, sizeof(url), graph_base(g), "/me/messages/", msgid, "/send") == -1)
		return -1;
	return graph_call(g, e, "POST", url, token, NULL, GRQ_SEND, done, arg);
}

/*
 * DELETE /me/messages/{id}: 204. For a draft that will never be sent;
 * Outlook keeps it in Deleted Items for a while, as when a user deletes it.
 */
int
graph_delete_message(struct graph *g, struct derr *e, const char *token,
    const char *msgid, graph_done_fn done, void *arg)
{
	char url[4096];

	if (url_of(e, url, sizeof(url), graph_base(g), "/me/messages/", msgid, "") == -1)
		return -1;
	return graph_call(g, e, "DELETE", url, token, NULL, GRQ_IDEMPOTENT, done, arg);
}

int
graph_get_message(struct graph *g, struct derr *e, const char *token,
    const char *msgid, const char *select, graph_done_fn done, void *arg)
{
	char url[4096], sel[1024];
	size_t n;

	if (url_of(e, url, sizeof(url), graph_base(g), "/me/messages/", msgid, "") == -1)
		return -1;
	if (select != NULL) {
		if (escape(sel, sizeof(sel), select, 0) == -1)
			return derr_set(e, EX_SOFTWARE, "$select too long");
		n = strlen(url);
		if ((size_t)snprintf(url + n, sizeof(url) - n, "?$select=%s", sel) >=
		    sizeof(url) - n)
			return derr_set(e, EX_SOFTWARE, "URL too long");
	}
	return graph_call(g, e, "GET", url, token, NULL, GRQ_IDEMPOTENT, done, arg);
}

#define FILTER_MAX	(2 * GRAPH_ID_MAX + 64)	/* an OData $filter, unescaped */

/* GET up to top messages of a folder that match filter, some properties */
static int
find_in(struct graph *g, struct derr *e, const char *token, const char *folder,
    const char *filter, const char *select, int top, graph_done_fn done, void *arg)
{
	char esc[3 * FILTER_MAX], url[sizeof(esc) + 1024];

	if (escape(esc, sizeof(esc), filter, 0) == -1)
		return derr_set(e, EX_SOFTWARE, "URL too long");
	snprintf(url, sizeof(url), "%s/me/mailFolders/%s/messages"
	    "?$filter=%s&$select=%s&$top=%d", graph_base(g), folder, esc, select, top);
	return graph_call(g, e, "GET", url, token, NULL, GRQ_IDEMPOTENT, done, arg);
}

/*
 * The message with this internetMessageId in Sent Items, if it is there:
 * $filter=internetMessageId eq '<...>', the OData literal with its quotes
 * doubled, then percent-encoded.
 */
int
graph_find_sent(struct graph *g, struct derr *e, const char *token,
    const char *internet_message_id, graph_done_fn done, void *arg)
{
	char lit[FILTER_MAX];
	const char *p;
	size_t n = 0;

	if (*internet_message_id == '\0' || strlen(internet_message_id) >= GRAPH_ID_MAX)
		return derr_set(e, EX_DATAERR, "internetMessageId: empty or too long");
	n = strlcpy(lit, "internetMessageId eq '", sizeof(lit));
	for (p = internet_message_id; *p != '\0'; p++) {
		if (*p == '\'')
			lit[n++] = '\'';
		lit[n++] = *p;
	}
	lit[n++] = '\'';
	lit[n] = '\0';
	return find_in(g, e, token, "sentitems", lit,
	    "id,internetMessageId,conversationId,sentDateTime,isDraft", 5, done, arg);
}

/*
 * The drafts drip marked with tag (graph_mail.tag), ids only. The tag is
 * drip's own (digits, dots, hex), so its OData literal needs no quotes
 * doubled; refused otherwise.
 */
int
graph_find_drafts(struct graph *g, struct derr *e, const char *token,
    const char *tag, graph_done_fn done, void *arg)
{
	char lit[FILTER_MAX];

	if (*tag == '\0' || strlen(tag) > 128 || strchr(tag, '\'') != NULL)
		return derr_set(e, EX_SOFTWARE, "draft tag: empty, too long or quoted");
	snprintf(lit, sizeof(lit), "singleValueExtendedProperties/Any(ep: ep/id eq '%s' "
	    "and ep/value eq '%s')", DRAFT_TAG_ID, tag);
	return find_in(g, e, token, "drafts", lit, "id", 10, done, arg);
}

/*
 * One page of the Inbox delta query: the first (link NULL) or the one an
 * @odata.nextLink or @odata.deltaLink names, followed verbatim, and only
 * on our own Graph (the token goes with it). Bodies come as text, which
 * is what a reader of replies wants; select names the properties.
 */
int
graph_delta_page(struct graph *g, struct derr *e, const char *token,
    const char *link, const char *select, graph_done_fn done, void *arg)
{
	struct graph_req rq = {
		.method = "GET", .token = token,
		.prefer = "odata.maxpagesize=50, outlook.body-content-type=\"text\"",
		.flags = GRQ_GRAPH | GRQ_IDEMPOTENT,
	};
	char url[8192], sel[1024];

	if (need_token(e, token) == -1)
		return -1;
	if (link != NULL) {
		if (!graph_same_origin(g, link))
			return derr_set(e, EX_DATAERR,
			    "delta link: not on %s: refusing to send the token there",
			    graph_base(g));
		if (strlcpy(url, link, sizeof(url)) >= sizeof(url))
			return derr_set(e, EX_DATAERR, "delta link: too long");
	} else if (select != NULL) {
		if (escape(sel, sizeof(sel), select, 0) == -1)
			return derr_set(e, EX_SOFTWARE, "$select too long");
		snprintf(url, sizeof(url), "%s/me/mailFolders/inbox/messages/delta?$select=%s",
		    graph_base(g), sel);
	} else
		snprintf(url, sizeof(url), "%s/me/mailFolders/inbox/messages/delta",
		    graph_base(g));
	rq.url = url;
	return graph_request(g, e, &rq, done, arg);
}

/* --- the identity platform: OAuth 2.0 device code and refresh grants --- */

static int
form_add(char **buf, size_t *len, const char *name, const char *value)
{
	size_t vlen = strlen(value), need = *len + strlen(name) + 3 * vlen + 3;
	char *nb;

	if ((nb = malloc(need)) == NULL)
		return -1;
	if (*buf != NULL) {
		memcpy(nb, *buf, *len);
		explicit_bzero(*buf, *len);
		free(*buf);
	}
	*buf = nb;
	*len += (size_t)snprintf(nb + *len, need - *len, "%s%s=", *len ? "&" : "", name);
	if (escape(nb + *len, need - *len, value, 0) == -1)
		return -1;
	*len += strlen(nb + *len);
	return 0;
}

static int
login_call(struct graph *g, struct derr *e, const char *endpoint,
    const char *const *kv, graph_done_fn done, void *arg)
{
	struct graph_req rq = {
		.method = "POST", .content_type = "application/x-www-form-urlencoded",
		.flags = GRQ_SECRET,
	};
	char url[2048], tenant[768], *body = NULL;
	size_t len = 0;
	int rc;

	if (graph_client_id(g)[0] == '\0')
		return derr_set(e, EX_USAGE, "DRIP_CLIENT_ID is not set: the Entra "
		    "application (public client) id is needed to sign in");
	if (escape(tenant, sizeof(tenant), graph_tenant(g), 0) == -1)
		return derr_set(e, EX_USAGE, "DRIP_TENANT: too long");
	snprintf(url, sizeof(url), "%s/%s/oauth2/v2.0/%s", graph_login_base(g), tenant,
	    endpoint);
	if (form_add(&body, &len, "client_id", graph_client_id(g)) == -1)
		goto oom;
	for (; kv[0] != NULL; kv += 2)
		if (form_add(&body, &len, kv[0], kv[1]) == -1)
			goto oom;
	rq.url = url;
	rq.body = body;
	rq.bodylen = len;
	rc = graph_request(g, e, &rq, done, arg);
	explicit_bzero(body, len);
	free(body);
	return rc;
oom:
	if (body != NULL)
		explicit_bzero(body, len);
	free(body);
	return derr_set(e, EX_OSERR, "out of memory");
}

int
graph_device_start(struct graph *g, struct derr *e, graph_done_fn done, void *arg)
{
	const char *kv[] = { "scope", GRAPH_SCOPES, NULL };

	return login_call(g, e, "devicecode", kv, done, arg);
}

int
graph_device_poll(struct graph *g, struct derr *e, const char *device_code,
    graph_done_fn done, void *arg)
{
	const char *kv[] = {
		"grant_type", "urn:ietf:params:oauth:grant-type:device_code",
		"device_code", device_code, NULL
	};

	return login_call(g, e, "token", kv, done, arg);
}

/*
 * The refresh grant. Not repeated by the engine after a lost answer: the
 * identity platform may have rotated the token already, and the caller
 * keeps the old one until a new one is stored.
 */
int
graph_refresh(struct graph *g, struct derr *e, const char *refresh_token,
    graph_done_fn done, void *arg)
{
	const char *kv[] = {
		"grant_type", "refresh_token", "refresh_token", refresh_token,
		"scope", GRAPH_SCOPES, NULL
	};

	return login_call(g, e, "token", kv, done, arg);
}

/* --- reading the answers --- */

static int
copy_str(json_object *o, const char *key, char *out, size_t outsz)
{
	const char *s = jstr(o, key);

	out[0] = '\0';
	if (s == NULL)
		return 0;
	return strlcpy(out, s, outsz) < outsz ? 1 : -1;
}

static int
msg_from_json(json_object *o, struct graph_msg *m)
{
	json_object *v;

	memset(m, 0, sizeof(*m));
	m->is_draft = -1;
	if (o == NULL || !json_object_is_type(o, json_type_object))
		return -1;
	if (json_object_object_get_ex(o, "value", &v)) {
		if (!json_object_is_type(v, json_type_array))
			return -1;
		if (json_object_array_length(v) == 0)
			return 0;
		o = json_object_array_get_idx(v, 0);
		if (!json_object_is_type(o, json_type_object))
			return -1;
	}
	if (copy_str(o, "id", m->id, sizeof(m->id)) != 1 ||
	    copy_str(o, "conversationId", m->conversation_id,
	    sizeof(m->conversation_id)) == -1 ||
	    copy_str(o, "internetMessageId", m->internet_message_id,
	    sizeof(m->internet_message_id)) == -1 ||
	    copy_str(o, "sentDateTime", m->sent_at, sizeof(m->sent_at)) == -1)
		return -1;
	if (json_object_object_get_ex(o, "isDraft", &v) &&
	    json_object_is_type(v, json_type_boolean))
		m->is_draft = json_object_get_boolean(v);
	return 1;
}

/*
 * One message, read from the text (GRQ_LAZY answers): 1 as msg_from_json
 * would say, or 0 when the text has to be read with json-c after all.
 */
static int
msg_scan(const struct graph_resp *r, struct graph_msg *m)
{
	struct jscan_field f[] = {
		{ "id", m->id, sizeof(m->id), NULL, 0 },
		{ "conversationId", m->conversation_id, sizeof(m->conversation_id), NULL, 0 },
		{ "internetMessageId", m->internet_message_id,
		    sizeof(m->internet_message_id), NULL, 0 },
		{ "sentDateTime", m->sent_at, sizeof(m->sent_at), NULL, 0 },
		{ "isDraft", NULL, 0, &m->is_draft, 0 },
		{ "value", NULL, 0, NULL, 0 },		/* a collection */
	};

	memset(m, 0, sizeof(*m));
	m->is_draft = -1;
	return jscan_object(r->body, r->len, f, sizeof(f) / sizeof(f[0])) == 1 &&
	    f[0].found && !f[5].found;
}

int
graph_msg_parse(const struct graph_resp *r, struct graph_msg *m)
{
	json_object *o;
	int rc;

	if (r->json != NULL || !(r->flags & GRQ_LAZY) || r->class != GRAPH_OK)
		return msg_from_json(r->json, m);
	if (msg_scan(r, m))
		return 1;
	o = graph_body_json(r->body, r->len, 0);
	rc = msg_from_json(o, m);
	json_object_put(o);
	return rc;
}

int
graph_user_parse(const struct graph_resp *r, struct graph_user *u)
{
	json_object *o = r->json;
	const char *mail;

	memset(u, 0, sizeof(*u));
	if (o == NULL || !json_object_is_type(o, json_type_object))
		return -1;
	if ((mail = jstr(o, "mail")) == NULL || *mail == '\0')
		mail = jstr(o, "userPrincipalName");
	if (mail == NULL || strlcpy(u->email, mail, sizeof(u->email)) >= sizeof(u->email) ||
	    copy_str(o, "id", u->id, sizeof(u->id)) != 1)
		return -1;
	if (copy_str(o, "displayName", u->display_name, sizeof(u->display_name)) == -1)
		u->display_name[sizeof(u->display_name) - 1] = '\0';
	return 0;
}

/* Printable ASCII, no spaces: it goes into an Authorization header as is. */
int
graph_token_ok(const char *t)
{
	size_t n = 0;

	for (; *t != '\0'; t++, n++)
		if ((unsigned char)*t <= 32 || (unsigned char)*t >= 127)
			return 0;
	return n > 0 && n < GRAPH_TOKEN_MAX;
}

void
graph_tokens_wipe(struct graph_tokens *t)
{
	secret_free(t->access);
	secret_free(t->refresh);
	t->access = t->refresh = NULL;
	t->expires_in = 0;
}

int
graph_tokens_parse(struct derr *e, const struct graph_resp *r, struct graph_tokens *t)
{
	const char *a, *rt;
	long long exp;

	memset(t, 0, sizeof(*t));
	if (r->json == NULL || (a = jstr(r->json, "access_token")) == NULL ||
	    !graph_token_ok(a))
		return derr_set(e, EX_PROTOCOL, "token response: no usable access_token");
	if ((rt = jstr(r->json, "refresh_token")) != NULL && !graph_token_ok(rt))
		return derr_set(e, EX_PROTOCOL, "token response: unusable refresh_token");
	if (!jint(r->json, "expires_in", &exp)) {
		/* Some servers send it as a string. */
		const char *s = jstr(r->json, "expires_in"), *errstr = NULL;

		exp = s != NULL ? strtonum(s, 1, 86400 * 365, &errstr) : 0;
		if (s == NULL || errstr != NULL)
			return derr_set(e, EX_PROTOCOL, "token response: no expires_in");
	}
	if (exp < 1 || exp > 86400 * 365)
		return derr_set(e, EX_PROTOCOL, "token response: expires_in out of range");
	if ((t->access = strdup(a)) == NULL ||
	    (rt != NULL && (t->refresh = strdup(rt)) == NULL)) {
		graph_tokens_wipe(t);
		return derr_set(e, EX_OSERR, "out of memory");
	}
	t->expires_in = (long)exp;
	return 0;
}

int
graph_device_parse(struct derr *e, const struct graph_resp *r, struct graph_device *d)
{
	long long n;

	memset(d, 0, sizeof(*d));
	if (r->json == NULL ||
	    copy_str(r->json, "device_code", d->device_code, sizeof(d->device_code)) != 1 ||
	    copy_str(r->json, "user_code", d->user_code, sizeof(d->user_code)) != 1 ||
	    copy_str(r->json, "verification_uri", d->verification_uri,
	    sizeof(d->verification_uri)) == -1 ||
	    copy_str(r->json, "message", d->message, sizeof(d->message)) == -1)
		return derr_set(e, EX_PROTOCOL, "device code response: malformed");
	d->interval = jint(r->json, "interval", &n) && n >= 0 && n <= 300 ? (long)n : 5;
	d->expires_in = jint(r->json, "expires_in", &n) && n > 0 && n <= 86400 ?
	    (long)n : 900;
	if (d->message[0] == '\0')
		snprintf(d->message, sizeof(d->message),
		    "To sign in, open %s and enter the code %s", d->verification_uri,
		    d->user_code);
	return 0;
}

enum graph_device_state
graph_device_state(const struct graph_resp *r)
{
	static const struct {
		const char *word;
		enum graph_device_state state;
	} words[] = {
		{ "authorization_pending", GRAPH_DEVICE_PENDING },
		{ "slow_down", GRAPH_DEVICE_SLOW_DOWN },
		{ "authorization_declined", GRAPH_DEVICE_DECLINED },
		{ "access_denied", GRAPH_DEVICE_DECLINED },	/* RFC 8628's word */
		{ "expired_token", GRAPH_DEVICE_EXPIRED },
		{ "bad_verification_code", GRAPH_DEVICE_BAD_CODE },
	};
	size_t i;

	if (r->class == GRAPH_OK)
		return GRAPH_DEVICE_OK;
	if (r->status >= 400 && r->status <= 499)
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strcmp(r->code, words[i].word) == 0)
				return words[i].state;
	return GRAPH_DEVICE_FAILED;
}

int
graph_delta_parse(const struct graph_resp *r, json_object **value,
    const char **next_link, const char **delta_link)
{
	json_object *v;

	*value = NULL;
	*next_link = *delta_link = NULL;
	if (r->json == NULL || !json_object_object_get_ex(r->json, "value", &v) ||
	    !json_object_is_type(v, json_type_array))
		return -1;
	*value = v;
	*next_link = jstr(r->json, "@odata.nextLink");
	*delta_link = jstr(r->json, "@odata.deltaLink");
	return *next_link != NULL || *delta_link != NULL ? 0 : -1;
}
