/* suppress: add, remove, list and check a customer's suppression entries */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char usage[] =
    "usage: suppress add|remove|list|check [-qvV] [-d conninfo] --customer id\n"
    "                [--reason text] [--source name] [--skip-invalid] [value ...]\n";

#define SHOW_INVALID	100
#define LINE_MAX_IN	4096	/* a line of standard input, in bytes */
#define REASON_MAX	200

#define ENTRY_COLUMNS \
	"e.id, e.customer_id, e.value, e.kind, e.reason, e.source, drip.rfc3339(e.created_at)"

enum cmd { ADD, REMOVE, LIST, CHECK };

struct opts {
	enum cmd	 cmd;
	const char	*customer;
	const char	*reason, *source;
	int		 skip_invalid;
	char		**args;		/* values from the command line */
	int		 nargs;
};

/* One value, from an argument or a line of standard input. */
struct value {
	long		 line;		/* 0: an argument */
	const char	*text;		/* as given */
	const char	*reason;	/* NULL: --reason */
	const char	*kind;
	char		 norm[EMAIL_MAX + 1];
};

struct input {
	const struct opts *o;
	int		 arg;
	long		 line;
	char		 buf[LINE_MAX_IN + 2];
	char		*text;		/* the line, without the blanks around it */
	json_object	*obj;		/* the current JSON line */
	long long	 invalid;
};

static const struct jfield entry_fields[] = {
	{ "value",	JK_STRING, JF_REQUIRED },
	{ "reason",	JK_STRING, JF_NULLABLE | JF_NONEMPTY, .maxlen = REASON_MAX },
	{ .name = NULL }
};

static void
invalid(struct input *in, const char *fmt, ...) DRIP_PRINTF(2, 3);

static void
invalid(struct input *in, const char *fmt, ...)
{
	va_list ap;
	char msg[1024];

	if (++in->invalid > SHOW_INVALID)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say(LOG_ERR, "%s", msg);
}

/* Read one line; 0 at the end. A line too long is skipped and reported. */
static int
read_line(struct input *in)
{
	const char *end;
	size_t len;
	int c;

	for (;;) {
		/* fgets() says nothing of a NUL byte in the line: find its own
		 * terminator, the last NUL before the untouched filler */
		memset(in->buf, 1, sizeof(in->buf));
		if (fgets(in->buf, sizeof(in->buf), stdin) == NULL) {
			if (ferror(stdin))
				die(EX_IOERR, "read standard input: %s", strerror(errno));
			return 0;
		}
		in->line++;
		len = strlen(in->buf);
		end = memrchr(in->buf, '\0', sizeof(in->buf));
		if (end != in->buf + len) {
			if (end[-1] != '\n')	/* the rest of the line */
				while ((c = getchar()) != EOF && c != '\n')
					;
			invalid(in, "line %ld: a NUL byte", in->line);
			continue;
		}
		if (len > LINE_MAX_IN && in->buf[len - 1] != '\n') {
			while ((c = getchar()) != EOF && c != '\n')
				;
			invalid(in, "line %ld: longer than %d bytes", in->line, LINE_MAX_IN);
			continue;
		}
		while (len > 0 && strchr(" \t\r\n", in->buf[len - 1]) != NULL)
			in->buf[--len] = '\0';
		for (in->text = in->buf; *in->text == ' ' || *in->text == '\t'; in->text++)
			;
		if (*in->text != '\0')
			return 1;
	}
}

/*
 * Exactly one JSON value, strictly (RFC 8259, valid UTF-8, no key twice in
 * an object), or NULL and why.
 */
