/* db-migrate: create or upgrade the schema drip */
#include <stdlib.h>

#include "common.h"

static const char usage[] =
    "usage: db-migrate [-qvV] [-d conninfo] [--status]\n";

/* The versions whose flag is want. */
static json_object *
version_list(const unsigned char *flags, int want)
{
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < drip_nmigrations; i++)
		if (!!flags[i] == want)
			json_object_array_add(a,
			    json_object_new_int(drip_migrations[i].version));
	return a;
}

static int
status(PGconn *c)
{
	unsigned char applied[256];
	struct derr e;
	json_object *o;
	int have;

	if (drip_nmigrations > sizeof(applied))
		die(EX_SOFTWARE, "too many migrations");
	if (migrate_state(&e, c, &have, applied) == -1)
		die_derr(&e);
	o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_int(have));
	json_object_object_add(o, "latest", json_object_new_int(migrate_latest()));
	json_object_object_add(o, "pending", version_list(applied, 0));
	out_json(o);
	json_object_put(o);
	if (have > migrate_latest())
		die(EX_TEMPFAIL, "schema drip is at version %d, newer than this drip (%d): upgrade drip",
		    have, migrate_latest());
	return 0;
}

static int
migrate(PGconn *c)
{
	unsigned char did[256];
	struct derr e;
	json_object *o;
	size_t i;
	int to;

	if (drip_nmigrations > sizeof(did))
		die(EX_SOFTWARE, "too many migrations");
	if (migrate_apply(&e, c, did, &to) == -1)
		die_derr(&e);
	for (i = 0; verbose && i < drip_nmigrations; i++)
		if (did[i])
			say(LOG_INFO, "applied migration %d (%s)", drip_migrations[i].version,
			    drip_migrations[i].name);
	o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_int(to));
	json_object_object_add(o, "latest", json_object_new_int(migrate_latest()));
	json_object_object_add(o, "applied", version_list(did, 1));
	if (!quiet)
		out_json(o);
	json_object_put(o);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "status", no_argument, NULL, 's' },
		COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct derr e;
	PGconn *c;
	int ch, show = 0, rc;

	tool_start("db-migrate", usage, argv);
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (common_option(ch, optarg))
			continue;
		if (ch == 's')
			show = 1;
	}
	if (optind != argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if ((c = db_connect(&e, db_conninfo(db_option))) == NULL)
		die_derr(&e);
	rc = show ? status(c) : migrate(c);
	PQfinish(c);
	return rc ? rc : out_finish();
}
