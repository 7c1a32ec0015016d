/*
 * drip.h: the drip library, declared by the file it comes from.
 *
 * Library code never prints and never exits: a function that can fail takes
 * a struct derr, fills it with a sysexits(3) code and a "what failed: why"
 * message, and returns -1 (or NULL). The tool decides what to print.
 */
#ifndef DRIP_H
#define DRIP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <sysexits.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#define DRIP_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* err.c: errors carried back to the tool */
struct derr {
	int	code;		/* sysexits(3) code the tool exits with */
	char	msg[1024];	/* "what failed: why", lower case */
};
int	derr_set(struct derr *, int code, const char *fmt, ...) DRIP_PRINTF(3, 4);
void	derr_clear(struct derr *);

/* A list of validation errors: every error in the input, not just the first. */
#define VLIST_KEEP 100		/* messages kept; the rest are only counted */
struct vlist {
	char	*msg[VLIST_KEEP];
	size_t	 n;		/* messages kept */
	size_t	 total;		/* errors seen, kept or not */
};
void	vlist_add(struct vlist *, const char *fmt, ...) DRIP_PRINTF(2, 3);
void	vlist_free(struct vlist *);

/* str.c: small string helpers */
char	*xstrdup_lower(const char *);	/* NULL on allocation failure */
void	 str_lower(char *);
int	 str_has_nul(const char *, size_t len);
int	 utf8_valid(const char *, size_t len);
long long parse_count(const char *, long long min, long long max, const char **errstr);

/* email.c: a practical RFC 5321/5322 subset */
#define EMAIL_MAX 254
int	email_normalize(const char *in, char out[EMAIL_MAX + 1], const char **why);
int	domain_normalize(const char *in, char out[EMAIL_MAX + 1], const char **why);
const char *email_domain(const char *normalized);

/* tz.c: IANA time zones, checked against the system tzdata */
int	tz_valid(const char *name);

/* timefmt.c: RFC 3339 in UTC */
#define RFC3339_LEN 21		/* "2026-11-28T09:00:00Z" plus NUL */
void	rfc3339(char out[RFC3339_LEN], time_t);
int	rfc3339_parse(const char *, time_t *);
time_t	clock_now(void);		/* DRIP_NOW when set, else the real clock */

/* db.c: PostgreSQL through libpq, safe behind PgBouncer (no session state) */
const char *db_conninfo(const char *option);
PGconn	*db_connect(struct derr *, const char *conninfo);
PGconn	*db_open(struct derr *, const char *conninfo);	/* connect + schema check */
int	 db_schema_check(struct derr *, PGconn *);
PGresult *db_exec(struct derr *, PGconn *, const char *sql, int nparams,
	    const char *const *params);
int	 db_cmd(struct derr *, PGconn *, const char *sql, int nparams,
	    const char *const *params);
int	 db_begin(struct derr *, PGconn *);
int	 db_commit(struct derr *, PGconn *);
void	 db_rollback(PGconn *);
int	 db_error(struct derr *, PGconn *, const PGresult *, const char *what);
const char *db_sqlstate(const PGresult *);

/* migrate.c: the schema versions compiled into this binary */
struct migration {
	int		 version;
	const char	*name;
	const char	*sql;
};
extern const struct migration drip_migrations[];
extern const size_t drip_nmigrations;
int	migrate_latest(void);
int	migrate_current(struct derr *, PGconn *, int *version);
int	migrate_apply(struct derr *, PGconn *, int *from, int *to);

/* jsonread.c: the one place where "whitelist writes only" is enforced */
enum jkind {
	JK_STRING = 1,	/* a string: no NUL, valid UTF-8, at most maxlen bytes */
	JK_INT,		/* a whole number in [min, max] */
	JK_BOOL,
	JK_OBJECT,	/* an object read against sub */
	JK_ARRAY,	/* an array whose elements are elem (objects: sub) */
	JK_STRMAP,	/* an object whose values are all strings */
};
#define JF_REQUIRED	0x1
#define JF_NULLABLE	0x2	/* JSON null is accepted */
#define JF_NONEMPTY	0x4	/* strings and arrays */
struct jfield {
	const char	 *name;
	enum jkind	  kind;
	unsigned	  flags;
	const struct jfield *sub;	/* JK_OBJECT, JK_ARRAY of JK_OBJECT */
	enum jkind	  elem;		/* JK_ARRAY */
	long long	  min, max;	/* JK_INT when min < max; lengths of arrays */
	size_t		  maxlen;	/* JK_STRING; 0 means JSTR_MAX */
	/* Value check: NULL if fine, else why (e.g. "invalid time zone"). */
	const char	*(*check)(json_object *);
};
#define JSTR_MAX	(64 * 1024)
int	jread_check(json_object *, const char *path, const struct jfield *,
	    struct vlist *);
const char *jpath(char *buf, size_t, const char *parent, const char *name,
	    long index);
const char *jstr(json_object *obj, const char *key);	/* NULL if absent/null */
int	jint(json_object *obj, const char *key, long long *out);	/* 1 if present */