static json_object *
parse_strict(const char *text, char *why, size_t whysz)
{
	json_tokener *tok;
	json_object *v;
	size_t len = strlen(text);
	long line;

	if ((tok = json_tokener_new()) == NULL)
		die(EX_OSERR, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	v = json_tokener_parse_ex(tok, text, (int)len);
	strlcpy(why, "invalid JSON", whysz);
	if (v != NULL && (json_tokener_get_parse_end(tok) != len ||
	    json_strict_check(text, len, &line, why, whysz) != 0)) {
		json_object_put(v);
		v = NULL;
	}
	json_tokener_free(tok);
	return v;
}

/* A JSON line: {"value": ..., "reason": ...}, read against entry_fields. */
static int
json_value(struct input *in, struct value *v)
{
	struct vlist errs = { .n = 0 };
	char why[160];
	size_t i;

	json_object_put(in->obj);
	if ((in->obj = parse_strict(in->text, why, sizeof(why))) == NULL) {
		invalid(in, "line %ld: %s", in->line, why);
		return -1;
	}
	if (jread_check(in->obj, "", entry_fields, &errs) != 0) {
		in->invalid++;
		for (i = 0; i < errs.n && in->invalid <= SHOW_INVALID; i++)
			say(LOG_ERR, "line %ld: %s", in->line, errs.msg[i]);
		vlist_free(&errs);
		return -1;
	}
	v->text = jstr(in->obj, "value");
	v->reason = jstr(in->obj, "reason");
	return 0;
}

/*
 * The next valid value: 1, or 0 at the end. Invalid ones are reported
 * (the first hundred) and counted, and skipped.
 */
static int
next_value(struct input *in, struct value *v)
{
	const char *why;

	for (;;) {
		memset(v, 0, sizeof(*v));
		if (in->o->nargs > 0) {
			if (in->arg == in->o->nargs)
				return 0;
			v->text = in->o->args[in->arg++];
		} else {
			if (!read_line(in))
				return 0;
			v->line = in->line;
			v->text = in->text;
			if (*in->text == '{' && json_value(in, v) == -1)
				continue;
		}
		if (suppress_value(v->text, v->norm, &v->kind, &why) == 0)
			return 1;
		if (v->line == 0)
			invalid(in, "'%s': %s", v->text, why);
		else if (*in->text == '{')
			invalid(in, "line %ld: value: %s", v->line, why);
		else
			invalid(in, "line %ld: %s", v->line, why);
	}
}

static json_object *
entry_json(const PGresult *r, int row)
{
	static const char *const names[] = {
		"id", "customer_id", "value", "kind", "reason", "source", "created_at"
	};
	json_object *o = json_object_new_object();
	const char *errstr;
	int i;

	for (i = 0; i < 7; i++) {
		if (i == 0)
			json_object_object_add(o, names[i], json_object_new_int64(
			    strtonum(PQgetvalue(r, row, i), 1, LLONG_MAX, &errstr)));
		else
			json_object_object_add(o, names[i],
			    json_object_new_string(PQgetvalue(r, row, i)));
	}
	return o;
}

/*
 * Run a query in single-row mode and write each entry it returns to out
 * as a JSON line: a million entries cost no more memory than one.
 */
static int
stream_entries(struct derr *e, PGconn *c, const char *sql, int n,
    const char *const *p, FILE *out)
{
	PGresult *r;
	json_object *o;
	int rc = 0;

	if (!PQsendQueryParams(c, sql, n, NULL, p, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(c))
		return db_error(e, c, NULL, "database");
	while ((r = PQgetResult(c)) != NULL) {
		switch (PQresultStatus(r)) {
		case PGRES_SINGLE_TUPLE:
			o = entry_json(r, 0);
			fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE), out);
			fputc('\n', out);
			json_object_put(o);
			break;
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			break;
		default:
			if (rc == 0)
				rc = db_error(e, c, r, "database");
		}
		PQclear(r);
	}
	return rc;
}

static noreturn void
fail(PGconn *c, const struct derr *e)
{
	db_rollback(c);
	die_derr(e);
}

static const char stage_sql[] =
    "CREATE TEMP TABLE drip_suppress (line bigint NOT NULL, value text NOT NULL,"
    " kind text NOT NULL, reason text) ON COMMIT DROP";

static const char add_sql[] =
    "INSERT INTO drip.suppression_entry (customer_id, value, kind, reason, source)"
    " SELECT DISTINCT ON (value) $1, value, kind,"
    " coalesce(reason, $2, 'manual'), coalesce($3, 'suppress')"
    " FROM pg_temp.drip_suppress ORDER BY value, line"
    " ON CONFLICT (customer_id, value) DO NOTHING";

