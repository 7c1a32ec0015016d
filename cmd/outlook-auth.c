/* outlook-auth: connect an Outlook mailbox through Microsoft Graph (OAuth) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

static const char usage[] =
    "usage: outlook-auth [-qvV] [-d conninfo] --customer customer\n"
    "       outlook-auth [-qvV] [-d conninfo] [--customer customer] --check id\n"
    "       outlook-auth [-qvV] [-d conninfo] --list --customer customer\n"
    "       outlook-auth [-qvV] [-d conninfo] [--customer customer] --revoke id\n"
    "       outlook-auth [-qvV] [-d conninfo] [--customer customer] --update id\n";

enum mode { CONNECT, CHECK, LIST, REVOKE, UPDATE };

static void
print_identity(PGconn *c, long long id)
{
	struct derr e;
	json_object *o;

	if ((o = identity_json(&e, c, id)) == NULL)
		die_derr(&e);
	out_json(o);
	json_object_put(o);
}

static struct graph *
open_graph(void)
{
	struct derr e;
	struct graph *g;

	if ((g = graph_new(&e, NULL)) == NULL)
		die_derr(&e);
	return g;
}

static void
load_key(struct crypt_key *k)
{
	struct derr e;

	if (crypt_key_load(&e, NULL, k) == -1)
		die_derr(&e);
}

/* The identity platform refused us: 69 when it is away, 77 otherwise. */
static noreturn void
die_login(const char *what, const struct graph_resp *r)
{
	struct derr e;

	graph_derr(&e, what, r);
	if (r->class != GRAPH_TRANSIENT && r->class != GRAPH_AMBIGUOUS)
		e.code = EX_NOPERM;
	die_derr(&e);
}

