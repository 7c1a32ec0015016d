/*
 * migrate.c: apply the migrations compiled into the binary.
 *
 * All pending migrations run in one transaction under a transaction-level
 * advisory lock: two db-migrate runs at once serialize, and the second
 * finds nothing left to do. (A transaction-level lock is released at
 * COMMIT, so it is safe behind PgBouncer, unlike a session lock.)
 */
#include <stdlib.h>
#include <string.h>

#include "drip.h"

/* Any constant: the key of drip's migration lock. "drip" in ASCII. */
#define MIGRATE_LOCK "1685219696"

int
migrate_latest(void)
{
	return drip_nmigrations == 0 ? 0 :
	    drip_migrations[drip_nmigrations - 1].version;
}

/*
 * What the database has: its highest version, and which of the compiled
 * migrations it lacks (applied[i] says for drip_migrations[i]). A version
 * merged late, below one already applied, is still found missing.
 */
int
migrate_state(struct derr *e, PGconn *c, int *version, unsigned char *applied)
{
	PGresult *r;
	const char *errstr;
	size_t i;
	int row, v;

	*version = 0;
	memset(applied, 0, drip_nmigrations);
	r = db_exec(e, c, "SELECT to_regclass('drip.schema_migrations') IS NOT NULL", 0, NULL);
	if (r == NULL)
		return -1;
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		PQclear(r);
		return 0;
	}
	PQclear(r);
	if ((r = db_exec(e, c, "SELECT version FROM drip.schema_migrations ORDER BY 1", 0, NULL)) == NULL)
		return -1;
	for (row = 0; row < PQntuples(r); row++) {
		v = (int)strtonum(PQgetvalue(r, row, 0), 0, 1000000, &errstr);
		if (v > *version)
			*version = v;
		for (i = 0; i < drip_nmigrations; i++)
			if (drip_migrations[i].version == v)
				applied[i] = 1;
	}
	PQclear(r);
	return 0;
}

int
migrate_current(struct derr *e, PGconn *c, int *version)
{
	unsigned char applied[256];
	size_t i;

	if (drip_nmigrations > sizeof(applied))
		return derr_set(e, EX_SOFTWARE, "too many migrations");
	if (migrate_state(e, c, version, applied) == -1)
		return -1;
	/* a missing migration makes the schema older than its highest version */
	for (i = 0; i < drip_nmigrations; i++)
		if (!applied[i] && drip_migrations[i].version < *version)
			*version = drip_migrations[i].version - 1;
	return 0;
}

static int
apply_one(struct derr *e, PGconn *c, const struct migration *m)
{
	PGresult *r;
	char v[16];
	const char *p[2] = { v, m->name };

	/* Migration text is ours, compiled in: PQexec runs its many statements. */
	r = PQexec(c, m->sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		db_error(e, c, r, "migration");
		PQclear(r);
		return derr_set(e, e->code == EX_TEMPFAIL ? EX_TEMPFAIL : EX_SOFTWARE,
		    "migration %d (%s): %s", m->version, m->name, e->msg);
	}
	PQclear(r);
	snprintf(v, sizeof(v), "%d", m->version);
	return db_cmd(e, c, "INSERT INTO drip.schema_migrations (version, name) VALUES ($1, $2)", 2, p);
}

int
migrate_apply(struct derr *e, PGconn *c, unsigned char *did, int *to)
{
	unsigned char applied[256];
	size_t i;
	int have;

	if (drip_nmigrations > sizeof(applied))
		return derr_set(e, EX_SOFTWARE, "too many migrations");
	if (db_begin(e, c) == -1)
		return -1;
	if (db_cmd(e, c, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", 0, NULL) == -1 ||
	    db_cmd(e, c, "SET LOCAL client_min_messages = warning", 0, NULL) == -1 ||
	    db_cmd(e, c, "CREATE SCHEMA IF NOT EXISTS drip", 0, NULL) == -1 ||
	    db_cmd(e, c, "CREATE TABLE IF NOT EXISTS drip.schema_migrations ("
	    " version integer PRIMARY KEY,"
	    " name text NOT NULL,"
	    " applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL) == -1 ||
	    migrate_state(e, c, &have, applied) == -1)
		goto fail;
	*to = have;
	memset(did, 0, drip_nmigrations);
	if (have > migrate_latest()) {
		derr_set(e, EX_TEMPFAIL,
		    "schema drip is at version %d, newer than this drip (%d): upgrade drip",
		    have, migrate_latest());
		goto fail;
	}
	for (i = 0; i < drip_nmigrations; i++) {
		if (applied[i])
			continue;
		if (apply_one(e, c, &drip_migrations[i]) == -1)
			goto fail;
		did[i] = 1;
		if (drip_migrations[i].version > *to)
			*to = drip_migrations[i].version;
	}
	if (db_commit(e, c) == -1)
		goto fail;
	return 0;
fail:
	db_rollback(c);
	return -1;
}
