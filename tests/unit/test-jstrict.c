/* test-jstrict: what json-c takes and drip refuses is found, and only that */
#include <stdlib.h>
#include <unistd.h>

#include "drip.h"
#include "tap.h"

/* "" when the text is clean, else "LINE: MESSAGE" */
static const char *
problem(const char *text)
{
	static char out[256];
	char msg[160];
	long line;
	int rc;

	rc = json_strict_check(text, strlen(text), &line, msg, sizeof(msg));
	if (rc == 0)
		return "";
	if (rc == -1)
		return "oom";
	snprintf(out, sizeof(out), "%ld: %s", line, msg);
	return out;
}

/* The message jstream_next gives for text fed on standard input. */
static const char *
stream_error_max(const char *text, size_t max, int *rc)
{
	static struct derr e;
	struct jstream *js;
	json_object *v = NULL;
	FILE *f;
	int fd;

	/* a file, not a pipe: the text may be larger than a pipe holds */
	if ((f = tmpfile()) == NULL || fputs(text, f) == EOF || fflush(f) == EOF)
		return "tmpfile";
	fd = fileno(f);
	lseek(fd, 0, SEEK_SET);
	js = jstream_open(fd, max);
	derr_clear(&e);
	*rc = jstream_next(js, &v, &e);
	json_object_put(v);
	jstream_close(js);
	fclose(f);
	return e.msg;
}

static const char *
stream_error(const char *text, int *rc)
{
	return stream_error_max(text, 0, rc);
}

int
main(void)
{
	char big[200000], *p;
	const char *msg;
	int i, rc;

	plan(32);
	is_str(problem("{\"a\":1,\"b\":2}"), "", "distinct keys are fine");
	is_str(problem("{\"a\":1,\"a\":2}"), "1: duplicate key \"a\"", "a repeated key");
	is_str(problem("{\"a\":1,\"\\u0061\":2}"), "1: duplicate key \"\\u0061\"",
	    "an escaped spelling of the same key");
	/* json-c 0.16 reads some pairs (\ud836\ude00) as U+FFFD: keys with
	 * escaped surrogates are refused, not compared */
	is_str(problem("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}"),
	    "1: surrogate escape in key \"\\ud83d\\ude00\"", "a key with an escaped surrogate pair");
	is_str(problem("{\"\\ud800\":1,\"\\ud801\":2}"), "1: surrogate escape in key \"\\ud800\"",
	    "a key with a lone surrogate");
	is_str(problem("{\"\\ud836\\ude00\":1,\"\\ud800\":3}"), "1: surrogate escape in key \"\\ud836\\ude00\"",
	    "a pair json-c reads as U+FFFD, as a lone surrogate is (found by fuzz-jstrict)");
	is_str(problem("{\"k\":\"\\ud836\\ude00\"}"), "", "a surrogate escape in a value is fine");
	is_str(problem("{\"a\":{\"x\":1},\"b\":{\"x\":1}}"), "",
	    "the same key in two objects");
	is_str(problem("[{\"x\":1},{\"x\":2}]"), "", "the same key in array elements");
	is_str(problem("{\"a\":\"a\",\"b\":[\"a\",\"a\"]}"), "",
	    "values equal to keys are not keys");
	is_str(problem("{\"a\":{\"b\":1,\"b\":2}}"), "1: duplicate key \"b\"",
	    "a repeat in a nested object");
	is_str(problem("{\n\"t\":[\n{\"s\":1,\n\"s\":2}]}"), "4: duplicate key \"s\"",
	    "the line of the second occurrence");
	is_str(problem("{\"z\":1,\n\"z\":2,\"q\":{\"y\":1,\"y\":1}}"),
	    "2: duplicate key \"z\"", "the first in the text, not the first object closed");
	is_str(problem("{\"name\\u0000x\":1}"), "1: NUL character in key \"name\\u0000x\"",
	    "a key with a NUL, which json-c would cut short");
	is_str(problem("{\"a\\\"b\":1,\"a\\\"b\":2}"), "1: duplicate key \"a\\\"b\"",
	    "an escaped quote in a key");
	is_str(problem("{\"k\":\"{\\\"k\\\":1,\\\"k\\\":2}\"}"), "",
	    "JSON inside a string value is text");

	/* Many keys: the sorted path. */
	p = big;
	p += snprintf(p, 100, "{");
	for (i = 0; i < 5000; i++)
		p += snprintf(p, 100, "\"k%d\":%d,", i, i);
	p += snprintf(p, 100, "\"k4321\":0}");
	is_str(problem(big), "1: duplicate key \"k4321\"", "one repeat among 5,000 keys");
	big[p - big - 11] = '}';
	big[p - big - 10] = '\0';
	is_str(problem(big), "", "5,000 distinct keys");
	snprintf(big, sizeof(big), "{\"%0100d\":1,\"%0100d\":2}", 7, 7);
	ok(strlen(problem(big)) < 100, "a long key is cut in the message (%zu)", strlen(problem(big)));

	is_str(problem("{\"a\nb\":1}"), "1: unescaped control character U+000A in a string: "
	    "escape it as \\u000a", "a raw newline in a key");
	is_str(problem("[\"ok\",\n\"\x1b[31mred\"]"), "2: unescaped control character U+001B "
	    "in a string: escape it as \\u001b", "a raw ESC in a value");
	is_str(problem("{\"a\":\"x\\ty\\u001b\"}"), "", "escaped control characters are fine");
	is_str(problem("{\"b\":\"\t\",\"b\":1}"), "1: unescaped control character U+0009 "
	    "in a string: escape it as \\u0009", "the first problem in the text wins");

	/* Not JSON at all: no crash, nothing invented. */
	is_str(problem("}}]]{\"a\":1,\"a\""), "1: duplicate key \"a\"",
	    "stray closers and an unclosed object");
	is_str(problem("{\"a"), "", "an unterminated string");

	msg = stream_error("{\"customer_id\":\"a\",\n\"customer_id\":\"b\"}\n", &rc);
	is_str(msg, "line 2: duplicate key \"customer_id\"",
	    "jstream_next refuses the value, naming the key and its line");
	ok(rc == -1, "and reading may go on (rc %d)", rc);
	msg = stream_error("\n\n{\"a\":[1,2,3]}\n", &rc);
	ok(rc == 1 && *msg == '\0', "a clean value comes through (rc %d)", rc);

	/* 1 MiB of text may cost 16 MiB: 20,000 empty objects would not fit. */
	p = big;
	*p++ = '[';
	for (i = 0; i < 30000; i++) {
		memcpy(p, "{},", 3);
		p += 3;
	}
	memcpy(p - 1, "]", 2);
	msg = stream_error_max(big, 1024 * 1024, &rc);
	is_str(msg, "line 1: value has too many objects, arrays or elements: "
	    "it would take more than 16 MiB of memory", "many empty objects cost memory");
	ok(rc == -2, "and reading stops there (rc %d)", rc);
	p = big;
	p += snprintf(p, 100, "[\"");
	for (i = 0; i < 600; i++)
		*p++ = '{';
	snprintf(p, 100, "\\\"[[\",1]");
	msg = stream_error_max(big, 1024, &rc);
	ok(rc == 1 && *msg == '\0', "braces inside strings cost nothing (rc %d: %s)", rc, msg);
	msg = stream_error_max("[{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}]", 1024, &rc);
	ok(rc == -2, "a small limit is reached with few objects (rc %d)", rc);
	return done();
}