static const char added_sql[] =
    "SELECT " ENTRY_COLUMNS
    " FROM (SELECT value, min(line) AS line FROM pg_temp.drip_suppress"
    " GROUP BY value) s"
    " JOIN drip.suppression_entry e ON e.customer_id = $1 AND e.value = s.value"
    " ORDER BY s.line";

static const char remove_sql[] =
    "DELETE FROM drip.suppression_entry e"
    " USING (SELECT DISTINCT value FROM pg_temp.drip_suppress) s"
    " WHERE e.customer_id = $1 AND e.value = s.value"
    " RETURNING " ENTRY_COLUMNS;

/* Copy what was written to the spool to standard output. */
static void
unspool(FILE *spool)
{
	char buf[65536];
	size_t n;

	rewind(spool);
	while ((n = fread(buf, 1, sizeof(buf), spool)) > 0)
		fwrite(buf, 1, n, stdout);
	if (ferror(spool))
		die(EX_IOERR, "read spool: %s", strerror(errno));
	fclose(spool);
}

/*
 * add and remove: every value streams with COPY into a staging table and
 * one statement writes them all, in one transaction. What is printed is
 * read back in that transaction, spooled, and shown once COMMIT succeeded.
 */
static int
add_or_remove(PGconn *c, const struct opts *o)
{
	const char *p[3] = { o->customer, o->reason, o->source };
	struct input in = { .o = o };
	struct copyw *w;
	struct value v;
	struct derr e;
	PGresult *r;
	long long staged = 0;
	FILE *spool;

	if ((spool = tmpfile()) == NULL)
		die(EX_CANTCREAT, "spool: %s", strerror(errno));
	if (db_begin(&e, c) == -1 || db_cmd(&e, c, stage_sql, 0, NULL) == -1 ||
	    (w = copyw_start(&e, c, "COPY pg_temp.drip_suppress FROM STDIN")) == NULL)
		fail(c, &e);
	while (next_value(&in, &v)) {
		if (in.invalid > 0 && !o->skip_invalid)
			continue;	/* nothing will be written: only check */
		if (copyw_int(&e, w, v.line > 0 ? v.line : in.arg) == -1 ||
		    copyw_str(&e, w, v.norm) == -1 || copyw_str(&e, w, v.kind) == -1 ||
		    copyw_str(&e, w, v.reason) == -1 || copyw_row(&e, w) == -1)
			fail(c, &e);
	}
	json_object_put(in.obj);
	if (in.invalid > SHOW_INVALID)
		say(LOG_ERR, "%lld more invalid values", in.invalid - SHOW_INVALID);
	if (in.invalid > 0 && !o->skip_invalid) {
		copyw_abort(w, "invalid input");
		db_rollback(c);
		die(EX_DATAERR, "%lld invalid %s: nothing written", in.invalid,
		    in.invalid == 1 ? "value" : "values");
	}
	if (copyw_end(&e, w, &staged) == -1)
		fail(c, &e);
	if (o->cmd == ADD) {
		if ((r = db_exec(&e, c, add_sql, 3, p)) == NULL)
			fail(c, &e);
		if (verbose)
			say(LOG_INFO, "%lld values, %s added", staged, PQcmdTuples(r));
		PQclear(r);
		if (stream_entries(&e, c, added_sql, 1, p, spool) == -1)
			fail(c, &e);
	} else if (stream_entries(&e, c, remove_sql, 1, p, spool) == -1)
		fail(c, &e);
	if (fflush(spool) == EOF || ferror(spool)) {
		derr_set(&e, EX_IOERR, "spool: %s", strerror(errno));
		fail(c, &e);
	}
	if (db_commit(&e, c) == -1)
		fail(c, &e);
	if (!quiet)
		unspool(spool);
	else
		fclose(spool);
	return 0;
}

static int
list(PGconn *c, const struct opts *o)
{
	const char *p[1] = { o->customer };
	struct derr e;

	if (stream_entries(&e, c, "SELECT " ENTRY_COLUMNS
	    " FROM drip.suppression_entry e WHERE e.customer_id = $1"
	    " ORDER BY e.value", 1, p, stdout) == -1)
		die_derr(&e);
	return 0;
}

