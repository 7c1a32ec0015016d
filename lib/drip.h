/*
 * drip.h: the drip library, declared by the file it comes from.
 *
 * Library code never prints and never exits: a function that can fail takes
 * a struct derr, fills it with a sysexits(3) code and a "what failed: why"
 * message, and returns -1 (or NULL). The tool decides what to print.
 */
#ifndef DRIP_H
#define DRIP_H

#include <signal.h>
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
/* db_exec without waiting: db_answer gives 1 and the result, 0 not yet, -1 */
int	 db_send(struct derr *, PGconn *, const char *sql, int nparams,
	    const char *const *params);
int	 db_answer(struct derr *, PGconn *, int wait, PGresult **);
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
	long long	  min, max;	/* JK_INT when min < max; lengths of arrays;
					 * JK_STRMAP: at most max keys (0: any) */
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
/* A flat object read straight from its text, when it is plain enough:
 * the bytes it took, or 0 (then read it with json-c and jread_check) */
struct jflat {
	const char	*s;	/* NUL-terminated copy; NULL: absent or null */
	size_t		 len;
	size_t		 keys;	/* JK_STRMAP: its keys (s: the object's text) */
	int		 present;
};
size_t	jread_flat(const char *text, size_t len, const struct jfield *,
	    struct jflat *vals, char *scratch, size_t scratchsz);

/* jstream.c: consecutive JSON values from a file: one object or JSON Lines */
#define JSTREAM_MAX_OBJECT	(16 * 1024 * 1024)
#define JSTREAM_BUF		65536	/* input read at once */
struct jstream;
struct jstream *jstream_open(int fd, size_t max_object);
/* 1: *out is the next value (caller puts it); 0: end of input; -1: error */
int	jstream_next(struct jstream *, json_object **out, struct derr *);
/* Called first: 1 if the input is one array, whose elements are then the values */
int	jstream_array(struct jstream *, struct derr *);
long	jstream_line(const struct jstream *);	/* line the last value began on */
const char *jstream_raw(const struct jstream *, size_t *len);	/* its text */
/* The buffered text at the next value (1; 0 at the end, -2 as above), for a
 * caller that reads some values itself; it then takes one with
 * jstream_skip(), which must hold no newline, or calls jstream_next(). */
int	jstream_peek(struct jstream *, const char **text, size_t *len,
	    struct derr *);
void	jstream_skip(struct jstream *, size_t len);
void	jstream_close(struct jstream *);
json_object *json_read_one(int fd, struct derr *);	/* exactly one object */

/* prospect.c: one prospect, as campaign-create and prospect-import read it */
#define PROSPECT_NAME_MAX	200
#define PROSPECT_FIELD_MAX	4096
#define PROSPECT_KEYS_MAX	1000	/* keys in fields */
struct prospect {
	char		 email[EMAIL_MAX + 1];	/* domain lower-cased */
	const char	*first_name, *last_name, *company, *title;
	const char	*timezone;		/* NULL: the campaign's */
	json_object	*fields;		/* NULL or an object of strings */
	const char	*fields_json;		/* or else its text, or NULL */
};
extern const struct jfield prospect_fields[];
/* 0, or -1 with every problem added to errs under path */
int	prospect_read(json_object *, const char *path, struct prospect *,
	    struct vlist *errs);
/* The fast way, from text (jread_flat): the bytes taken, or 0: use
 * prospect_read. tz_ok(arg, zone) says whether a time zone is valid. */
size_t	prospect_scan(const char *text, size_t len, struct prospect *,
	    char *scratch, size_t scratchsz,
	    int (*tz_ok)(void *, const char *), void *arg);
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
/* What a claim would take now, claimed and rolled back: nothing written */
int	steps_peek(struct derr *, PGconn *, time_t now, int batch, struct step **,
	    size_t *);
void	steps_free(struct step *, size_t);
/*
 * The claim without waiting (send-due): release, claim, then load the ids
 * the claim answered; each a statement of its own, answered by db_answer.
 */
int	steps_release_send(struct derr *, PGconn *, time_t now);
int	steps_claim_send(struct derr *, PGconn *, int reconcile, const char *worker,
	    time_t now, int batch, int lease_seconds);
