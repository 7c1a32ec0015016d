/*
 * test-graph-mail: the message JSON sent to Graph (x-drip-step and at most
 * five x- headers, enforced before Graph would refuse), the base URL policy
 * (https, or http to loopback only), and which links may carry our token.
 */
#include <stdlib.h>

#include "drip.h"
#include "tap.h"

static const char *
js(json_object *o)
{
	return o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE) : "(null)";
}

static int
refused(const struct graph_mail *m, const char *msgpart)
{
	struct derr e = { 0 };
	json_object *o = graph_mail_json(&e, m, 0);

	if (o != NULL || e.code != EX_DATAERR || strstr(e.msg, msgpart) == NULL) {
		printf("# got %s, code %d, message %s\n", js(o), e.code, e.msg);
		json_object_put(o);
		return 0;
	}
	return 1;
}

int
main(void)
{
	struct graph_header four[] = {
		{ "x-a", "1" }, { "X-B", "2" }, { "x-c", "3" }, { "x-d", "4" }, { "x-e", "5" },
	};
	struct graph_mail m = {
		.subject = "Quick question", .body = "Hi Ann,\nshort note.", .to = "ann@example.com",
		.to_name = "Ann", .step = "42", .headers = four, .nheaders = 4,
	};
	struct graph_opts opts = { .graph_url = "http://127.0.0.1:9/v1.0",
	    .login_url = "http://127.0.0.1:9", .client_id = "" };
	struct graph_header bad;
	struct graph_resp r;
	struct derr e = { 0 };
	struct graph *g;
	json_object *o;

	plan(27);
	o = graph_mail_json(&e, &m, 0);
	is_str(js(o), "{\"subject\":\"Quick question\",\"body\":{\"contentType\":\"text\","
	    "\"content\":\"Hi Ann,\\nshort note.\"},\"toRecipients\":[{\"emailAddress\":"
	    "{\"address\":\"ann@example.com\",\"name\":\"Ann\"}}],\"internetMessageHeaders\":["
	    "{\"name\":\"x-drip-step\",\"value\":\"42\"},{\"name\":\"x-a\",\"value\":\"1\"},"
	    "{\"name\":\"X-B\",\"value\":\"2\"},{\"name\":\"x-c\",\"value\":\"3\"},"
	    "{\"name\":\"x-d\",\"value\":\"4\"}]}",
	    "a draft: subject, text body, recipient, x-drip-step first, five headers in all");
	json_object_put(o);

	o = graph_mail_json(&e, &m, 1);
	ok(o != NULL && !json_object_object_get_ex(o, "body", NULL) &&
	    !json_object_object_get_ex(o, "subject", NULL) &&
	    json_object_object_get_ex(o, "internetMessageHeaders", NULL) &&
	    json_object_object_get_ex(o, "toRecipients", NULL),
	    "for createReply: headers and recipient, no body or subject (patched after)");
	json_object_put(o);

	m.tag = "42.0123456789abcdef";
	o = graph_mail_json(&e, &m, 1);
	ok(o != NULL && strstr(js(o), "\"singleValueExtendedProperties\":[{\"id\":"
	    "\"String {6b1c3f0e-2d4a-4e58-9a7b-5c0d8e1f2a39} Name drip-draft\","
	    "\"value\":\"42.0123456789abcdef\"}]") != NULL,
	    "drip's mark on a draft: an extended property in drip's own set, for a reply too");
	json_object_put(o);
	m.tag = NULL;

	m.html = 1;
	m.nheaders = 0;
	o = graph_mail_json(&e, &m, 0);
	ok(o != NULL && strstr(js(o), "\"contentType\":\"html\"") != NULL,
	    "an HTML body says so");
	json_object_put(o);

	m.nheaders = 5;
	ok(refused(&m, "6, Graph accepts at most 5"), "x-drip-step and five more: refused (6 > 5)");
	m.step = NULL;
	o = graph_mail_json(&e, &m, 0);
	ok(o != NULL, "five headers without a step are fine");
	json_object_put(o);
	m.step = "42";
	m.nheaders = 1;
	m.headers = &bad;
	bad.value = "v";
	bad.name = "Drip-Campaign";
	ok(refused(&m, "'Drip-Campaign': the name must begin with x-"), "a name without x- is refused");
	bad.name = "x-";
	ok(refused(&m, "must begin with x-"), "a bare x- is refused");
	bad.name = "x-a b";
	ok(refused(&m, "printable ASCII"), "a name with a space is refused");
	bad.name = "x-a:b";
	ok(refused(&m, "printable ASCII"), "a name with a colon is refused");
	bad.name = "X-Drip-Step";
	ok(refused(&m, "x-drip-step given twice"), "x-drip-step twice is refused");
	bad.name = "x-ok";
	bad.value = "a\r\nBcc: victim@example.com";
	ok(refused(&m, "x-ok: invalid value"), "a value with CR LF (header injection) is refused");
	bad.value = "ok";
	m.step = "4\n2";
	ok(refused(&m, "x-drip-step: invalid value"), "a step with a newline is refused");
	m.step = "";
	ok(refused(&m, "x-drip-step: invalid value"), "an empty step is refused");

	/* Where tokens may go. */
	g = graph_new(&e, &opts);
	ok(g != NULL, "http to 127.0.0.1 is allowed (the mock)");
	ok(graph_same_origin(g, "http://127.0.0.1:9/v1.0/me/mailFolders('AAMk=')/messages/delta?$skiptoken=abc"),
	    "a delta link on our Graph may carry the token");
	ok(!graph_same_origin(g, "http://127.0.0.1:10/v1.0/me/messages/delta"), "another port may not");
	ok(!graph_same_origin(g, "https://127.0.0.1:9/v1.0/me/messages/delta"), "another scheme may not");
	ok(!graph_same_origin(g, "http://127.0.0.1:9@evil.example/v1.0/"), "userinfo tricks may not");
	ok(!graph_same_origin(g, "http://evil.example/http://127.0.0.1:9/v1.0"), "another host may not");
	ok(!graph_same_origin(g, "http://127.0.0.1:9/v1.0/x y"), "a link with a space may not");
	ok(graph_delta_page(g, &e, "tok", "http://evil.example/v1.0/me", NULL, NULL, &r) == -1 &&
	    strstr(e.msg, "refusing to send the token") != NULL,
	    "graph_delta_page refuses a foreign link before any request");
	ok(graph_device_start(g, &e, NULL, &r) == -1 && e.code == EX_USAGE &&
	    strstr(e.msg, "DRIP_CLIENT_ID") != NULL, "no client id: a usage error naming DRIP_CLIENT_ID");
	graph_free(g);

	opts.graph_url = "http://graph.example/v1.0";
	ok(graph_new(&e, &opts) == NULL && e.code == EX_USAGE && strstr(e.msg, "must be https"),
	    "plain http to another host is refused: tokens never cross a network in clear");
	opts.graph_url = "https://graph.microsoft.com/v1.0/";
	g = graph_new(&e, &opts);
	is_str(g ? graph_base(g) : "", "https://graph.microsoft.com/v1.0", "https is fine, trailing / dropped");
	graph_free(g);

	ok(graph_token_ok("eyJ0.abc-_~+/="), "a JWT-like token is usable");
	ok(!graph_token_ok("abc\r\nX-Injected: 1") && !graph_token_ok("a b") && !graph_token_ok(""),
	    "CR, LF, spaces or nothing are not (they would go into a header)");
	return done();
}
