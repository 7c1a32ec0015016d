/* events: print the sending telemetry as JSON Lines; --follow for new events */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage[] =
    "usage: events [-fqvV] [-d conninfo] [-c customer_id] [--campaign id]\n"
    "              [-s time] [-t type ...]\n";

#define TYPES_MAX	16
#define BATCH		512	/* notifications read at once */

static volatile sig_atomic_t stop;

/* The ids the first read printed, in order: --follow must not print
 * them again when their notification comes. */
struct seen {
	long long	*v;
	size_t		 n, cap;
	int		 keep;
	long long	 count;
};

static void
on_signal(int sig)
{
	stop = 1;
}

static int
print_event(long long id, json_object *o, void *arg)
{
	struct seen *s = arg;
	long long *nv;
	size_t cap;

	if (s->keep) {
		if (s->n == s->cap) {
			cap = s->cap ? s->cap * 2 : 1024;
			if ((nv = reallocarray(s->v, cap, sizeof(*nv))) == NULL)
				die(EX_OSERR, "out of memory");
			s->v = nv;
			s->cap = cap;
		}
		s->v[s->n++] = id;
	}
	s->count++;
	out_json(o);
	return ferror(stdout) ? -1 : 0;
}

static int
cmp_id(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static int
seen_before(const struct seen *s, long long id)
{
	return s->n > 0 && id <= s->v[s->n - 1] &&
	    bsearch(&id, s->v, s->n, sizeof(*s->v), cmp_id) != NULL;
}

static void
add_types(const char *arg, char **types, size_t *n)
{
	char *list, *p, *t;

	if ((list = strdup(arg)) == NULL)
		die(EX_OSERR, "out of memory");
	p = list;
	while ((t = strsep(&p, ",")) != NULL) {
		if (!event_type_valid(t))
			usage_error("-t: unknown event type '%s'", t);
		if (*n == TYPES_MAX)
			usage_error("-t: too many types");
		if ((types[(*n)++] = strdup(t)) == NULL)
			die(EX_OSERR, "out of memory");
	}
	free(list);
}

/*
 * Wait for notifications with SIGINT and SIGTERM let through only while
 * waiting (ppoll), so a signal is never lost between checking the flag
 * and going to sleep.
 */
static size_t
wait_new(PGconn *db, const sigset_t *waitmask, long long *ids)
{
	struct pollfd pfd;
	struct derr e;
	size_t n;

	while (!stop) {
		if (events_notified(&e, db, ids, BATCH, &n) == -1)
			die_derr(&e);
		if (n > 0)
			return n;
		pfd.fd = PQsocket(db);
		pfd.events = POLLIN;
		if (pfd.fd < 0)
			die(EX_TEMPFAIL, "database: connection lost");
		if (ppoll(&pfd, 1, NULL, waitmask) == -1 && errno != EINTR)
			die(EX_OSERR, "wait for events: %s", strerror(errno));
	}
	return 0;
}

static void
follow(PGconn *db, struct events_filter *f, struct seen *s)
{
	struct sigaction sa;
	struct derr e;
	sigset_t block, waitmask;
	long long *ids;
	size_t i, k, n;

	if ((ids = calloc(BATCH, sizeof(*ids))) == NULL)
		die(EX_OSERR, "out of memory");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);

	s->keep = 0;
	while ((n = wait_new(db, &waitmask, ids)) > 0) {
		for (i = k = 0; i < n; i++)
			if (!seen_before(s, ids[i]))
				ids[k++] = ids[i];
		if (k == 0)
			continue;
		f->ids = ids;
		f->nids = k;
		if (events_each(&e, db, f, print_event, s) == -1)
			die_derr(&e);
		if (fflush(stdout) == EOF)
			exit(out_finish());
	}
	free(ids);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "campaign",	required_argument,	NULL, 'C' },
		{ "customer",	required_argument,	NULL, 'c' },
		{ "follow",	no_argument,		NULL, 'f' },
		{ "since",	required_argument,	NULL, 's' },
		{ "type",	required_argument,	NULL, 't' },
		COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct events_filter f = { 0 };
	struct seen s = { 0 };
	char *types[TYPES_MAX];
	size_t ntypes = 0, i;
	struct derr e;
	PGconn *db;
	int ch, follow_on = 0;

	tool_start("events", usage, argv);
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS "c:fs:t:", longopts,
	    NULL)) != -1) {
		if (common_option(ch, optarg))
			continue;
		switch (ch) {
		case 'C':
			f.campaign = option_number("--campaign", optarg, 1, INT64_MAX);
			break;
		case 'c':
			if (*optarg == '\0' || strlen(optarg) > 200)
				usage_error("-c: a customer id has 1 to 200 characters");
			f.customer = optarg;
			break;
		case 'f':
			follow_on = 1;
			break;
		case 's':
			if (rfc3339_parse(optarg, &f.since) == -1)
				usage_error("-s: '%s' is not an RFC 3339 time", optarg);
			f.has_since = 1;
			break;
		case 't':
			add_types(optarg, types, &ntypes);
			break;
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	f.types = (const char *const *)types;
	f.ntypes = ntypes;

	db = open_db();
	if (f.campaign > 0 && events_campaign_check(&e, db, f.campaign, f.customer) == -1)
		die_derr(&e);
	/* Listen first, then read: an event committed in between is in the
	 * read and notified; the ids kept make it print once. */
	if (follow_on && events_listen(&e, db) == -1)
		die_derr(&e);
	s.keep = follow_on;
	if (events_each(&e, db, &f, print_event, &s) == -1)
		die_derr(&e);
	if (fflush(stdout) == EOF)
		exit(out_finish());
	if (verbose)
		say(LOG_INFO, "%lld events%s", s.count, follow_on ? "; following" : "");
	if (follow_on)
		follow(db, &f, &s);
	free(s.v);
	for (i = 0; i < ntypes; i++)
		free(types[i]);
	PQfinish(db);
	return out_finish();
}
