/*
 * test-jscan: members are read straight from the text when that can be
 * done exactly, the scan gives up on everything else, and a message read
 * either way (scan, or json-c's tree) comes out the same.
 */
#include <stdlib.h>

#include "drip.h"
#include "tap.h"

/* "0" when the scan gives up, else "1 id=.. flag=.. other=.." */
static const char *
scan(const char *text)
{
	static char out[256];
	char id[8];
	int flag = -1;
	struct jscan_field f[] = {
		{ "id", id, sizeof(id), NULL, 0 },
		{ "flag", NULL, 0, &flag, 0 },
		{ "other", NULL, 0, NULL, 0 },
	};

	id[0] = '\0';
	if (jscan_object(text, strlen(text), f, 3) != 1)
		return "0";
	snprintf(out, sizeof(out), "1 id=%s%s flag=%d other=%d", f[0].found ? "" : "-",
	    id, flag, f[2].found);
	return out;
}

/* graph_msg_parse on a GRQ_LAZY answer against the same on json-c's tree */
static int
same_message(const char *body, int *rc)
{
	struct graph_resp lazy = { .class = GRAPH_OK, .flags = GRQ_LAZY };
	struct graph_resp tree = { .class = GRAPH_OK };
	struct graph_msg a, b;
	int ra, rb;

	lazy.body = tree.body = (char *)body;
	lazy.len = tree.len = strlen(body);
	tree.json = graph_body_json(body, tree.len, 0);
	ra = graph_msg_parse(&lazy, &a);
	rb = graph_msg_parse(&tree, &b);
	json_object_put(tree.json);
	*rc = ra;
	return ra == rb && (ra != 1 || memcmp(&a, &b, sizeof(a)) == 0);
}

int
main(void)
{
	static const char *bodies[] = {
		"{\"id\":\"AAMkA=\",\"conversationId\":\"AAQkA=\",\"internetMessageId\":"
		    "\"<a@b>\",\"isDraft\":true,\"body\":{\"content\":\"<p>x</p>\"}}",
		"{\"isDraft\":false,\"sentDateTime\":\"2026-11-29T00:00:00Z\",\"id\":\"x\"}",
		"{\"id\":\"a\\u0062\"}",		/* an escape: read by the tree */
		"{\"i\\u0064\":\"x\"}",			/* a key spelt with one */
		"{\"id\":\"x\",\"id\":\"y\"}",		/* json-c keeps the last */
		"{\"value\":[{\"id\":\"in-a-list\"}]}",
		"{\"value\":[]}",
		"{\"conversationId\":\"c\"}",		/* no id */
		"{\"id\":null}",
		"{\"id\":\"x\",\"isDraft\":\"yes\"}",
		"{\"id\":\"x\"} ",
		"[{\"id\":\"x\"}]",
		"{\"id\":\"x\",}",
		"{\"id\":\"x\",\"n\":[1,-2.5e+3,{\"a\":[true,false,null]}]}",
		"",
	};
	size_t i;
	int rc;

	plan(32);

	ok(strcmp(scan("{\"id\":\"abc\",\"flag\":true,\"other\":{\"x\":[1,2]}}"),
	    "1 id=abc flag=1 other=1") == 0, "members are read: a string, a boolean, one only seen");
	ok(strcmp(scan(" \n{\"flag\":false}"), "1 id=- flag=0 other=0") == 0,
	    "absent members are not found; leading white space is passed");
	ok(strcmp(scan("{}"), "1 id=- flag=-1 other=0") == 0, "an empty object is read");
	ok(strcmp(scan("{\"x\":\"a \\\" \\\\ \\/ \\n \\u00e9\",\"id\":\"k\"}"),
	    "1 id=k flag=-1 other=0") == 0, "escapes are passed in members not wanted");
	ok(strcmp(scan("{\"id\":\"a\\u0062\"}"), "0") == 0,
	    "gives up on an escape in a wanted string");
	ok(strcmp(scan("{\"i\\u0064\":\"x\"}"), "0") == 0,
	    "gives up on an escape in a key: it could spell a wanted one");
	ok(strcmp(scan("{\"id\":\"1234567\"}"), "1 id=1234567 flag=-1 other=0") == 0 &&
	    strcmp(scan("{\"id\":\"12345678\"}"), "0") == 0,
	    "a string that fits is copied; one that does not, gives up");
	ok(strcmp(scan("{\"id\":\"x\",\"id\":\"y\"}"), "0") == 0,
	    "gives up on a wanted member given twice");
	ok(strcmp(scan("{\"id\":1}"), "0") == 0 && strcmp(scan("{\"flag\":null}"), "0") == 0,
	    "gives up on a wanted member of another type");
	ok(strcmp(scan("{\"x\":\"\\ud83d\\ude00\"}"), "0") == 0,
	    "gives up on surrogate escapes anywhere");
	ok(strcmp(scan("{\"x\":12345678901234567890}"), "0") == 0 &&
	    strcmp(scan("{\"x\":-0.5e-7}"), "1 id=- flag=-1 other=0") == 0,
	    "numbers: long ones left to json-c, the others passed");
	ok(strcmp(scan("{\"x\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}"), "0") == 0 &&
	    strcmp(scan("{\"x\":[[[[[[[[[[[[[[1]]]]]]]]]]]]]]}"), "1 id=- flag=-1 other=0") == 0,
	    "nesting deeper than 16 gives up");
	ok(strcmp(scan("{\"id\":\"x\"} "), "0") == 0 && strcmp(scan("{\"id\":\"x\"}{}"), "0") == 0,
	    "nothing may follow the object");
	ok(strcmp(scan("{\"id\":\"x\",}"), "0") == 0 && strcmp(scan("{\"id\" \"x\"}"), "0") == 0 &&
	    strcmp(scan("{'id':'x'}"), "0") == 0 && strcmp(scan("{\"x\":tru}"), "0") == 0 &&
	    strcmp(scan("{\"x\":01}"), "0") == 0 &&
	    strcmp(scan("{\"x\":TRUE}"), "0") == 0,
	    "what is not strict JSON gives up");
	ok(strcmp(scan("{\"x\":\"a\tb\"}"), "0") == 0, "a raw control character gives up");
	ok(strcmp(scan("{\"x\":\"abc"), "0") == 0 && strcmp(scan("{\"x\":\"\\u12"), "0") == 0 &&
	    strcmp(scan("{\"x\":[1,2"), "0") == 0 && strcmp(scan("{"), "0") == 0,
	    "text cut anywhere gives up");
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		int same = same_message(bodies[i], &rc);

		ok(same, "a message reads the same from text and tree: %s (%d)", bodies[i], rc);
	}
	{
		struct graph_resp r = { .class = GRAPH_OK, .flags = GRQ_LAZY };
		struct graph_msg m;

		r.body = (char *)"{\"id\":\"AAMk\",\"isDraft\":true,\"conversationId\":\"AAQk\","
		    "\"internetMessageId\":\"<m@x>\",\"body\":{\"contentType\":\"html\"}}";
		r.len = strlen(r.body);
		ok(graph_msg_parse(&r, &m) == 1 && r.json == NULL && strcmp(m.id, "AAMk") == 0 &&
		    strcmp(m.conversation_id, "AAQk") == 0 &&
		    strcmp(m.internet_message_id, "<m@x>") == 0 && m.is_draft == 1,
		    "a draft's answer is read without a tree");
	}
	return done();
}