int	steps_load_send(struct derr *, PGconn *, const PGresult *ids);
int	steps_load_rows(struct derr *, const PGresult *, struct step **, size_t *);
/*
 * mark_sending, sent without waiting; _poll gives 1 answered, 0 not yet,
 * -1 failed, and outcome[i]: 's' sending (send it now), 'k' skipped,
 * 'r' released, '-' lost
 */
int	steps_mark_sending_start(struct derr *, PGconn *, const char *worker,
	    time_t now, struct step *const *, size_t);
int	steps_mark_sending_poll(struct derr *, PGconn *, int wait,
	    struct step *const *, size_t, char *outcome);
int	steps_mailbox_down(struct derr *, PGconn *, const char *worker, time_t now,
	    long long identity_id, const char *reason);
/* A batch state change, sent without waiting; _poll: 1 answered, 0 not yet */
int	steps_mark_start(struct derr *, PGconn *, enum step_mark, const char *worker,
	    time_t now, const long long *ids, const time_t *times,
	    const char *const *reasons, size_t n);
int	steps_mark_poll(struct derr *, PGconn *, int wait, size_t *done);

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
/*
 * http.c: the HTTP engine under graph.c. Many requests run at once over one
 * curl multi handle (HTTP/1.1, connections kept and reused); each ends in a
 * callback with a classified response. Errors are classified here and
 * nowhere else.
 */
#define GRAPH_CODE_MAX		128		/* error code word */
#define GRAPH_DETAIL_MAX	256		/* first line of the description */
#define GRAPH_TOKEN_MAX		(16 * 1024)	/* a bearer token, NUL included */
#define GRAPH_BODY_MAX		(32 * 1024 * 1024)	/* longest response read */

enum graph_class {
	GRAPH_OK,		/* 2xx */
	GRAPH_TRANSIENT,	/* 429, 503, 504, other 5xx, connection failure
				 * before sending: try again after retry_after */
	GRAPH_AUTH,		/* 401: refresh the access token once, try again */
	GRAPH_PERM_MESSAGE,	/* 400s like ErrorInvalidRecipients: this request
				 * (message) can never succeed as it is */
	GRAPH_PERM_MAILBOX,	/* ErrorAccessDenied, MailboxNotEnabledForRESTAPI,
				 * invalid_grant: the mailbox must be connected again */
	GRAPH_AMBIGUOUS,	/* a send that timed out or got a 5xx: it may have
				 * gone; never retried blindly */
};
const char *graph_class_name(enum graph_class);

/* How a request ended below HTTP, for graph_classify(). */
enum graph_transport {
	GRAPH_T_DONE,		/* a response came back */
	GRAPH_T_UNSENT,		/* failed before the request could reach the server */
	GRAPH_T_LOST,		/* went out, no complete answer: timeout, reset */
};

#define GRQ_SEND	0x1	/* POST .../send: failures after sending are ambiguous */
#define GRQ_SECRET	0x2	/* request or response carries tokens: wiped after use */
#define GRQ_GRAPH	0x4	/* a Graph request: Prefer: IdType="ImmutableId" */
#define GRQ_IDEMPOTENT	0x8	/* safe to repeat after a lost answer */
#define GRQ_LAZY	0x10	/* a 2xx body is not parsed into json: the
				 * caller reads it (graph_msg_parse) */

enum graph_class graph_classify(long status, const char *body, size_t len,
	    enum graph_transport, unsigned flags, char code[GRAPH_CODE_MAX],
	    char *detail, size_t detailsz);
/* The body as JSON when all of it is one value, else NULL; secret:
 * wiped when it is not */
json_object *graph_body_json(const char *body, size_t len, int secret);
/* Retry-After: seconds (fractional allowed) or an HTTP date; 0 or -1 */
int	retry_after_parse(const char *value, time_t now, double *secs);
double	graph_backoff(int attempt);	/* exponential with jitter, seconds */

