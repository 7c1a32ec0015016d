/* campaign-update: change whitelisted fields; start, pause, resume, archive */
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

static const char usage[] =
    "usage: campaign-update [-qvV] [-d conninfo] id\n";

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
	long long id;
	int ch;
	PGconn *db;

	tool_start("campaign-update", usage, argv);
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, longopts, NULL)) != -1)
		if (!common_option(ch, optarg))
			usage_error("unknown option");
	if (argc - optind != 1)
		usage_error(argc == optind ? "no campaign id" : "one campaign id, please");
	id = option_number("campaign id", argv[optind], 1, INT64_MAX);

	if ((in = json_read_one(STDIN_FILENO, &e)) == NULL)
		die_derr(&e);
	if (campaign_patch_read(in, &c, &errs) == -1) {
		report_vlist(&errs);
		exit(EX_DATAERR);
	}
	db = open_db();
	if (campaign_update(&e, db, id, &c, clock_now()) == -1)
		die_derr(&e);
	if ((out = campaign_get(&e, db, id)) == NULL)
		die_derr(&e);
	if (verbose)
		say(LOG_INFO, "campaign %lld is %s", id,
		    json_object_get_string(json_object_object_get(out, "status")));
	if (!quiet)
		out_json(out);
	json_object_put(out);
	json_object_put(in);
	PQfinish(db);
	return out_finish();
}
