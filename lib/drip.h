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
int	migrate_state(struct derr *, PGconn *, int *version, unsigned char *applied);
/* did[i]: drip_migrations[i] was applied by this call; *to: the version now */
int	migrate_apply(struct derr *, PGconn *, unsigned char *did, int *to);

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

/* pgarray.c: PostgreSQL array literals, for whole batches in one parameter */
char	*pgarray_ids(const long long *, size_t);
char	*pgarray_text(const char *const *, size_t);	/* NULL elements: NULL */
char	*pgarray_times(const time_t *, size_t);

/* steps.c: claim due steps and move them through their states in batches */
struct step {
	long long	 id, campaign_id, prospect_id, identity_id;
	int		 step, attempts;
	int		 reply;			/* template thread is "reply" */
	char		*customer_id;
	char		*email, *first_name, *last_name, *company, *title;
	json_object	*fields;
	char		*subject, *body_text, *body_html;
	char		*sender_email, *sender_name;
	char		*reply_to;		/* the prospect's previous message */
	char		*draft_id;		/* set once a draft exists */
	char		*internet_message_id, *conversation_id;
	time_t		 draft_created;		/* when 'sending' was first committed */
};
enum step_mark {
	MARK_SENT, MARK_DEFERRED, MARK_FAILED, MARK_SUPPRESSED, MARK_BOUNCED,
	MARK_REVIEW, MARK_UNKNOWN, MARK_RELEASED
};
int	steps_claim(struct derr *, PGconn *, const char *worker, time_t now,
	    int batch, int lease_seconds, struct step **, size_t *);
int	steps_claim_reconcile(struct derr *, PGconn *, const char *worker,
	    time_t now, int batch, int lease_seconds, struct step **, size_t *);
/* What steps_claim would take now, claimed and rolled back: nothing written */
int	steps_peek(struct derr *, PGconn *, time_t now, int batch, struct step **,
	    size_t *);
void	steps_free(struct step *, size_t);
/* outcome[i]: 's' sending (send it now), 'k' skipped, 'r' released, '-' lost */
int	steps_mark_sending(struct derr *, PGconn *, const char *worker, time_t now,
	    struct step *const *, size_t, char *outcome);
int	steps_mark(struct derr *, PGconn *, enum step_mark, const char *worker,
	    time_t now, const long long *ids, const time_t *times,
	    const char *const *reasons, size_t n, size_t *done);
int	steps_mailbox_down(struct derr *, PGconn *, const char *worker, time_t now,
	    long long identity_id, const char *reason);

/* template.c: {{name}} and {{name|fallback}} in subjects and bodies */
#define TMPL_NAME_MAX	64
enum tmpl_mode {
	TMPL_TEXT,	/* values as they are */
	TMPL_HTML,	/* values HTML-escaped */
	TMPL_SUBJECT,	/* values as they are, every CR and LF dropped */
};
/* The value of a variable, or NULL when it has none. */
typedef const char *(*tmpl_lookup_fn)(void *ctx, const char *name);
/* The standard variables; tmpl_vars_lookup reads them (ctx is this). */
struct tmpl_vars {
	const char	*email, *first_name, *last_name, *company, *title;
	const char	*sender_name, *sender_email;
	json_object	*fields;	/* NULL or the prospect's fields object */
};
/* Problems in text, each added to errs under path; returns how many. */
int	tmpl_check(const char *text, const char *path, struct vlist *errs);
/* The rendered text (caller frees), or NULL: e says which variable had
 * no value (EX_DATAERR), or that the text is malformed. */
char	*tmpl_render(struct derr *, const char *text, enum tmpl_mode,
	    tmpl_lookup_fn, void *ctx);
const char *tmpl_vars_lookup(void *ctx, const char *name);

/* campaign.c: campaigns and steps as the campaign tools read, write, print */
#define TEMPLATE_STEP_MAX	100
#define TEMPLATE_SUBJECT_MAX	998		/* RFC 5322 line length */
#define TEMPLATE_BODY_MAX	(256 * 1024)
#define TEMPLATE_DELAY_DEFAULT	3		/* days, for steps after the first */
#define CAMPAIGN_DAYS_LEN	32		/* "{mon,tue,wed,thu,fri,sat,sun}" */
/* A campaign object as read; pointers borrow from the input object. */
struct campaign_in {
	const char	*customer_id, *name, *status, *timezone, *key;
	long long	 identity_id;		/* 0: not given */
	char		 days[CAMPAIGN_DAYS_LEN];	/* "": not given */
	int		 start, end;		/* minutes; -1: not given */
	int		 window_bad;		/* a start or end was invalid */
	int		 cap_given, cap_null;
	long long	 daily_cap;
	json_object	*templates, *prospects;	/* NULL: not given */
};
extern const struct jfield template_add_fields[];
int	window_minutes(const char *hhmm, int allow24);	/* -1 if invalid */
/* campaign-create: 0, or -1 with every problem in errs; fills defaults
 * and numbers the steps (in the input object). */
int	campaign_read(json_object *, struct campaign_in *, struct vlist *errs);
/* campaign-update: the fields given, nothing defaulted. */
int	campaign_patch_read(json_object *, struct campaign_in *, struct vlist *errs);
/* The new campaign's id, or the one already stored under its key (*reused;
 * then e says when the key holds a different input). input: the text
 * compared under key. -1: e (66 identity, 77 customer, 65 input). */
long long campaign_create(struct derr *, PGconn *, const struct campaign_in *,
	    const char *input, time_t now, int *reused);
int	campaign_update(struct derr *, PGconn *, long long id,
	    const struct campaign_in *, time_t now);
json_object *campaign_get(struct derr *, PGconn *, long long id);	/* 66: none */
int	campaign_each(struct derr *, PGconn *, const char *customer,
	    int (*fn)(json_object *, void *), void *arg);
int	prospects_insert(struct derr *, PGconn *, const char *campaign_id,
	    const char *json_array);
/* One template-add object: whitelist, a body, well-formed variables. */
int	template_read(json_object *, const char *path, struct vlist *errs);
int	template_settle(json_object *, int step, const char *path, struct vlist *errs);
/* Add or (replace) replace the templates in list; lines: each one's input
 * line for messages, or NULL. Step errors go to errs (65); *out: the
 * stored templates. */
int	templates_add(struct derr *, PGconn *, long long campaign_id,
	    json_object *list, const long *lines, int replace, time_t now,
	    struct vlist *errs, json_object **out);
void	vlist_move_line(struct vlist *to, struct vlist *from, long line);

/* schedule.c: when steps are due (the caller's transaction, the clock given) */
int	schedule_first_steps(struct derr *, PGconn *, const char *campaign_id,
	    time_t now, long long *scheduled);
int	schedule_following_steps(struct derr *, PGconn *, const char *campaign_id,
	    time_t now, long long *scheduled);
int	schedule_campaign(struct derr *, PGconn *, const char *campaign_id,
	    time_t now, long long *scheduled);
int	schedule_refit(struct derr *, PGconn *, const char *campaign_id, time_t now);
int	schedule_shift(struct derr *, PGconn *, const char *campaign_id, int step,
	    int days, time_t now);
int	schedule_cancel(struct derr *, PGconn *, const char *campaign_id,
	    const char *reason);

#include "banned.h"
#endif