struct graph_opts {
	const char	*graph_url;	/* NULL: DRIP_GRAPH_URL, else Microsoft's */
	const char	*login_url;	/* NULL: DRIP_LOGIN_URL, else Microsoft's */
	const char	*client_id;	/* NULL: DRIP_CLIENT_ID */
	const char	*tenant;	/* NULL: DRIP_TENANT, else "organizations" */
	long		 connect_timeout_ms;	/* 0: 10 s (at most the total) */
	long		 timeout_ms;	/* whole request; 0: DRIP_GRAPH_TIMEOUT or 60 s */
	long		 max_host_connections;	/* 0: 8 */
	int		 max_attempts;	/* tries of a retryable request; 0: 4 */
	double		 max_retry_wait;	/* longest wait between tries; 0: 30 s */
};

struct graph_resp {
	enum graph_class class;
	long		 status;	/* HTTP status, 0 when none came */
	char		 code[GRAPH_CODE_MAX];	/* "ErrorInvalidRecipients",
				 * "invalid_grant", "timeout", "connect"; "" if OK */
	char		 detail[GRAPH_DETAIL_MAX];	/* for people: never branch on it */
	double		 retry_after;	/* seconds asked for; -1 when not said */
	int		 attempts;	/* tries made */
	int		 immutable_ids;	/* Preference-Applied: IdType="ImmutableId" */
	long		 connects;	/* new connections the last try opened */
	char		 request_id[64];	/* Graph's request-id, for support */
	unsigned	 flags;		/* the request's GRQ_ flags */
	char		*body;		/* NUL-terminated; NULL when empty */
	size_t		 len;
	json_object	*json;		/* body parsed; NULL: not JSON, or GRQ_LAZY */
};

struct graph_req {
	const char	*method;	/* "GET", "POST", "PATCH" */
	const char	*url;		/* absolute */
	const char	*token;		/* bearer token, or NULL */
	const char	*body;		/* NULL: none */
	size_t		 bodylen;	/* 0: strlen(body) */
	const char	*content_type;	/* NULL: application/json */
	const char	*prefer;	/* more Prefer: preferences, or NULL */
	unsigned	 flags;		/* GRQ_ */
};

struct graph;
/*
 * Called from graph_run() when a request is over (retries done). The
 * response belongs to the engine and is freed when the callback returns;
 * graph_resp_move() keeps it. The callback may submit more requests, even
 * synchronous ones (which run the engine, so other callbacks may run
 * meanwhile), but must not free the engine.
 */
typedef void (*graph_done_fn)(struct graph_resp *, void *arg);

struct graph *graph_new(struct derr *, const struct graph_opts *);	/* NULL: defaults */
void	graph_free(struct graph *);
/*
 * Submit a request; everything given is copied (the caller may wipe its
 * token at once). With done == NULL the call is synchronous: it runs the
 * engine until this request is over and arg is the struct graph_resp * that
 * receives the response (graph_resp_free it). -1 only when the request
 * could not even be made (derr); any answer, even an error, is 0.
 */
int	graph_request(struct graph *, struct derr *, const struct graph_req *,
	    graph_done_fn done, void *arg);
size_t	graph_pending(const struct graph *);
/* Run for at most timeout_ms (< 0: until nothing is pending); what is left */
size_t	graph_run(struct graph *, long timeout_ms);
/* Watch fd (on) or stop (off): graph_run returns when it is readable */
int	graph_watch(struct graph *, struct derr *, int fd, int on);
void	graph_resp_move(struct graph_resp *dst, struct graph_resp *src);
void	graph_resp_free(struct graph_resp *);
/* derr from a failed response: "what: code: detail", exit code by class */
int	graph_derr(struct derr *, const char *what, const struct graph_resp *);
const char *graph_base(const struct graph *);		/* Graph base URL */
const char *graph_login_base(const struct graph *);	/* identity platform */
const char *graph_client_id(const struct graph *);	/* "" when not set */
const char *graph_tenant(const struct graph *);
int	graph_same_origin(const struct graph *, const char *url);

/* graph.c: typed Microsoft Graph and identity-platform operations */
#define GRAPH_ID_MAX		512	/* message, conversation, user ids */
#define GRAPH_HEADERS_MAX	5	/* x- headers Graph accepts on a message */
#define GRAPH_SCOPES	"offline_access User.Read Mail.Send Mail.ReadWrite"

