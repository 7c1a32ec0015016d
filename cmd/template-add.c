/* template-add: add (or replace an unsent) sequence step of a campaign */
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

static const char usage[] =
    "usage: template-add [-qrvV] [-d conninfo] -c campaign_id\n";

/*
 * Every object on standard input (one, or JSON Lines), each with the line
 * it began on. Invalid JSON is reported and reading goes on, so every
 * error in the input is named.
 */
static json_object *
read_all(long **lines, struct vlist *errs)
{
	json_object *list = json_object_new_array(), *v;
	struct jstream *js;
	struct derr e;
	size_t n = 0;
	long *l = NULL, *nl;
	int rc;

	if (list == NULL || (js = jstream_open(STDIN_FILENO, 0)) == NULL)
		die(EX_OSERR, "out of memory");
	while ((rc = jstream_next(js, &v, &e)) != 0) {
		if (rc == -2 && e.code != EX_DATAERR)
			die_derr(&e);
		if (rc < 0)
			vlist_add(errs, "%s", e.msg);
		if (rc == -2)
			break;
		if (rc == -1)
			continue;
		if (n == TEMPLATE_STEP_MAX) {
			vlist_add(errs, "line %ld: a campaign has at most %d steps",
			    jstream_line(js), TEMPLATE_STEP_MAX);
			json_object_put(v);
			break;
		}
		if ((nl = reallocarray(l, n + 1, sizeof(*l))) == NULL)
			die(EX_OSERR, "out of memory");
		l = nl;
		l[n++] = jstream_line(js);
		json_object_array_add(list, v);
	}
	jstream_close(js);
	if (n == 0 && errs->total == 0)
		vlist_add(errs, "input: empty, expected a template object");
	*lines = l;
	return list;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "campaign", required_argument, NULL, 'c' },
		{ "replace", no_argument, NULL, 'r' },
		COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct vlist errs = { .n = 0 }, one = { .n = 0 };
	struct derr e;
	json_object *list, *out;
	long long id = 0;
	long *lines;
	size_t i, n;
	int ch, replace = 0;
	PGconn *db;

	tool_start("template-add", usage, argv);
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS "c:r", longopts, NULL)) != -1) {
		if (common_option(ch, optarg))
			continue;
		if (ch == 'c')
			id = option_number("-c", optarg, 1, INT64_MAX);
		else if (ch == 'r')
			replace = 1;
	}
	if (optind != argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (id == 0)
		usage_error("no campaign: -c campaign_id");

	list = read_all(&lines, &errs);
	n = json_object_array_length(list);
	/* One object: paths alone; several: "line N: path". */
	for (i = 0; i < n; i++) {
		template_read(json_object_array_get_idx(list, i), "", &one);
		vlist_move_line(&errs, &one, n > 1 ? lines[i] : 0);
	}
	if (errs.total > 0) {
		report_vlist(&errs);
		exit(EX_DATAERR);
	}
	db = open_db();
	if (templates_add(&e, db, id, list, n > 1 ? lines : NULL, replace,
	    clock_now(), &errs, &out) == -1) {
		if (errs.total > 0) {
			report_vlist(&errs);
			exit(EX_DATAERR);
		}
		die_derr(&e);
	}
	for (i = 0; i < json_object_array_length(out); i++) {
		if (verbose)
			say(LOG_INFO, "campaign %lld: step %d stored", id, json_object_get_int(
			    json_object_object_get(json_object_array_get_idx(out, i), "step")));
		if (!quiet)
			out_json(json_object_array_get_idx(out, i));
	}
	json_object_put(out);
	json_object_put(list);
	free(lines);
	PQfinish(db);
	return out_finish();
}
