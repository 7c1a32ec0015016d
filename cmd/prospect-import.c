/* prospect-import: stream prospects (JSON Lines or CSV) into a campaign */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static const char usage[] =
    "usage: prospect-import [-qvV] [-d conninfo] --campaign id [--csv]\n"
    "                       [--map header=field ...] [--update] [--skip-invalid]\n"
    "                       [--rejects file]\n";

#define SHOW_INVALID	100	/* invalid rows reported one by one */

/* Where a CSV column goes. */
struct column {
	const char	*name;		/* prospect field, or key of fields */
	char		*key;		/* the key of fields, owned */
	int		 custom;	/* 1: a key of fields */
	int		 ignore;	/* mapped to nothing */
	const struct jfield *field;	/* its entry in prospect_fields */
};

struct map {
	const char	*header;
	const char	*field;
	int		 used;
};

/*
 * Time zones already found valid. Checking one reads its tzdata file;
 * a million rows in a handful of zones would make a million such reads.
 */
#define TZ_MEMO	256
struct tz_memo {
	char		*name[TZ_MEMO];
	size_t		 n;
};

struct run {
	struct importer	*im;
	struct tz_memo	 tz;
	PGconn		*conn;
	FILE		*rejects;
	const char	*rejects_path;
	int		 skip_invalid;
	long long	 read, invalid;
	/* progress on a terminal */
	int		 progress;
	struct timespec	 start, shown;
	char		 scratch[JSTREAM_BUF];	/* a row's strings */
};

static const char *const prospect_columns[] = {
	"email", "first_name", "last_name", "company", "title", "timezone", NULL
};

static double
seconds_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void
progress(struct run *r, int last)
{
	double all, since;

	if (!r->progress || (r->read % 4096 != 0 && !last))
		return;
	since = seconds_since(&r->shown);
	if (since < 0.5 && !last)
		return;
	clock_gettime(CLOCK_MONOTONIC, &r->shown);
	all = seconds_since(&r->start);
	fprintf(stderr, "\r%s: %lld rows, %.0f rows/s%s", progname, r->read,
	    all > 0 ? (double)r->read / all : 0.0, last ? "\n" : "");
}

static noreturn void
fail(struct run *r, const struct derr *e)
{
	if (r->progress)
		fputc('\n', stderr);
	import_free(r->im);
	r->im = NULL;
	db_rollback(r->conn);
	die_derr(e);
}

static void
write_reject(struct run *r, const char *raw, size_t len)
{
	if (r->rejects == NULL)
		return;
	if (raw == NULL) {
		say(LOG_WARNING, "%s: a record too long to keep is not copied",
		    r->rejects_path);
		return;
	}
	fwrite(raw, 1, len, r->rejects);
	if (len == 0 || raw[len - 1] != '\n')
		fputc('\n', r->rejects);
}

/* One invalid row: report it (the first hundred), copy it, maybe cancel. */
static void
invalid(struct run *r, long line, const struct vlist *errs, const char *msg,
    const char *raw, size_t rawlen)
{
	size_t i;

	r->invalid++;
	if (r->invalid <= SHOW_INVALID) {
		if (msg != NULL)
			say(LOG_ERR, "%s", msg);
		for (i = 0; errs != NULL && i < errs->n; i++)
			say(LOG_ERR, "line %ld: %s", line, errs->msg[i]);
	}
	write_reject(r, raw, rawlen);
	/* Strict: nothing will be written, so stop sending rows. */
	if (!r->skip_invalid && r->invalid == 1)
		import_cancel(r->im);
}

static const char *
tz_known(const struct tz_memo *m, const char *tz)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->name[i], tz) == 0)
			return m->name[i];
	return NULL;
}

static void
tz_remember(struct tz_memo *m, const char *tz)
{
	if (m->n < TZ_MEMO && tz_known(m, tz) == NULL &&
	    (m->name[m->n] = strdup(tz)) != NULL)
		m->n++;
}

/*
 * A row's time zone that an earlier row proved valid is taken out before
 * the row is checked and put back after, so it is not checked again.
 * Everything else, invalid zones included, goes through prospect_read()
 * as in campaign-create, with the same messages.
 */