struct graph_header {
	const char	*name;		/* must begin with "x-" */
	const char	*value;
};
/* A message to create or change; NULL fields are left out. */
struct graph_mail {
	const char	*subject;
	const char	*body;
	int		 html;		/* body is HTML, else text */
	const char	*to;		/* recipient address */
	const char	*to_name;
	const char	*step;		/* sent as x-drip-step: the drip step id */
	const struct graph_header *headers;	/* more x- headers */
	size_t		 nheaders;	/* at most GRAPH_HEADERS_MAX - 1 with step */
	const char	*tag;		/* drip's mark on the draft (an extended
					 * property, never sent); NULL: none */
};
/* Every op: done == NULL runs it synchronously, as graph_request(). */
int	graph_me(struct graph *, struct derr *, const char *token,
	    graph_done_fn, void *);
int	graph_create_draft(struct graph *, struct derr *, const char *token,
	    const struct graph_mail *, graph_done_fn, void *);
/* the drafts that carry this tag (graph_mail.tag), up to 10 */
int	graph_find_drafts(struct graph *, struct derr *, const char *token,
	    const char *tag, graph_done_fn, void *);
int	graph_create_reply(struct graph *, struct derr *, const char *token,
	    const char *msgid, const struct graph_mail *, graph_done_fn, void *);
int	graph_patch_message(struct graph *, struct derr *, const char *token,
	    const char *msgid, const struct graph_mail *, graph_done_fn, void *);
int	graph_send(struct graph *, struct derr *, const char *token,
	    const char *msgid, graph_done_fn, void *);
int	graph_delete_message(struct graph *, struct derr *, const char *token,
	    const char *msgid, graph_done_fn, void *);
int	graph_get_message(struct graph *, struct derr *, const char *token,
	    const char *msgid, const char *select, graph_done_fn, void *);
int	graph_find_sent(struct graph *, struct derr *, const char *token,
	    const char *internet_message_id, graph_done_fn, void *);
int	graph_delta_page(struct graph *, struct derr *, const char *token,
	    const char *link, const char *select, graph_done_fn, void *);
int	graph_device_start(struct graph *, struct derr *, graph_done_fn, void *);
int	graph_device_poll(struct graph *, struct derr *, const char *device_code,
	    graph_done_fn, void *);
int	graph_refresh(struct graph *, struct derr *, const char *refresh_token,
	    graph_done_fn, void *);
/* The JSON of a message, for tests and callers that build their own. */
json_object *graph_mail_json(struct derr *, const struct graph_mail *, int for_reply);

/* What the responses say. */
struct graph_msg {
	char	id[GRAPH_ID_MAX];
	char	conversation_id[GRAPH_ID_MAX];
	char	internet_message_id[GRAPH_ID_MAX];
	int	is_draft;		/* 1, 0, or -1 when not said */
	char	sent_at[40];		/* sentDateTime, "" when none */
};
/* 1: found (a message, or the first of a collection); 0: empty; -1 */
int	graph_msg_parse(const struct graph_resp *, struct graph_msg *);
struct graph_user {
	char	id[GRAPH_ID_MAX];
	char	email[EMAIL_MAX + 1];	/* mail, else userPrincipalName */
	char	display_name[256];
};
int	graph_user_parse(const struct graph_resp *, struct graph_user *);
struct graph_tokens {
	char	*access;		/* wiped and freed by graph_tokens_wipe */
	char	*refresh;		/* NULL when none was issued */
	long	 expires_in;		/* seconds */
};
int	graph_tokens_parse(struct derr *, const struct graph_resp *, struct graph_tokens *);
void	graph_tokens_wipe(struct graph_tokens *);
int	graph_token_ok(const char *);	/* usable in an Authorization header */
struct graph_device {
	char	device_code[2048];
	char	user_code[64];
	char	verification_uri[512];
	char	message[1024];	/* Microsoft's sign-in instructions */
	long	expires_in, interval;
};
int	graph_device_parse(struct derr *, const struct graph_resp *, struct graph_device *);
enum graph_device_state {
	GRAPH_DEVICE_OK,	/* tokens issued */
	GRAPH_DEVICE_PENDING,	/* authorization_pending: poll again */
	GRAPH_DEVICE_SLOW_DOWN,	/* slow_down: poll again, 5 s slower */
	GRAPH_DEVICE_DECLINED,	/* authorization_declined */
	GRAPH_DEVICE_EXPIRED,	/* expired_token */
	GRAPH_DEVICE_BAD_CODE,	/* bad_verification_code */
	GRAPH_DEVICE_FAILED,	/* anything else: see the response's class */
};
enum graph_device_state graph_device_state(const struct graph_resp *);
/* A delta page: its messages (borrowed), and the link to follow or keep. */
int	graph_delta_parse(const struct graph_resp *, json_object **value,
	    const char **next_link, const char **delta_link);

