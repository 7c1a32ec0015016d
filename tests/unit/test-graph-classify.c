/*
 * test-graph-classify: the one error classifier, on Graph's and the
 * identity platform's error bodies, statuses, lost answers and sends;
 * code words decide, description text never does.
 */
#include "drip.h"
#include "tap.h"

#define G	GRQ_GRAPH
#define S	(GRQ_GRAPH | GRQ_SEND)
#define L	GRQ_SECRET	/* the identity platform */

#define GERR(code, msg) "{\"error\":{\"code\":\"" code "\",\"message\":\"" msg \
	"\",\"innerError\":{\"date\":\"2026-11-28T09:00:00\",\"request-id\":\"x\"}}}"
#define IERR(word, desc) "{\"error\":\"" word "\",\"error_description\":\"" desc \
	"\",\"error_codes\":[70000],\"timestamp\":\"2026-11-28 09:00:00Z\"}"

static const struct {
	long status;
	const char *body;
	enum graph_transport t;
	unsigned flags;
	enum graph_class want;
	const char *code;
	const char *why;
} cases[] = {
	{ 200, "{}", GRAPH_T_DONE, G, GRAPH_OK, "", "200 is ok" },
	{ 201, "{\"id\":\"x\"}", GRAPH_T_DONE, G, GRAPH_OK, "", "201 (draft created) is ok" },
	{ 202, NULL, GRAPH_T_DONE, S, GRAPH_OK, "", "202 on send is ok" },
	{ 429, GERR("TooManyRequests", "Please retry after"), GRAPH_T_DONE, G,
	    GRAPH_TRANSIENT, "TooManyRequests", "429 is transient" },
	{ 429, GERR("ApplicationThrottled", "MailboxConcurrency"), GRAPH_T_DONE, S,
	    GRAPH_TRANSIENT, "ApplicationThrottled", "429 on send is transient: not sent" },
	{ 503, GERR("serviceNotAvailable", "Service unavailable"), GRAPH_T_DONE, G,
	    GRAPH_TRANSIENT, "serviceNotAvailable", "503 is transient" },
	{ 504, GERR("UnknownError", ""), GRAPH_T_DONE, G, GRAPH_TRANSIENT, "UnknownError",
	    "504 is transient" },
	{ 500, GERR("generalException", "General exception"), GRAPH_T_DONE, G,
	    GRAPH_TRANSIENT, "generalException", "500 off send is transient" },
	{ 502, "<html>Bad Gateway</html>", GRAPH_T_DONE, G, GRAPH_TRANSIENT, "http_502",
	    "an HTML 502 is transient, code from the status" },
	{ 408, "", GRAPH_T_DONE, G, GRAPH_TRANSIENT, "http_408", "408 is transient" },
	{ 503, GERR("serviceNotAvailable", ""), GRAPH_T_DONE, S, GRAPH_AMBIGUOUS,
	    "serviceNotAvailable", "503 on send is ambiguous" },
	{ 504, GERR("UnknownError", ""), GRAPH_T_DONE, S, GRAPH_AMBIGUOUS, "UnknownError",
	    "504 on send is ambiguous" },
	{ 500, "", GRAPH_T_DONE, S, GRAPH_AMBIGUOUS, "http_500", "500 on send is ambiguous" },
	{ 0, NULL, GRAPH_T_LOST, S, GRAPH_AMBIGUOUS, "connection_lost",
	    "a lost answer to a send is ambiguous" },
	{ 0, NULL, GRAPH_T_LOST, G, GRAPH_TRANSIENT, "connection_lost",
	    "a lost answer elsewhere is transient" },
	{ 0, NULL, GRAPH_T_UNSENT, S, GRAPH_TRANSIENT, "connect",
	    "a send that never left is transient, not ambiguous" },
	{ 401, GERR("InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."),
	    GRAPH_T_DONE, G, GRAPH_AUTH, "InvalidAuthenticationToken", "401 from Graph: refresh" },
	{ 401, GERR("InvalidAuthenticationToken", "expired"), GRAPH_T_DONE, S, GRAPH_AUTH,
	    "InvalidAuthenticationToken", "401 on send: refresh (not sent)" },
	{ 400, GERR("ErrorInvalidRecipients", "At least one recipient isn't valid."),
	    GRAPH_T_DONE, S, GRAPH_PERM_MESSAGE, "ErrorInvalidRecipients",
	    "ErrorInvalidRecipients is permanent for the message" },
	{ 400, GERR("InvalidInternetMessageHeader", "x-"), GRAPH_T_DONE, G,
	    GRAPH_PERM_MESSAGE, "InvalidInternetMessageHeader", "other 400s are permanent" },
	{ 404, GERR("ErrorItemNotFound", "not found"), GRAPH_T_DONE, G, GRAPH_PERM_MESSAGE,
	    "ErrorItemNotFound", "404 is permanent for the message" },
	{ 400, "", GRAPH_T_DONE, G, GRAPH_PERM_MESSAGE, "http_400", "a bare 400" },
	{ 403, GERR("ErrorAccessDenied", "Access is denied."), GRAPH_T_DONE, G,
	    GRAPH_PERM_MAILBOX, "ErrorAccessDenied", "ErrorAccessDenied: the mailbox" },
	{ 404, GERR("MailboxNotEnabledForRESTAPI", "REST API is not yet supported"),
	    GRAPH_T_DONE, G, GRAPH_PERM_MAILBOX, "MailboxNotEnabledForRESTAPI",
	    "MailboxNotEnabledForRESTAPI: the mailbox, whatever the status" },
	{ 403, GERR("ErrorAccessDenied", ""), GRAPH_T_DONE, S, GRAPH_PERM_MAILBOX,
	    "ErrorAccessDenied", "ErrorAccessDenied on send: the mailbox, not sent" },
	{ 400, IERR("invalid_grant", "AADSTS70000: The refresh token has already been "
	    "redeemed.\\r\\nTrace ID: x"), GRAPH_T_DONE, L, GRAPH_PERM_MAILBOX,
	    "invalid_grant", "identity platform invalid_grant: the mailbox" },
	{ 400, IERR("authorization_pending", "AADSTS70016: pending"), GRAPH_T_DONE, L,
	    GRAPH_PERM_MESSAGE, "authorization_pending", "device-code words come through" },
	{ 503, IERR("temporarily_unavailable", "AADSTS90006"), GRAPH_T_DONE, L,
	    GRAPH_TRANSIENT, "temporarily_unavailable", "identity platform 503" },
	{ 400, IERR("temporarily_unavailable", "AADSTS90024"), GRAPH_T_DONE, L,
	    GRAPH_TRANSIENT, "temporarily_unavailable", "temporarily_unavailable on a 400" },
	{ 401, IERR("invalid_client", "AADSTS7000215"), GRAPH_T_DONE, L,
	    GRAPH_PERM_MESSAGE, "invalid_client",
	    "401 from the identity platform is no token to refresh" },
	/* Traps: the words only in the description must not count. */
	{ 400, GERR("BadRequest", "ErrorAccessDenied invalid_grant MailboxNotEnabledForRESTAPI"),
	    GRAPH_T_DONE, G, GRAPH_PERM_MESSAGE, "BadRequest",
	    "Graph description text is never read for the class" },
	{ 400, IERR("invalid_request", "invalid_grant temporarily_unavailable"),
	    GRAPH_T_DONE, L, GRAPH_PERM_MESSAGE, "invalid_request",
	    "identity description text is never read for the class" },
	{ 400, "{\"error\":{\"message\":\"ErrorInvalidRecipients\"}}", GRAPH_T_DONE, G,
	    GRAPH_PERM_MESSAGE, "http_400", "no code: the status word, not the message" },
	{ 200, GERR("ErrorAccessDenied", ""), GRAPH_T_DONE, G, GRAPH_OK, "",
	    "a 2xx is ok whatever its body says" },
};

