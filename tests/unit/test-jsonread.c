/* test-jsonread: the whitelist reader reports every error with its path */
#include <fcntl.h>
#include <unistd.h>

#include "drip.h"
#include "tap.h"

static const struct jfield window_fields[] = {
	{ "days", JK_ARRAY, 0, .elem = JK_STRING, .min = 1, .max = 7 },
	{ "start", JK_STRING, 0 },
	{ .name = NULL }
};
static const struct jfield tmpl_fields[] = {
	{ "subject", JK_STRING, JF_REQUIRED | JF_NONEMPTY },
	{ "delay_days", JK_INT, 0, .min = 0, .max = 365 },
	{ .name = NULL }
};
static const struct jfield top_fields[] = {
	{ "customer_id", JK_STRING, JF_REQUIRED | JF_NONEMPTY, .maxlen = 200 },
	{ "identity_id", JK_INT, JF_REQUIRED, .min = 1, .max = INT64_MAX },
	{ "send_window", JK_OBJECT, 0, .sub = window_fields },
	{ "templates", JK_ARRAY, 0, .elem = JK_OBJECT, .sub = tmpl_fields },
	{ "prospects", JK_ARRAY, 0, .elem = JK_OBJECT, .sub = prospect_fields },
	{ "active", JK_BOOL, JF_NULLABLE },
	{ .name = NULL }
};

static int
has(const struct vlist *v, const char *msg)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->msg[i], msg) == 0)
			return 1;
	printf("# missing: %s\n", msg);
	for (i = 0; i < v->n; i++)
		printf("#   have: %s\n", v->msg[i]);
	return 0;
}

static int
check(const char *json, struct vlist *v)
{
	json_object *o = json_tokener_parse(json);
	int n;

	vlist_free(v);
	n = jread_check(o, "", top_fields, v);
	json_object_put(o);
	return n;
}

static json_object *
read_text(const char *text, struct derr *e)
{
	int fd[2];
	json_object *o;

	if (pipe(fd) == -1)
		return NULL;
	(void)!write(fd[1], text, strlen(text));
	close(fd[1]);
	o = json_read_one(fd[0], e);
	close(fd[0]);
	return o;
}

int
main(void)
{
	struct vlist v = { .n = 0 };
	struct derr e;
	json_object *o;

	plan(17);
	ok(check("{\"customer_id\":\"acme\",\"identity_id\":3}", &v) == 0,
	    "a valid object has no errors");
	ok(check("{\"customer_id\":\"acme\",\"identity_id\":3,\"extra\":1,"
	    "\"send_window\":{\"days\":[\"mon\",2],\"bogus\":true},"
	    "\"templates\":[{\"subject\":\"a\"},{\"subject\":\"\",\"delay_days\":400,\"x\":1}],"
	    "\"prospects\":[{\"email\":\"nope\"},{\"email\":\"b@example.com\",\"fields\":{\"k\":1}}]}",
	    &v) == 8, "every error is collected, not only the first (%zu)", v.total);
	ok(has(&v, "extra: unknown field"), "unknown top-level field named");
	ok(has(&v, "send_window.bogus: unknown field"), "unknown nested field named with its path");
	ok(has(&v, "send_window.days[1]: must be a string"), "wrong element type named with its index");
	ok(has(&v, "templates[1].subject: must not be empty"), "empty string in an array element");
	ok(has(&v, "templates[1].delay_days: must be from 0 to 365"), "out of range integer");
	ok(has(&v, "templates[1].x: unknown field"), "unknown field inside an array element");
	ok(has(&v, "prospects[0].email: no @"), "an invalid email says why");
	ok(has(&v, "prospects[1].fields.k: must be a string"), "fields values must be strings");

	check("{\"identity_id\":\"3\"}", &v);
	ok(has(&v, "identity_id: must be a whole number") && has(&v, "customer_id: required"),
	    "wrong type and missing required field");
	check("{\"customer_id\":\"a\",\"identity_id\":1.5}", &v);
	ok(has(&v, "identity_id: must be a whole number"), "a float is not a whole number");
	check("{\"customer_id\":\"a\",\"identity_id\":99999999999999999999}", &v);
	ok(v.total == 1, "a number beyond 64 bits is rejected");
	check("{\"customer_id\":\"a\\u0000b\",\"identity_id\":1}", &v);
	ok(has(&v, "customer_id: contains a NUL character"), "NUL inside a string is rejected");

	o = read_text("{\"a\":1}\n{\"b\":2}\n", &e);
	ok(o == NULL && strstr(e.msg, "line 2: expected one JSON object") != NULL,
	    "one object expected, a second is an error naming its line (%s)", e.msg);
	o = read_text("{\"a\":\n[1,2", &e);
	ok(o == NULL && strcmp(e.msg, "line 1: truncated JSON") == 0, "truncated JSON (%s)", e.msg);
	o = read_text("  \n{\"a\": \"\xff\"}", &e);
	ok(o == NULL && strstr(e.msg, "line 2: invalid JSON") != NULL, "invalid UTF-8 (%s)", e.msg);
	vlist_free(&v);
	return done();
}