static const char *
take_known_tz(struct run *r, json_object *obj)
{
	json_object *v;
	const char *tz;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "timezone", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    (tz = tz_known(&r->tz, json_object_get_string(v))) == NULL)
		return NULL;
	json_object_object_del(obj, "timezone");
	return tz;
}

/* One parsed row: validate it as campaign-create does, then stage it. */
static void
row(struct run *r, long line, json_object *obj, const char *raw, size_t rawlen)
{
	struct vlist errs = { .n = 0 };
	struct prospect p;
	struct derr e;
	const char *tz;

	r->read++;
	tz = take_known_tz(r, obj);
	if (prospect_read(obj, "", &p, &errs) == -1)
		invalid(r, line, &errs, NULL, raw, rawlen);
	else {
		if (tz != NULL)
			p.timezone = tz;
		else if (p.timezone != NULL)
			tz_remember(&r->tz, p.timezone);
		if (import_add(&e, r->im, line, &p) == -1)
			fail(r, &e);
	}
	vlist_free(&errs);
	progress(r, 0);
}

/* A time zone for prospect_scan(): known, or checked and remembered. */
static int
tz_ok(void *arg, const char *tz)
{
	struct run *r = arg;

	if (tz_known(&r->tz, tz) != NULL)
		return 1;
	if (!tz_valid(tz))
		return 0;
	tz_remember(&r->tz, tz);
	return 1;
}

/*
 * A row that prospect_scan() can read straight from the text is read so,
 * without json-c: most rows, and much faster. Any other row, valid or
 * not, goes the ordinary way below.
 */
static int
fast_row(struct run *r, struct jstream *js)
{
	struct prospect p;
	struct derr e;
	const char *text;
	size_t len, used;
	int rc;

	if ((rc = jstream_peek(js, &text, &len, &e)) == -2)
		fail(r, &e);
	if (rc != 1 || (used = prospect_scan(text, len, &p, r->scratch,
	    sizeof(r->scratch), tz_ok, r)) == 0)
		return 0;
	jstream_skip(js, used);
	r->read++;
	if (import_add(&e, r->im, jstream_line(js), &p) == -1)
		fail(r, &e);
	progress(r, 0);
	return 1;
}

static void
read_jsonl(struct run *r)
{
	struct jstream *js;
	struct derr e;
	json_object *v;
	const char *raw;
	size_t rawlen;
	int rc;

	if ((js = jstream_open(STDIN_FILENO, 0)) == NULL)
		die(EX_OSERR, "out of memory");
	if (jstream_array(js, &e) == -1)
		fail(r, &e);
	for (;;) {
		if (fast_row(r, js))
			continue;
		if ((rc = jstream_next(js, &v, &e)) == 0)
			break;
		raw = jstream_raw(js, &rawlen);
		if (rc == -2)
			fail(r, &e);
		if (rc == -1) {
			r->read++;
			invalid(r, 0, NULL, e.msg, raw, rawlen);
			continue;
		}
		row(r, jstream_line(js), v, raw, rawlen);
		json_object_put(v);
	}
	jstream_close(js);
}

static noreturn void
bad_header(struct run *r, const char *why, const char *name)
{
	struct derr e;

	derr_set(&e, EX_DATAERR, "header: %s%s%s%s", why, name ? " '" : "",
	    name ? name : "", name ? "'" : "");
	fail(r, &e);
}

static const char *
prospect_column(const char *name)
{
	size_t i;

	for (i = 0; prospect_columns[i] != NULL; i++)
		if (strcasecmp(name, prospect_columns[i]) == 0)
			return prospect_columns[i];
	return NULL;
}