/* jstream.c: consecutive JSON values from a file: one object or JSON Lines */
#define JSTREAM_MAX_OBJECT	(16 * 1024 * 1024)
struct jstream;
struct jstream *jstream_open(int fd, size_t max_object);
/* 1: *out is the next value (caller puts it); 0: end of input; -1: error */
int	jstream_next(struct jstream *, json_object **out, struct derr *);
/* Called first: 1 if the input is one array, whose elements are then the values */
int	jstream_array(struct jstream *, struct derr *);
long	jstream_line(const struct jstream *);	/* line the last value began on */
const char *jstream_raw(const struct jstream *, size_t *len);	/* its text */
void	jstream_close(struct jstream *);
json_object *json_read_one(int fd, struct derr *);	/* exactly one object */

/* prospect.c: one prospect, as campaign-create and prospect-import read it */
#define PROSPECT_NAME_MAX	200
#define PROSPECT_FIELD_MAX	4096
struct prospect {
	char		 email[EMAIL_MAX + 1];	/* domain lower-cased */
	const char	*first_name, *last_name, *company, *title;
	const char	*timezone;		/* NULL: the campaign's */
	json_object	*fields;		/* NULL or an object of strings */
};
extern const struct jfield prospect_fields[];
/* 0, or -1 with every problem added to errs under path */
int	prospect_read(json_object *, const char *path, struct prospect *,
	    struct vlist *errs);
const char *jcheck_email(json_object *);
const char *jcheck_timezone(json_object *);

/* csv.c: RFC 4180 records from a file, streamed, with bounded memory */
#define CSV_RECORD_MAX	(1024 * 1024)	/* bytes of one record as written */
struct csv;
struct csv *csv_open(int fd, size_t max_record);	/* 0: CSV_RECORD_MAX */
/* 1: a record; 0: end of input; -1: a bad record, skipped; -2: cannot go on */
int	csv_next(struct csv *, struct derr *);
size_t	csv_nfields(const struct csv *);
const char *csv_field(const struct csv *, size_t i, size_t *len);	/* NUL-terminated */
long	csv_line(const struct csv *);		/* line the record began on */
const char *csv_raw(const struct csv *, size_t *len);	/* its text; NULL if too long */
void	csv_close(struct csv *);

/* copy.c: rows into PostgreSQL with COPY FROM STDIN (text format) */
struct copyw;
struct copyw *copyw_start(struct derr *, PGconn *, const char *copy_sql);
int	copyw_text(struct derr *, struct copyw *, const char *, size_t len);
int	copyw_str(struct derr *, struct copyw *, const char *);	/* NULL: \N */
int	copyw_null(struct derr *, struct copyw *);
int	copyw_int(struct derr *, struct copyw *, long long);
int	copyw_row(struct derr *, struct copyw *);	/* end of a row */
int	copyw_raw(struct derr *, struct copyw *, const char *, size_t len);	/* whole rows */
int	copyw_end(struct derr *, struct copyw *, long long *rows);	/* frees */
void	copyw_abort(struct copyw *, const char *why);	/* frees; NULL is fine */

/* suppress.c: a customer's suppression list (addresses and domains) */
/* An address (lower-cased) or a domain ("example.com", "@example.com"). */
int	suppress_value(const char *in, char out[EMAIL_MAX + 1], const char **kind,
	    const char **why);
/* drip.suppression_keys(addr) as an array literal; -1 if it does not fit */
#define SUPPRESS_KEYS_MAX	32768
int	suppress_keys(const char *addr, char *out, size_t len);
/* 1 and *entry_id when addr (or "@domain") is suppressed for customer, 0 if not */
int	suppress_lookup(struct derr *, PGconn *, const char *customer,
	    const char *addr, long long *entry_id);
/* 1 added, 0 already there (kept as it was); reason/source NULL: defaults */
int	suppress_add(struct derr *, PGconn *, const char *customer, const char *value,
	    const char *reason, const char *source, long long *entry_id);
int	suppress_remove(struct derr *, PGconn *, const char *customer,
	    const char *value, long long *entry_id);	/* 1 removed, 0 none */

/* schedule.c: steps on a running campaign's schedule */
/* Steps scheduled (>= 0), or -1; in the caller's transaction. */
long long schedule_first_steps(struct derr *, PGconn *, const char *campaign_id,
	    time_t now);

/* import.c: prospect-import's transaction: COPY to a staging table, then set-wise */
struct import_counts {
	long long	inserted, updated, duplicates, suppressed, scheduled;
};
struct importer;
/* BEGIN, lock the campaign, start the COPY; rolls back itself on failure */
struct importer *import_begin(struct derr *, PGconn *, long long campaign_id,
	    int update);
const char *import_customer(const struct importer *);
int	import_add(struct derr *, struct importer *, long line, const struct prospect *);
void	import_cancel(struct importer *);	/* invalid input: stop sending rows */
/* End the COPY and write; the caller then commits (or rolls back). */
int	import_finish(struct derr *, struct importer *, time_t now,
	    struct import_counts *);
void	import_free(struct importer *);

#include "banned.h"
#endif
