/* campaign-show: print campaigns as stored, with counts by status */
#include <stdlib.h>

#include "common.h"

static const char usage[] =
    "usage: campaign-show [-qvV] [-d conninfo] id ...\n"
    "       campaign-show [-qvV] [-d conninfo] -c customer_id\n";

static int
print(json_object *o, void *arg)
{
	(*(long *)arg)++;
	if (!quiet)
		out_json(o);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "customer", required_argument, NULL, 'c' },
		COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const char *customer = NULL;
	struct derr e;
	json_object *o;
	long long *ids;
	long n = 0;
	int ch, i, nids, rc = 0;
	PGconn *db;

	tool_start("campaign-show", usage, argv);
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS "c:", longopts, NULL)) != -1) {
		if (common_option(ch, optarg))
			continue;
		if (ch == 'c')
			customer = optarg;
	}
	nids = argc - optind;
	if (customer != NULL && nids > 0)
		usage_error("give campaign ids or -c customer_id, not both");
	if (customer == NULL && nids == 0)
		usage_error("no campaign id");
	if (customer != NULL && *customer == '\0')
		usage_error("-c: empty customer id");
	if ((ids = calloc(nids > 0 ? (size_t)nids : 1, sizeof(*ids))) == NULL)
		die(EX_OSERR, "out of memory");
	for (i = 0; i < nids; i++)
		ids[i] = option_number("campaign id", argv[optind + i], 1, INT64_MAX);

	db = open_db();
	if (customer != NULL) {
		if (campaign_each(&e, db, customer, print, &n) == -1)
			die_derr(&e);
		if (verbose)
			say(LOG_INFO, "%ld campaigns of customer '%s'", n, customer);
	}
	for (i = 0; i < nids; i++) {
		if ((o = campaign_get(&e, db, ids[i])) == NULL) {
			if (e.code != EX_NOINPUT)
				die_derr(&e);
			say(LOG_ERR, "%s", e.msg);
			rc = EX_NOINPUT;
			continue;
		}
		print(o, &n);
		json_object_put(o);
	}
	free(ids);
	PQfinish(db);
	ch = out_finish();
	return ch ? ch : rc;
}