static const struct jfield *
field_named(const char *name)
{
	const struct jfield *f;

	for (f = prospect_fields; f->name != NULL; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* What each header column is, after --map. Returns the columns. */
static struct column *
read_header(struct run *r, struct csv *c, struct map *maps, size_t nmaps)
{
	struct column *cols;
	struct derr e;
	size_t i, j, n = csv_nfields(c), len;
	const char *h, *target;
	int email = 0;

	/* Each key of fields a column, and the six fields: more is not a
	 * prospect list (and would make the check for repeats below slow). */
	if (n > PROSPECT_KEYS_MAX + 6) {
		derr_set(&e, EX_DATAERR, "header: %zu columns, more than %d",
		    n, PROSPECT_KEYS_MAX + 6);
		fail(r, &e);
	}
	if ((cols = calloc(n, sizeof(*cols))) == NULL)
		die(EX_OSERR, "out of memory");
	for (i = 0; i < n; i++) {
		h = csv_field(c, i, &len);
		if (str_has_nul(h, len) || !utf8_valid(h, len))
			bad_header(r, "a column name is not UTF-8 text", NULL);
		target = h;
		for (j = 0; j < nmaps; j++)
			if (strcasecmp(maps[j].header, h) == 0) {
				target = maps[j].field;
				maps[j].used = 1;
				break;
			}
		if (*target == '\0') {
			cols[i].ignore = 1;
			continue;
		}
		if ((cols[i].name = prospect_column(target)) == NULL) {
			/* The header's text goes when the next record is read. */
			if ((cols[i].key = strdup(target)) == NULL)
				die(EX_OSERR, "out of memory");
			cols[i].name = cols[i].key;
			cols[i].custom = 1;
		}
		cols[i].field = field_named(cols[i].custom ? "fields" : cols[i].name);
		email |= strcmp(cols[i].name, "email") == 0;
		for (j = 0; j < i; j++)
			if (!cols[j].ignore && cols[j].custom == cols[i].custom &&
			    strcmp(cols[j].name, cols[i].name) == 0)
				bad_header(r, "more than one column for", cols[i].name);
	}
	for (j = 0; j < nmaps; j++)
		if (!maps[j].used)
			bad_header(r, "--map: no column", maps[j].header);
	if (!email)
		bad_header(r, "no email column", NULL);
	return cols;
}

static void
free_columns(struct column *cols, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(cols[i].key);
	free(cols);
}

/* A cell as check_string() in jsonread.c takes a string of field f. */
static int
cell_ok(const struct jfield *f, const char *v, size_t len)
{
	return f != NULL && len <= (f->maxlen ? f->maxlen : JSTR_MAX) &&
	    !str_has_nul(v, len) && utf8_valid(v, len);
}

/* s as a JSON string at *o in buf: 0, or -1 if it does not fit. */
static int
json_quote(char *buf, size_t size, size_t *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, n = *o;

	if (n + 2 > size)
		return -1;
	buf[n++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (n + 7 > size)
			return -1;
		if (c == '"' || c == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)c;
		} else if (c < 0x20) {
			memcpy(buf + n, "\\u00", 4);
			buf[n + 4] = hex[c >> 4];
			buf[n + 5] = hex[c & 0xf];
			n += 6;
		} else
			buf[n++] = (char)c;
	}
	buf[n++] = '"';
	*o = n;
	return 0;
}

/* An empty cell is no value, except an empty email, which is reported. */
static int
cell_absent(const struct column *col, size_t len)
{
	return len == 0 && (col->custom || strcmp(col->name, "email") != 0);
}

/*
 * The fast way for CSV: the record straight into a prospect, with the
 * checks prospect_read() would make of record_object()'s object (the same
 * table, the same email and time zone checks) and fields made as JSON
 * text here. 0 when a cell would fail one of them: then the record goes
 * the ordinary way, which says what is wrong.
 */
static int
record_prospect(struct run *r, const struct csv *c, const struct column *cols,
    size_t n, struct prospect *p)
{
	const struct jfield *fields = field_named("fields");
	const char *v, *why, *email = NULL;
	size_t i, len, o = 0, keys = 0;
	char *buf = r->scratch;

	memset(p, 0, sizeof(*p));
	buf[o++] = '{';
	for (i = 0; i < n; i++) {
		if (cols[i].ignore)
			continue;
		v = csv_field(c, i, &len);
		if (cell_absent(&cols[i], len))
			continue;
		if (!cell_ok(cols[i].field, v, len))
			return 0;
		if (cols[i].custom) {
			if (keys > 0) {
				if (o + 1 >= sizeof(r->scratch))
					return 0;
				buf[o++] = ',';
			}
			if (json_quote(buf, sizeof(r->scratch), &o, cols[i].key,
			    strlen(cols[i].key)) == -1 || o + 1 >= sizeof(r->scratch))
				return 0;
			buf[o++] = ':';
			if (json_quote(buf, sizeof(r->scratch), &o, v, len) == -1)
				return 0;
			keys++;
		} else if (strcmp(cols[i].name, "email") == 0)
			email = v;
		else if (strcmp(cols[i].name, "timezone") == 0) {
			if (!tz_ok(r, v))
				return 0;
			p->timezone = v;
		} else if (strcmp(cols[i].name, "first_name") == 0)
			p->first_name = v;
		else if (strcmp(cols[i].name, "last_name") == 0)
			p->last_name = v;
		else if (strcmp(cols[i].name, "company") == 0)
			p->company = v;
		else if (strcmp(cols[i].name, "title") == 0)
			p->title = v;
		else
			return 0;
	}
	if (email == NULL || email_normalize(email, p->email, &why) == -1 ||
	    (fields->max > 0 && (long long)keys > fields->max) ||
	    o + 2 > sizeof(r->scratch))
		return 0;
	buf[o++] = '}';
	buf[o] = '\0';
	p->fields_json = keys > 0 ? buf : NULL;
	return 1;
}

/*
 * A CSV record as the JSON object campaign-create would read, so both
 * are checked alike: an empty cell is an absent field (but an empty email
 * is reported as such), other columns go into fields.
 */
static json_object *
record_object(const struct csv *c, const struct column *cols, size_t n)
{
	json_object *o, *fields = NULL;
	const char *v;
	size_t i, len;
	const unsigned flags = JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (cols[i].ignore)
			continue;
		v = csv_field(c, i, &len);
		if (cell_absent(&cols[i], len))
			continue;
		if (cols[i].custom && fields == NULL) {
			if ((fields = json_object_new_object()) == NULL)
				goto nomem;
			json_object_object_add_ex(o, "fields", fields, flags);
		}
		if (json_object_object_add_ex(cols[i].custom ? fields : o, cols[i].name,
		    json_object_new_string_len(v, (int)len), flags) == -1)
			goto nomem;
	}
	return o;
nomem:
	json_object_put(o);
	return NULL;
}