/* check: exit 1 when any value is suppressed, 0 when none is. */
static int
check(PGconn *c, const struct opts *o)
{
	struct input in = { .o = o };
	struct value v;
	struct derr e;
	json_object *res;
	PGresult *r;
	char addr[EMAIL_MAX + 2], id[24];
	const char *p[1] = { id };
	long long entry;
	int hit, any = 0;

	while (next_value(&in, &v)) {
		/* A domain is suppressed when it or a parent domain is. */
		snprintf(addr, sizeof(addr), "%s%s",
		    strcmp(v.kind, "domain") == 0 ? "@" : "", v.norm);
		if ((hit = suppress_lookup(&e, c, o->customer, addr, &entry)) == -1)
			die_derr(&e);
		res = json_object_new_object();
		json_object_object_add(res, "value", json_object_new_string(v.text));
		json_object_object_add(res, "suppressed", json_object_new_boolean(hit));
		if (hit) {
			snprintf(id, sizeof(id), "%lld", entry);
			if ((r = db_exec(&e, c, "SELECT " ENTRY_COLUMNS
			    " FROM drip.suppression_entry e WHERE e.id = $1", 1, p)) == NULL)
				die_derr(&e);
			json_object_object_add(res, "entry",
			    PQntuples(r) > 0 ? entry_json(r, 0) : NULL);
			PQclear(r);
			any = 1;
		} else
			json_object_object_add(res, "entry", NULL);
		if (!quiet)
			out_json(res);
		json_object_put(res);
	}
	json_object_put(in.obj);
	if (in.invalid > SHOW_INVALID)
		say(LOG_ERR, "%lld more invalid values", in.invalid - SHOW_INVALID);
	if (in.invalid > 0 && !o->skip_invalid)
		die(EX_DATAERR, "%lld invalid %s", in.invalid,
		    in.invalid == 1 ? "value" : "values");
	return any;
}

static enum cmd
command(const char *s)
{
	static const char *const names[] = { "add", "remove", "list", "check" };
	size_t i;

	for (i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return (enum cmd)i;
	usage_error("unknown command '%s'", s);
}

static const char *
text_option(const char *opt, const char *arg, size_t max)
{
	size_t len = strlen(arg);

	if (len == 0 || len > max || !utf8_valid(arg, len))
		usage_error("%s: must be UTF-8 text of 1 to %zu bytes", opt, max);
	return arg;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "customer",	  required_argument, NULL, 'c' },
		{ "reason",	  required_argument, NULL, 'r' },
		{ "skip-invalid", no_argument,	     NULL, 'S' },
		{ "source",	  required_argument, NULL, 's' },
		COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { .customer = NULL };
	PGconn *c;
	int ch, rc = 0;

	tool_start("suppress", usage, argv);
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (common_option(ch, optarg))
			continue;
		switch (ch) {
		case 'c':
			o.customer = text_option("--customer", optarg, 200);
			break;
		case 'r':
			o.reason = text_option("--reason", optarg, REASON_MAX);
			break;
		case 'S':
			o.skip_invalid = 1;
			break;
		case 's':
			o.source = text_option("--source", optarg, 200);
			break;
		}
	}
	if (optind == argc)
		usage_error("a command is needed: add, remove, list or check");
	o.cmd = command(argv[optind++]);
	o.args = argv + optind;
	o.nargs = argc - optind;
	if (o.customer == NULL)
		usage_error("--customer is required");
	if ((o.reason != NULL || o.source != NULL) && o.cmd != ADD)
		usage_error("--reason and --source are for add only");
	if (o.cmd == LIST && o.nargs > 0)
		usage_error("list takes no values");

	c = open_db();
	switch (o.cmd) {
	case ADD:
	case REMOVE:
		rc = add_or_remove(c, &o);
		break;
	case LIST:
		rc = list(c, &o);
		break;
	case CHECK:
		rc = check(c, &o);
		break;
	}
	PQfinish(c);
	ch = out_finish();
	return ch != 0 ? ch : rc;
}
