/*
 * db.c: PostgreSQL access.
 *
 * Every statement goes through PQexecParams: parameters travel apart from
 * the SQL text, and the statement is unnamed, so nothing outlives a
 * transaction and drip works behind PgBouncer in transaction pooling mode.
 */
#include <stdlib.h>
#include <string.h>

#include "drip.h"

const char *
db_conninfo(const char *option)
{
	const char *env;

	if (option != NULL)
		return option;
	if ((env = getenv("DATABASE_URL")) != NULL && *env != '\0')
		return env;
	return "";	/* libpq's PG* environment and defaults */
}

/*
 * libpq's messages end in a newline and may hold more lines ("...failed:
 * No such file or directory\n\tIs the server running..."): diagnostics are
 * one line each, so line breaks and the indentation after them become one
 * space.
 */
static void
chomp(char *s)
{
	char *r, *w;
	size_t n;

	for (r = w = s; *r != '\0'; r++) {
		if (*r == '\n' || *r == '\r') {
			while (r[1] == '\n' || r[1] == '\r' || r[1] == '\t' || r[1] == ' ')
				r++;
			*w++ = ' ';
		} else
			*w++ = *r == '\t' ? ' ' : *r;
	}
	*w = '\0';
	n = (size_t)(w - s);
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
}

PGconn *
db_connect(struct derr *e, const char *conninfo)
{
	PGconn *c;
	char why[512];

	c = PQconnectdb(conninfo);
	if (c == NULL)
		return derr_set(e, EX_OSERR, "database: out of memory"), NULL;
	if (PQstatus(c) != CONNECTION_OK) {
		strlcpy(why, PQerrorMessage(c), sizeof(why));
		chomp(why);
		PQfinish(c);
		derr_set(e, EX_TEMPFAIL, "cannot connect to database: %s", why);
		return NULL;
	}
	PQsetClientEncoding(c, "UTF8");
	return c;
}

PGconn *
db_open(struct derr *e, const char *conninfo)
{
	PGconn *c;

	if ((c = db_connect(e, conninfo)) == NULL)
		return NULL;
	if (db_schema_check(e, c) == -1) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

const char *
db_sqlstate(const PGresult *r)
{
	const char *s = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return s != NULL ? s : "";
}

/*
 * Map a failed statement to the contract's exit codes: the database being
 * away, a serialization failure or a deadlock is temporary (75, try again);
 * a constraint says the input was wrong (65); anything else is our bug (70).
 */
int
db_error(struct derr *e, PGconn *c, const PGresult *r, const char *what)
{
	const char *st = db_sqlstate(r);
	const char *msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char why[512];
	int code = EX_SOFTWARE;

	strlcpy(why, msg != NULL ? msg : PQerrorMessage(c), sizeof(why));
	chomp(why);
	if (PQstatus(c) != CONNECTION_OK || strncmp(st, "08", 2) == 0 ||
	    strncmp(st, "57", 2) == 0 || strcmp(st, "40001") == 0 ||
	    strcmp(st, "40P01") == 0 || strcmp(st, "55P03") == 0 ||
	    strcmp(st, "53300") == 0)
		code = EX_TEMPFAIL;
	else if (strncmp(st, "23", 2) == 0 || strncmp(st, "22", 2) == 0)
		code = EX_DATAERR;
	else if (strcmp(st, "42501") == 0)
		code = EX_NOPERM;
	return derr_set(e, code, "%s: %s", what != NULL ? what : "database", why);
}

PGresult *
db_exec(struct derr *e, PGconn *c, const char *sql, int nparams,
    const char *const *params)
{
	PGresult *r;
	ExecStatusType st;

	r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	st = PQresultStatus(r);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return r;
	db_error(e, c, r, "database");
	PQclear(r);
	return NULL;
}

/* db_exec in two halves: send now, take the answer when it has come. */
int
db_send(struct derr *e, PGconn *c, const char *sql, int nparams,
    const char *const *params)
{
	if (!PQsendQueryParams(c, sql, nparams, NULL, params, NULL, NULL, 0))
		return db_error(e, c, NULL, "database");
	return 0;
}

/* 1 and *out: answered; 0: not yet (only when !wait); -1: failed */
int
db_answer(struct derr *e, PGconn *c, int wait, PGresult **out)
{
	PGresult *r, *more;
	ExecStatusType st;

	*out = NULL;
	if (!wait) {
		if (!PQconsumeInput(c))
			return db_error(e, c, NULL, "database");
		if (PQisBusy(c))
			return 0;
	}
	if ((r = PQgetResult(c)) == NULL)
		return derr_set(e, EX_SOFTWARE, "database: no answer");
	while ((more = PQgetResult(c)) != NULL)
		PQclear(more);
	st = PQresultStatus(r);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		db_error(e, c, r, "database");
		PQclear(r);
		return -1;
	}
	*out = r;
	return 1;
}

int
db_cmd(struct derr *e, PGconn *c, const char *sql, int nparams,
    const char *const *params)
{
	PGresult *r;

	if ((r = db_exec(e, c, sql, nparams, params)) == NULL)
		return -1;
	PQclear(r);
	return 0;
}

int
db_begin(struct derr *e, PGconn *c)
{
	return db_cmd(e, c, "BEGIN", 0, NULL);
}

int
db_commit(struct derr *e, PGconn *c)
{
	return db_cmd(e, c, "COMMIT", 0, NULL);
}

void
db_rollback(PGconn *c)
{
	PQclear(PQexec(c, "ROLLBACK"));
}

int
db_schema_check(struct derr *e, PGconn *c)
{
	int have, want = migrate_latest();

	if (migrate_current(e, c, &have) == -1)
		return -1;
	if (have == 0)
		return derr_set(e, EX_TEMPFAIL,
		    "schema drip is not installed: run db-migrate");
	if (have < want)
		return derr_set(e, EX_TEMPFAIL,
		    "schema drip is at version %d, this drip needs %d: run db-migrate",
		    have, want);
	if (have > want)
		return derr_set(e, EX_TEMPFAIL,
		    "schema drip is at version %d, newer than this drip (%d): upgrade drip",
		    have, want);
	return 0;
}