static void
read_csv(struct run *r, struct map *maps, size_t nmaps)
{
	struct csv *c;
	struct column *cols;
	struct prospect p;
	struct derr e;
	json_object *o;
	const char *raw;
	char msg[256];
	size_t n, rawlen;
	int rc;

	if ((c = csv_open(STDIN_FILENO, 0)) == NULL)
		die(EX_OSERR, "out of memory");
	if ((rc = csv_next(c, &e)) < 0)
		fail(r, &e);
	if (rc == 0) {		/* empty input: no rows */
		csv_close(c);
		return;
	}
	cols = read_header(r, c, maps, nmaps);
	n = csv_nfields(c);
	raw = csv_raw(c, &rawlen);
	write_reject(r, raw, rawlen);	/* the rejects file is a CSV file too */
	while ((rc = csv_next(c, &e)) != 0) {
		raw = csv_raw(c, &rawlen);
		if (rc == -2)
			fail(r, &e);
		if (rc == -1) {
			r->read++;
			invalid(r, 0, NULL, e.msg, raw, rawlen);
			continue;
		}
		if (csv_nfields(c) != n) {
			r->read++;
			snprintf(msg, sizeof(msg), "line %ld: %zu field%s, the header has %zu",
			    csv_line(c), csv_nfields(c), csv_nfields(c) == 1 ? "" : "s", n);
			invalid(r, 0, NULL, msg, raw, rawlen);
			continue;
		}
		if (record_prospect(r, c, cols, n, &p)) {
			r->read++;
			if (import_add(&e, r->im, csv_line(c), &p) == -1)
				fail(r, &e);
			progress(r, 0);
			continue;
		}
		if ((o = record_object(c, cols, n)) == NULL)
			die(EX_OSERR, "out of memory");
		row(r, csv_line(c), o, raw, rawlen);
		json_object_put(o);
	}
	free_columns(cols, n);
	csv_close(c);
}

static void
summary(long long campaign, const struct run *r, const struct import_counts *n)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "campaign_id", json_object_new_int64(campaign));
	json_object_object_add(o, "read", json_object_new_int64(r->read));
	json_object_object_add(o, "inserted", json_object_new_int64(n->inserted));
	json_object_object_add(o, "updated", json_object_new_int64(n->updated));
	json_object_object_add(o, "duplicates", json_object_new_int64(n->duplicates));
	json_object_object_add(o, "invalid", json_object_new_int64(r->invalid));
	json_object_object_add(o, "suppressed", json_object_new_int64(n->suppressed));
	json_object_object_add(o, "scheduled", json_object_new_int64(n->scheduled));
	out_json(o);
	json_object_put(o);
}

