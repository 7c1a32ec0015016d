/*
 * fuzz-graph: what Microsoft's answers are read with: the Retry-After
 * parser (retry_after_parse), the error classifier (graph_classify) and
 * the parsers of messages, users, tokens, device codes and delta pages.
 *
 * Input: 4 bytes (status, flags, transport), then the Retry-After value up
 * to the first newline, then the body. Promised: no crash, no read past
 * the body (it is not NUL-terminated here); a wait is finite and not
 * negative; code and detail are single printable lines; a 2xx that came
 * back is GRAPH_OK, a request that never left is GRAPH_TRANSIENT, and a
 * send is only ever known to have failed on a 4xx.
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"

static void
printable(const char *s, size_t max)
{
	size_t n = strlen(s);

	FUZZ_ASSERT(n < max);
	for (; *s != '\0'; s++)
		FUZZ_ASSERT((unsigned char)*s >= 0x20);
}

static void
parse_all(long status, enum graph_class class, const char *body, size_t len)
{
	struct graph_resp r;
	struct graph_msg m;
	struct graph_user u;
	struct graph_tokens t;
	struct graph_device d;
	struct derr e;
	json_object *value;
	const char *next, *delta;
	json_tokener *tok;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.class = class;
	if ((tok = json_tokener_new()) == NULL)
		abort();
	r.json = json_tokener_parse_ex(tok, body, (int)len);
	json_tokener_free(tok);
	(void)graph_msg_parse(&r, &m);
	(void)graph_user_parse(&r, &u);
	memset(&t, 0, sizeof(t));
	if (graph_tokens_parse(&e, &r, &t) == 0)
		FUZZ_ASSERT(t.access != NULL && graph_token_ok(t.access));
	graph_tokens_wipe(&t);
	(void)graph_device_parse(&e, &r, &d);
	(void)graph_device_state(&r);
	(void)graph_delta_parse(&r, &value, &next, &delta);
	json_object_put(r.json);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char code[GRAPH_CODE_MAX], detail[GRAPH_DETAIL_MAX];
	const uint8_t *nl;
	enum graph_transport t;
	enum graph_class class;
	unsigned flags;
	long status;
	double secs;
	char *ra, *body;
	size_t ralen, len;

	if (size < 4)
		return 0;
	status = 100 + (long)((data[0] << 8 | data[1]) % 500);
	flags = data[2] & 0xf;
	t = (enum graph_transport)(data[3] % 3);
	data += 4;
	size -= 4;
	nl = memchr(data, '\n', size);
	ralen = nl != NULL ? (size_t)(nl - data) : size;
	ra = fuzz_str(data, ralen);
	secs = -1;
	if (retry_after_parse(ra, 1767225600, &secs) == 0)
		FUZZ_ASSERT(isfinite(secs) && secs >= 0);
	free(ra);

	len = nl != NULL ? size - ralen - 1 : 0;
	if ((body = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(body, nl != NULL ? nl + 1 : data, len);
	class = graph_classify(status, len ? body : NULL, len, t, flags, code,
	    detail, sizeof(detail));
	FUZZ_ASSERT(class >= GRAPH_OK && class <= GRAPH_AMBIGUOUS);
	FUZZ_ASSERT(graph_class_name(class) != NULL);
	printable(code, GRAPH_CODE_MAX);
	printable(detail, sizeof(detail));
	if (t == GRAPH_T_DONE && status >= 200 && status <= 299)
		FUZZ_ASSERT(class == GRAPH_OK && code[0] == '\0');
	else
		FUZZ_ASSERT(class != GRAPH_OK && code[0] != '\0');
	if (t == GRAPH_T_UNSENT)
		FUZZ_ASSERT(class == GRAPH_TRANSIENT);
	if ((flags & GRQ_SEND) && t == GRAPH_T_DONE &&
	    (class == GRAPH_PERM_MESSAGE || class == GRAPH_PERM_MAILBOX))
		FUZZ_ASSERT(status >= 400 && status <= 499);
	parse_all(status, class, body, len);
	free(body);
	return 0;
}