static void
pause_s(long s)
{
	struct timespec ts = { .tv_sec = s, .tv_nsec = 0 };

	while (s > 0 && nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * RFC 8628: show the user Microsoft's message, then poll at the interval
 * until they have signed in, said no, or the code expired.
 */
static void
device_flow(struct graph *g, struct graph_tokens *t)
{
	struct graph_device d;
	struct graph_resp r;
	struct derr e;
	time_t deadline;
	long interval;

	if (graph_device_start(g, &e, NULL, &r) == -1)
		die_derr(&e);
	if (r.class != GRAPH_OK)
		die_login("sign-in", &r);
	if (graph_device_parse(&e, &r, &d) == -1)
		die_derr(&e);
	graph_resp_free(&r);
	fprintf(stderr, "%s\n", d.message);
	fflush(stderr);
	/* RFC 8628 says 5 s when the server is silent; never a busy loop. */
	interval = d.interval > 0 ? d.interval : 1;
	deadline = time(NULL) + d.expires_in;
	for (;;) {
		pause_s(interval);
		if (graph_device_poll(g, &e, d.device_code, NULL, &r) == -1)
			die_derr(&e);
		switch (graph_device_state(&r)) {
		case GRAPH_DEVICE_OK:
			if (graph_tokens_parse(&e, &r, t) == -1)
				die_derr(&e);
			graph_resp_free(&r);
			explicit_bzero(d.device_code, sizeof(d.device_code));
			return;
		case GRAPH_DEVICE_PENDING:
			break;
		case GRAPH_DEVICE_SLOW_DOWN:
			interval += 5;
			if (verbose)
				say(LOG_INFO, "asked to slow down: polling every %ld s", interval);
			break;
		case GRAPH_DEVICE_DECLINED:
			die(EX_NOPERM, "sign-in declined (%s): nothing was connected", r.code);
		case GRAPH_DEVICE_EXPIRED:
			die(EX_NOPERM, "sign-in code expired (%s) before anyone signed in: "
			    "run outlook-auth again", r.code);
		case GRAPH_DEVICE_BAD_CODE:
			die(EX_NOPERM, "sign-in code not recognised (%s): run outlook-auth again",
			    r.code);
		case GRAPH_DEVICE_FAILED:
			die_login("sign-in", &r);
		}
		graph_resp_free(&r);
		if (time(NULL) > deadline)
			die(EX_NOPERM, "sign-in code expired before anyone signed in: "
			    "run outlook-auth again");
	}
}

static int
connect_mailbox(const char *customer)
{
	struct crypt_key k;
	struct graph_tokens t;
	struct graph_user me;
	struct graph_resp r;
	struct derr e;
	struct graph *g;
	PGconn *c;
	long long id;

	g = open_graph();
	if (graph_client_id(g)[0] == '\0')
		die(EX_USAGE, "DRIP_CLIENT_ID is not set: the Entra application "
		    "(public client) id is needed to sign in");
	load_key(&k);
	c = open_db();
	device_flow(g, &t);
	if (graph_me(g, &e, t.access, NULL, &r) == -1)
		die_derr(&e);
	if (r.class != GRAPH_OK) {
		graph_derr(&e, "reading the signed-in mailbox (/me)", &r);
		die_derr(&e);
	}
	if (graph_user_parse(&r, &me) == -1)
		die(EX_PROTOCOL, "reading the signed-in mailbox (/me): no id or address");
	graph_resp_free(&r);
	if (identity_connect(&e, c, &k, customer, &me, &t, &id) == -1)
		die_derr(&e);
	graph_tokens_wipe(&t);
	crypt_key_wipe(&k);
	if (verbose)
		say(LOG_INFO, "connected %s as identity %lld", me.email, id);
	print_identity(c, id);
	graph_free(g);
	PQfinish(c);
	return 0;
}

static int
me_op(struct graph *g, struct derr *e, const char *token, void *arg,
    struct graph_resp *out)
{
	return graph_me(g, e, token, NULL, out);
}

/*
 * Spend the refresh token (so a revoked sign-in shows now, not at the next
 * send), then read /me with the new access token.
 */
static int
check_identity(long long id, const char *customer)
{
	struct crypt_key k;
	struct graph_resp r;
	struct derr e;
	struct graph *g;
	PGconn *c;
	char *tok;
	int rc;

	c = open_db();
	if (identity_owned(&e, c, id, customer) == -1)
		die_derr(&e);
	load_key(&k);
	g = open_graph();
	if ((tok = malloc(GRAPH_TOKEN_MAX)) == NULL)
		die(EX_OSERR, "out of memory");
	rc = identity_refresh(&e, c, g, &k, id, NULL, tok, GRAPH_TOKEN_MAX);
	explicit_bzero(tok, GRAPH_TOKEN_MAX);
	free(tok);
	if (rc == 0 && identity_call(&e, c, g, &k, id, me_op, NULL, &r) == 0) {
		if (r.class != GRAPH_OK) {
			graph_derr(&e, "reading the mailbox (/me)", &r);
			if (r.class == GRAPH_AUTH)
				e.code = EX_NOPERM;
			rc = -1;
		}
		graph_resp_free(&r);
	} else
		rc = -1;
	crypt_key_wipe(&k);
	graph_free(g);
	if (rc == -1) {
		/* A refusal that changed the row (needs_reauth) is shown too. */
		if (e.code == EX_NOPERM)
			print_identity(c, id);
		say(LOG_ERR, "%s", e.msg);
		PQfinish(c);
		out_finish();
		return e.code ? e.code : EX_SOFTWARE;
	}
	print_identity(c, id);
	PQfinish(c);
	return 0;
}

static int
list_identities(const char *customer)
{
	struct derr e;
	json_object *a;
	PGconn *c = open_db();
	size_t i;

	if ((a = identity_list_json(&e, c, customer)) == NULL)
		die_derr(&e);
	for (i = 0; i < json_object_array_length(a); i++)
		out_json(json_object_array_get_idx(a, i));
	json_object_put(a);
	PQfinish(c);
	return 0;
}

static int
revoke_identity(long long id, const char *customer)
{
	struct derr e;
	PGconn *c = open_db();

	if (identity_owned(&e, c, id, customer) == -1 || identity_revoke(&e, c, id) == -1)
		die_derr(&e);
	print_identity(c, id);
	PQfinish(c);
	return 0;
}

static int
update_identity(long long id, const char *customer)
{
	struct vlist errs = { 0 };
	struct derr e;
	json_object *in;
	PGconn *c;

	if ((in = json_read_one(0, &e)) == NULL)
		die_derr(&e);
	c = open_db();
	if (identity_owned(&e, c, id, customer) == -1)
		die_derr(&e);
	if (identity_update(&e, c, id, in, &errs) == -1) {
		if (errs.total > 0) {
			report_vlist(&errs);
			vlist_free(&errs);
			exit(EX_DATAERR);
		}
		die_derr(&e);
	}
	json_object_put(in);
	print_identity(c, id);
	PQfinish(c);
	return 0;
}

static void
set_mode(enum mode *m, enum mode want, const char *opt)
{
	if (*m != CONNECT)
		usage_error("%s: only one of --check, --list, --revoke, --update", opt);
	*m = want;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "customer",	required_argument,	NULL, 'c' },
		{ "check",	required_argument,	NULL, 'C' },
		{ "list",	no_argument,		NULL, 'L' },
		{ "revoke",	required_argument,	NULL, 'R' },
		{ "update",	required_argument,	NULL, 'U' },
		COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const char *customer = NULL;
	enum mode mode = CONNECT;
	long long id = 0;
	int ch, rc = 0;

	tool_start("outlook-auth", usage, argv);
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (common_option(ch, optarg))
			continue;
		switch (ch) {
		case 'c':
			customer = optarg;
			if (*customer == '\0' || strlen(customer) > 200)
				usage_error("--customer: must be 1 to 200 characters");
			break;
		case 'C':
			set_mode(&mode, CHECK, "--check");
			id = option_number("--check", optarg, 1, INT64_MAX);
			break;
		case 'L':
			set_mode(&mode, LIST, "--list");
			break;
		case 'R':
			set_mode(&mode, REVOKE, "--revoke");
			id = option_number("--revoke", optarg, 1, INT64_MAX);
			break;
		case 'U':
			set_mode(&mode, UPDATE, "--update");
			id = option_number("--update", optarg, 1, INT64_MAX);
			break;
		}
	}
	if (optind != argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if ((mode == CONNECT || mode == LIST) && customer == NULL)
		usage_error("--customer is required%s", mode == LIST ? " with --list" : "");
	switch (mode) {
	case CONNECT:	rc = connect_mailbox(customer); break;
	case CHECK:	rc = check_identity(id, customer); break;
	case LIST:	rc = list_identities(customer); break;
	case REVOKE:	rc = revoke_identity(id, customer); break;
	case UPDATE:	rc = update_identity(id, customer); break;
	}
	return rc ? rc : out_finish();
}