int
main(void)
{
	char code[GRAPH_CODE_MAX], detail[GRAPH_DETAIL_MAX];
	enum graph_class c;
	size_t i, n = sizeof(cases) / sizeof(cases[0]);

	plan((int)n * 2 + 3);
	for (i = 0; i < n; i++) {
		c = graph_classify(cases[i].status, cases[i].body,
		    cases[i].body ? strlen(cases[i].body) : 0, cases[i].t, cases[i].flags,
		    code, detail, sizeof(detail));
		if (!ok(c == cases[i].want, "%s: %s", cases[i].why,
		    graph_class_name(cases[i].want)))
			printf("# got %s\n", graph_class_name(c));
		is_str(code, cases[i].code, "  and its code word");
	}

	graph_classify(400, IERR("invalid_grant", "AADSTS70000: Token redeemed.\\r\\n"
	    "Trace ID: abc\\r\\nCorrelation ID: def"),
	    strlen(IERR("invalid_grant", "AADSTS70000: Token redeemed.\\r\\n"
	    "Trace ID: abc\\r\\nCorrelation ID: def")), GRAPH_T_DONE, L, code, detail,
	    sizeof(detail));
	is_str(detail, "AADSTS70000: Token redeemed.",
	    "the detail is the description's first line");
	graph_classify(403, GERR("ErrorAccessDenied", "Access is denied. Check credentials."),
	    strlen(GERR("ErrorAccessDenied", "Access is denied. Check credentials.")),
	    GRAPH_T_DONE, G, code, detail, sizeof(detail));
	is_str(detail, "Access is denied. Check credentials.", "Graph's message is the detail");
	c = graph_classify(400, "{\"error\":", 9, GRAPH_T_DONE, G, code, NULL, 0);
	ok(c == GRAPH_PERM_MESSAGE && strcmp(code, "http_400") == 0,
	    "a truncated body is read as no body");
	return done();
}