static void
add_map(struct map **maps, size_t *n, char *arg)
{
	char *eq = strrchr(arg, '=');
	struct map *m;

	if (eq == NULL || eq == arg)
		usage_error("--map: '%s' is not header=field", arg);
	*eq = '\0';
	if (strcmp(eq + 1, "fields") == 0)
		usage_error("--map: a column cannot be mapped to fields as a whole");
	if ((m = reallocarray(*maps, *n + 1, sizeof(*m))) == NULL)
		die(EX_OSERR, "out of memory");
	m[*n].header = arg;
	m[*n].field = eq + 1;
	m[*n].used = 0;
	*maps = m;
	(*n)++;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "campaign",	  required_argument, NULL, 'c' },
		{ "csv",	  no_argument,	     NULL, 'C' },
		{ "map",	  required_argument, NULL, 'm' },
		{ "rejects",	  required_argument, NULL, 'r' },
		{ "skip-invalid", no_argument,	     NULL, 's' },
		{ "update",	  no_argument,	     NULL, 'u' },
		COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct run r = { .rejects = NULL };
	struct import_counts n;
	struct map *maps = NULL;
	struct derr e;
	size_t nmaps = 0;
	long long campaign = 0;
	int ch, csv = 0, update = 0;
	double streamed;

	tool_start("prospect-import", usage, argv);
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (common_option(ch, optarg))
			continue;
		switch (ch) {
		case 'c':
			campaign = option_number("--campaign", optarg, 1, INT64_MAX);
			break;
		case 'C':
			csv = 1;
			break;
		case 'm':
			add_map(&maps, &nmaps, optarg);
			break;
		case 'r':
			r.rejects_path = optarg;
			break;
		case 's':
			r.skip_invalid = 1;
			break;
		case 'u':
			update = 1;
			break;
		}
	}
	if (optind != argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (campaign == 0)
		usage_error("--campaign is required");
	if (nmaps > 0 && !csv)
		usage_error("--map needs --csv");
	if (r.rejects_path != NULL && (r.rejects = fopen(r.rejects_path, "w")) == NULL)
		die(EX_CANTCREAT, "%s: %s", r.rejects_path, strerror(errno));

	r.conn = open_db();
	if ((r.im = import_begin(&e, r.conn, campaign, update)) == NULL)
		die_derr(&e);
	r.progress = !quiet && isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &r.start);
	r.shown = r.start;
	if (csv)
		read_csv(&r, maps, nmaps);
	else
		read_jsonl(&r);
	progress(&r, 1);
	streamed = seconds_since(&r.start);
	if (r.invalid > SHOW_INVALID)
		say(LOG_ERR, "%lld more invalid rows", r.invalid - SHOW_INVALID);
	if (r.rejects != NULL && (fflush(r.rejects) == EOF || ferror(r.rejects))) {
		derr_set(&e, EX_IOERR, "%s: %s", r.rejects_path, strerror(errno));
		fail(&r, &e);
	}
	if (r.invalid > 0 && !r.skip_invalid) {
		derr_set(&e, EX_DATAERR, "%lld invalid %s: nothing imported",
		    r.invalid, r.invalid == 1 ? "row" : "rows");
		fail(&r, &e);
	}
	if (import_finish(&e, r.im, clock_now(), &n) == -1 || db_commit(&e, r.conn) == -1)
		fail(&r, &e);
	if (verbose)
		say(LOG_INFO, "read %lld rows in %.2f s, wrote them in %.2f s", r.read,
		    streamed, seconds_since(&r.start) - streamed);
	import_free(r.im);
	PQfinish(r.conn);
	while (r.tz.n > 0)
		free(r.tz.name[--r.tz.n]);
	if (r.rejects != NULL && fclose(r.rejects) == EOF)
		die(EX_IOERR, "%s: %s", r.rejects_path, strerror(errno));
	if (!quiet)
		summary(campaign, &r, &n);
	free(maps);
	return out_finish();
}
