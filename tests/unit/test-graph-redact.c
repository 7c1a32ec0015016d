/* test-graph-redact: an error body that echoes a token never passes it on */
#include "drip.h"
#include "tap.h"

static const char *
detail_of(const char *body)
{
	static char detail[GRAPH_DETAIL_MAX];
	char code[GRAPH_CODE_MAX];

	graph_classify(400, body, strlen(body), GRAPH_T_DONE, GRQ_GRAPH, code,
	    detail, sizeof(detail));
	return detail;
}

int
main(void)
{
	char body[2048], tok[1200];
	size_t i;

	plan(7);
	is_str(detail_of("{\"error\":{\"code\":\"X\",\"message\":\"Bearer abc.def-ghi was refused\"}}"),
	    "[token] was refused", "what follows Bearer is masked");
	is_str(detail_of("{\"error\":{\"code\":\"X\",\"message\":\"token eyJ0eXAiOiJKV1QiLCJhbGci.eyJhdWQi.c2ln bad\"}}"),
	    "token [token] bad", "a JWT is masked");
	for (i = 0; i < sizeof(tok) - 1; i++)
		tok[i] = "0.AVYAbcdefgh_-"[i % 15];
	tok[sizeof(tok) - 1] = '\0';
	snprintf(body, sizeof(body), "{\"error\":\"invalid_grant\",\"error_description\":\"refresh %s is dead\"}", tok);
	is_str(detail_of(body), "refresh [token] is dead", "a long opaque run (a refresh token) is masked");
	is_str(detail_of("{\"error\":{\"code\":\"ErrorItemNotFound\",\"message\":\"The specified object was not found in the store.\"}}"),
	    "The specified object was not found in the store.", "plain text is left alone");
	is_str(detail_of("{\"error\":{\"code\":\"X\",\"message\":\"id AAMkAGI2THVSAAA= heyJude1234567890123456789\"}}"),
	    "id AAMkAGI2THVSAAA= heyJude1234567890123456789", "ids and words that merely contain eyJ are left alone");
	is_str(detail_of("{\"error\":{\"code\":\"X\",\"message\":\"a\\r\\nBearer eyJ0eXAiOiJKV1QiLCJhbGci\"}}"),
	    "a", "only the first line is kept");
	is_str(detail_of("{\"error\":{\"code\":\"X\",\"message\":\"bearer  x\"}}"), "bearer  x",
	    "the word bearer alone is text");
	return done();
}