/* crypt.c: OAuth tokens sealed at rest with AES-256-GCM */
#define CRYPT_KEY_LEN	32
#define CRYPT_NONCE_LEN	12
#define CRYPT_TAG_LEN	16
struct crypt_key {
	unsigned char	k[CRYPT_KEY_LEN];
};
/* path NULL: DRIP_KEY_FILE, else $CREDENTIALS_DIRECTORY/drip.key */
int	crypt_key_load(struct derr *, const char *path, struct crypt_key *);
void	crypt_key_wipe(struct crypt_key *);
#define CRYPT_NAME_LEN	16
/* hex, from the key and revealing nothing of it; 0 or -1 */
int	crypt_key_name(const struct crypt_key *, char out[CRYPT_NAME_LEN + 1]);
/* nonce || ciphertext || tag, bound to aad; *out is malloc'd */
int	crypt_seal(struct derr *, const struct crypt_key *, const char *aad,
	    const void *plain, size_t len, unsigned char **out, size_t *outlen);
/* the plain text, NUL-terminated, in *out: free it with secret_free() */
int	crypt_open(struct derr *, const struct crypt_key *, const char *aad,
	    const unsigned char *in, size_t len, char **out, size_t *outlen);
void	secret_free(char *);		/* wipe, then free */
char	*hex_encode(const unsigned char *, size_t);	/* "\\x..." for bytea */
int	hex_decode(const char *, unsigned char **out, size_t *outlen);

/* identity.c: email_identity rows: connect, print, tokens, refresh */
#define IDENTITY_REFRESH_MARGIN	60	/* seconds an access token must have left */
json_object *identity_json(struct derr *, PGconn *, long long id);
json_object *identity_list_json(struct derr *, PGconn *, const char *customer);
/* 0; -1 with 66 when there is no such identity, 77 when customer differs */
int	identity_owned(struct derr *, PGconn *, long long id, const char *customer);
int	identity_connect(struct derr *, PGconn *, const struct crypt_key *,
	    const char *customer, const struct graph_user *,
	    const struct graph_tokens *, long long *id);
int	identity_access_token(struct derr *, PGconn *, struct graph *,
	    const struct crypt_key *, long long id, char *tok, size_t toksz);
/* Many mailboxes' fresh tokens at once: toks[i] a secret, or NULL */
int	identity_fresh_tokens(struct derr *, PGconn *, const struct crypt_key *,
	    const long long *ids, size_t n, char **toks);
/* Refresh now, unless the stored access token is no longer stale (another
 * process refreshed meanwhile); stale NULL always refreshes. */
int	identity_refresh(struct derr *, PGconn *, struct graph *,
	    const struct crypt_key *, long long id, const char *stale,
	    char *tok, size_t toksz);
int	identity_revoke(struct derr *, PGconn *, long long id);
extern const struct jfield identity_update_fields[];
int	identity_update(struct derr *, PGconn *, long long id, json_object *,
	    struct vlist *);
/* Mark the identity needs_reauth and forget its tokens. */
int	identity_needs_reauth(struct derr *, PGconn *, long long id);
/* A synchronous op on a token, e.g. a wrapper of graph_me(). */
typedef int (*identity_op)(struct graph *, struct derr *, const char *token,
	    void *arg, struct graph_resp *out);
