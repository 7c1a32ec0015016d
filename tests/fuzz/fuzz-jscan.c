/*
 * fuzz-jscan: a message read from the text of a GRQ_LAZY answer
 * (jscan_object, json-c when the scan gives up) against the same message
 * read from json-c's tree, as every other answer is.
 *
 * Input: the body, not NUL-terminated. Promised: no read past it; the
 * same result (1, 0 or -1) and, when 1, the same id, conversation and
 * internet message ids, sent time and draft flag; and what the scan
 * reads it reads again when the text has a space in front.
 */
#include <string.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct graph_resp lazy = { .class = GRAPH_OK, .flags = GRQ_LAZY };
	struct graph_resp tree = { .class = GRAPH_OK };
	struct graph_msg a, b;
	char *body = NULL, *spaced;
	int ra, rb;

	if (size > 0 && (body = malloc(size)) == NULL)
		abort();
	if (size > 0)
		memcpy(body, data, size);
	lazy.body = tree.body = body;
	lazy.len = tree.len = size;
	tree.json = graph_body_json(body, size, 0);
	ra = graph_msg_parse(&lazy, &a);
	rb = graph_msg_parse(&tree, &b);
	json_object_put(tree.json);
	FUZZ_ASSERT(ra == rb);
	if (ra == 1) {
		FUZZ_ASSERT(strcmp(a.id, b.id) == 0);
		FUZZ_ASSERT(strcmp(a.conversation_id, b.conversation_id) == 0);
		FUZZ_ASSERT(strcmp(a.internet_message_id, b.internet_message_id) == 0);
		FUZZ_ASSERT(strcmp(a.sent_at, b.sent_at) == 0);
		FUZZ_ASSERT(a.is_draft == b.is_draft);
	}
	if ((spaced = malloc(size + 1)) == NULL)
		abort();
	spaced[0] = ' ';
	if (size > 0)
		memcpy(spaced + 1, data, size);
	{
		char id1[64], id2[64];
		struct jscan_field f1 = { "id", id1, sizeof(id1), NULL, 0 };
		struct jscan_field f2 = { "id", id2, sizeof(id2), NULL, 0 };

		if (jscan_object(body, size, &f1, 1) == 1) {
			FUZZ_ASSERT(jscan_object(spaced, size + 1, &f2, 1) == 1);
			FUZZ_ASSERT(f1.found == f2.found);
			FUZZ_ASSERT(!f1.found || strcmp(id1, id2) == 0);
		}
	}
	free(spaced);
	free(body);
	return 0;
}
