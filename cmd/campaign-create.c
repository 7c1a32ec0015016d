/* campaign-create: write a whole campaign (sender, steps, prospects) at once */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char usage[] =
    "usage: campaign-create [-qvV] [-d conninfo]\n";

/*
 * A campaign may carry 100,000 prospects (about 16 MB of JSON): allow twice
 * that, not more, since the whole object is held in memory, up to 25 bytes
 * for every byte read when the objects are tiny. Longer lists stream
 * through prospect-import.
 */
#define INPUT_MAX	((size_t)32 * 1024 * 1024)

static json_object *
read_input(void)
{
	struct jstream *js;
	json_object *v = NULL, *extra = NULL;
	struct derr e;
	int rc;

	if ((js = jstream_open(STDIN_FILENO, INPUT_MAX)) == NULL)
		die(EX_OSERR, "out of memory");
	if ((rc = jstream_next(js, &v, &e)) == 0)
		die(EX_DATAERR, "input: empty, expected one JSON object");
	if (rc != 1)
		die_derr(&e);
	if ((rc = jstream_next(js, &extra, &e)) == 1)
		die(EX_DATAERR, "line %ld: expected one JSON object, found more",
		    jstream_line(js));
	if (rc != 0)
		die_derr(&e);
	jstream_close(js);
	if (!json_object_is_type(v, json_type_object))
		die(EX_DATAERR, "input: expected a JSON object");
	return v;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct campaign_in c;
	struct vlist errs = { .n = 0 };
	struct derr e;
	json_object *in, *out;
	char *text;
	long long id;
	int ch, reused;
	PGconn *db;

	tool_start("campaign-create", usage, argv);
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, longopts, NULL)) != -1)
		if (!common_option(ch, optarg))
			usage_error("unknown option");
	if (optind != argc)
		usage_error("unexpected argument '%s'", argv[optind]);

	in = read_input();
	/* The input as given, before reading fills in defaults: the key's record. */
	if ((text = strdup(json_object_to_json_string_ext(in, JSON_C_TO_STRING_PLAIN))) == NULL)
		die(EX_OSERR, "out of memory");
	if (campaign_read(in, &c, &errs) == -1) {
		report_vlist(&errs);
		exit(EX_DATAERR);
	}
	db = open_db();
	if ((id = campaign_create(&e, db, &c, text, clock_now(), &reused)) == -1)
		die_derr(&e);
	if (verbose && reused)
		say(LOG_INFO, "campaign %lld exists under key '%s': nothing written",
		    id, c.key);
	else if (verbose)
		say(LOG_INFO, "created campaign %lld", id);
	if ((out = campaign_get(&e, db, id)) == NULL)
		die_derr(&e);
	if (!quiet)
		out_json(out);
	json_object_put(out);
	json_object_put(in);
	free(text);
	PQfinish(db);
	return out_finish();
}