/* op with the identity's token; on GRAPH_AUTH once more after a refresh */
int	identity_call(struct derr *, PGconn *, struct graph *,
	    const struct crypt_key *, long long id, identity_op, void *arg,
	    struct graph_resp *out);

/* send.c: send-due's engine (claims, Graph, state changes in batches) */
struct send_opts {
	const char	*conninfo;
	const char	*worker;	/* NULL: host/pid/random */
	const char	*key_file;	/* NULL: DRIP_KEY_FILE, $CREDENTIALS_DIRECTORY */
	int		 concurrency;	/* requests in flight */
	int		 per_mailbox;	/* in flight for one mailbox (Outlook: 4) */
	int		 batch;		/* steps per claim */
	int		 max_seconds;	/* stop claiming after */
	int		 lease;		/* seconds a claim lasts */
	int		 grace;		/* seconds an unknown outcome may stay so */
	/* set (by a signal handler): end now as at max_seconds */
	const volatile sig_atomic_t *stop;
	/* lines of note for standard error; the library does not print */
	void		(*note)(void *arg, int prio, const char *line);
	void		*note_arg;
};
struct send_stats {
	long	claimed, sent, deferred, failed, bounced, suppressed, skipped;
	long	reconciled, review;
	double	seconds;
};
int	send_due(struct derr *, const struct send_opts *, struct send_stats *);
int	send_due_dry_run(struct derr *, const struct send_opts *,
	    int (*emit)(void *, json_object *), void *);
/*
 * The event 'suppressed': its reason, and the SQL that records one for
 * each prospect stored suppressed (import.c, campaign.c). CUSTOMER and
 * CAMPAIGN are SQL expressions; FROM names the rows, with an id column.
 */
#define SUPPRESSED_REASON	"address suppressed for the customer"
#define SUPPRESSED_EVENTS_SQL(customer, campaign, from) \
    "INSERT INTO drip.email_event (customer_id, type, campaign_id, prospect_id," \
    " reason) SELECT " customer ", 'suppressed', " campaign ", id, '" \
    SUPPRESSED_REASON "' FROM " from

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
/* 0: a row of at most len bytes written next can be taken back to *mark;
 * 1: len is too much for that; -1: error */
int	copyw_reserve(struct derr *, struct copyw *, size_t len, size_t *mark);
void	copyw_undo(struct copyw *, size_t mark);
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

/* events.c: email_event rows as events prints them, and their notifications */
extern const char *const event_types[];	/* NULL-terminated */
int	event_type_valid(const char *);
struct events_filter {
	const char	*customer;		/* NULL: every customer */
	long long	 campaign;		/* 0: every campaign */
	const char *const *types;		/* ntypes 0: every type */
	size_t		 ntypes;
	int		 has_since;
	time_t		 since;			/* created at or after */
	const long long	*ids;			/* NULL: any; else only these */
	size_t		 nids;
};
/* Called with each event oldest first; the object is the caller's to print,
 * not to keep. -1 stops (EX_IOERR). */
typedef int (*events_fn)(long long id, json_object *, void *arg);
int	events_each(struct derr *, PGconn *, const struct events_filter *,
	    events_fn, void *arg);
/* 0; -1 with 66 when there is no such campaign, 77 when customer differs */
int	events_campaign_check(struct derr *, PGconn *, long long id,
	    const char *customer);
int	events_listen(struct derr *, PGconn *);		/* LISTEN drip_event */
/* Ids of events committed since the last call, at most max (the rest stay
 * queued), without waiting: call it when PQsocket() is readable. */
int	events_notified(struct derr *, PGconn *, long long *ids, size_t max,
	    size_t *n);

/* classify.c: what a message in a sender's Inbox is, from its fields alone */
enum inbound_class {
	INBOUND_OTHER,		/* nothing drip acts on */
	INBOUND_REPLY,
	INBOUND_AUTO_REPLY,	/* out of office and kin */
	INBOUND_BOUNCE,		/* report of permanent non-delivery (5.x.x) */
	INBOUND_DELAY,		/* report that delivery is delayed (4.x.x) */
	INBOUND_OPTOUT,		/* a reply asking to hear no more */
};
const char *inbound_class_name(enum inbound_class);	/* drip.inbound_record's kind */
struct inbound_header {
	const char	*name, *value;
};
struct inbound_msg {
	const char	*from, *from_name;	/* the sender */
	const char	*subject;
	const char	*body;
	int		 body_html;		/* body is HTML, else text */
	const struct inbound_header *headers;	/* internetMessageHeaders */
	size_t		 nheaders;
	const char	*mailbox;		/* the address of the mailbox read */
};
#define INBOUND_REFS_MAX	16
#define INBOUND_REF_LEN		256
#define INBOUND_STATUS_LEN	16
struct inbound_verdict {
	enum inbound_class class;
	char	status[INBOUND_STATUS_LEN];	/* a report's code ("5.1.1"), or "" */
	char	address[EMAIL_MAX + 1];	/* the sender of a reply, the failed
					 * recipient of a report; "" if none */
	char	reason[160];		/* why, for people */
	/* <message ids> it refers to, best first: In-Reply-To, References
	 * newest first, then (reports) the ids quoted in its text */
	char	refs[INBOUND_REFS_MAX][INBOUND_REF_LEN];
	size_t	nrefs;
};
struct classify_opts {
	const char *const *optout;	/* opt-out words and phrases; NULL: default */
	size_t		 noptout;
};
extern const char *const classify_optout_default[];	/* NULL-terminated */
/* 0, or -1 when out of memory */
int	inbound_classify(const struct inbound_msg *, const struct classify_opts *,
	    struct inbound_verdict *);
/* How many bytes of a reply's text its sender wrote (before any quotation). */
size_t	reply_new_part(const char *text);
char	*html_text(const char *html);	/* the text of HTML; caller frees */
/* One word or phrase a line; blank lines and # comments skipped. */
int	classify_words_load(struct derr *, const char *path, char ***words, size_t *n);
void	classify_words_free(char **, size_t);

/* inbox.c: inbox-sync's engine (mailbox claims, Inbox delta, recording) */
struct inbox_opts {
	const char	*conninfo;
	const char	*worker;	/* NULL: host/pid/random */
	const char	*key_file;	/* NULL: DRIP_KEY_FILE, $CREDENTIALS_DIRECTORY */
	long long	 identity;	/* 0: every connected mailbox */
	const char	*customer;	/* NULL: every customer */
	int		 max_seconds;	/* start no page after */
	int		 lease;		/* seconds a mailbox claim lasts, renewed per page */
	int		 stop_on_auto_reply;
	const char *const *optout;	/* opt-out words; NULL: the default ones */
	size_t		 noptout;
	/* lines of note for standard error; the library does not print */
	void		(*note)(void *arg, int prio, const char *line);
	void		*note_arg;
};
struct inbox_stats {
	long	identities, messages, replied, auto_replies, bounced, delayed;
	long	unsubscribed, unmatched, duplicates, resyncs, errors;
	int	code;		/* 0, or the exit status a mailbox's trouble calls for */
	double	seconds;
};
/* -1: the run stopped (database, key, --identity); a mailbox's own trouble
 * is counted in errors and code, and the others are still read. */
int	inbox_sync(struct derr *, const struct inbox_opts *, struct inbox_stats *);

/* jstrict.c: what json-c takes and drip refuses: a key given twice in one
 * object, a key with a NUL in it, a raw control character in a string */
/* 1: the first in the text: *line (from 1) and msg ("duplicate key \"x\"");
 * 0: none; -1: out of memory */
int	json_strict_check(const char *text, size_t len, long *line, char *msg,
	    size_t msgsz);

/* jscan.c: some members of a JSON object, read from its text, no tree */
struct jscan_field {
	const char	*key;
	char		*str;		/* a string wanted: copied here */
	size_t		 size;
	int		*boolean;	/* or true or false: 1 or 0 here */
	int		 found;		/* set: the member was there */
};
/* 1: the text is one object and each member asked for was read (found
 * or not); 0: the scan gave up (see jscan.c), read it with json-c */
int	jscan_object(const char *text, size_t len, struct jscan_field *, size_t);

#include "banned.h"
#endif
