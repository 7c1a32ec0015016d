/* send-due: claim and send every due step; run each minute by a timer */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char usage[] =
    "usage: send-due [-nqvV] [-d conninfo] [--batch n] [--concurrency n]\n"
    "                [--max-seconds s] [--grace s]\n";

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * SIGTERM (systemctl stop) or SIGINT ends the run as --max-seconds does:
 * claimed work goes back at once, not when its lease is over, and drafts
 * not yet recorded are deleted. A second one ends the process.
 */
static void
stop_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static void
note(void *arg, int prio, const char *line)
{
	if (quiet && prio > LOG_WARNING)
		return;
	say(prio, "%s", line);
}

static json_object *
summary(const struct send_stats *st)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "claimed", json_object_new_int64(st->claimed));
	json_object_object_add(o, "sent", json_object_new_int64(st->sent));
	json_object_object_add(o, "deferred", json_object_new_int64(st->deferred));
	json_object_object_add(o, "failed", json_object_new_int64(st->failed));
	json_object_object_add(o, "bounced", json_object_new_int64(st->bounced));
	json_object_object_add(o, "suppressed", json_object_new_int64(st->suppressed));
	json_object_object_add(o, "skipped", json_object_new_int64(st->skipped));
	json_object_object_add(o, "reconciled", json_object_new_int64(st->reconciled));
	json_object_object_add(o, "review", json_object_new_int64(st->review));
	json_object_object_add(o, "seconds", json_object_new_double(st->seconds));
	return o;
}

/*
 * A request in flight holds its connection's socket and, while a new
 * connection's host name is looked up, libcurl's resolver pair; the
 * database connections, the standard streams and libcurl's own take a
 * few more. Past the hard limit, fewer requests at once rather than
 * sends deferred for a socket that could not be opened.
 */
#define FILES_PER_REQUEST	3
#define FILES_RESERVED		16

static void
fit_open_files(struct send_opts *o)
{
	long need = (long)o->concurrency * FILES_PER_REQUEST + FILES_RESERVED;
	long have, was;
	int n;

	if ((have = open_files_raise(need, &was)) == -1)
		return;
	if (have > was && verbose)
		say(LOG_INFO, "open files: soft limit raised from %ld to %ld", was, have);
	if (have >= need)
		return;
	n = have - FILES_RESERVED >= FILES_PER_REQUEST ?
	    (int)((have - FILES_RESERVED) / FILES_PER_REQUEST) : 1;
	say(LOG_WARNING, "--concurrency %d: needs %ld open files, the limit is %ld: "
	    "%d requests at once", o->concurrency, need, have, n);
	o->concurrency = n;
}

static int
dry_one(void *arg, json_object *o)
{
	out_json(o);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "batch",	 required_argument, NULL, 'b' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "dry-run",	 no_argument,	    NULL, 'n' },
		{ "grace",	 required_argument, NULL, 'g' },
		{ "max-seconds", required_argument, NULL, 's' },
		COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct send_opts o = {
		.batch = 200, .concurrency = 32, .per_mailbox = 4, .max_seconds = 50,
		.grace = 900, .note = note,
	};
	struct send_stats st;
	struct derr e;
	const char *flag;
	json_object *sum;
	int ch, dry = 0;

	tool_start("send-due", usage, argv);
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS "n", longopts, NULL)) != -1) {
		if (common_option(ch, optarg))
			continue;
		switch (ch) {
		case 'b':
			o.batch = (int)option_number("--batch", optarg, 1, 10000);
			break;
		case 'c':
			o.concurrency = (int)option_number("--concurrency", optarg, 1, 1024);
			break;
		case 'g':
			o.grace = (int)option_number("--grace", optarg, 0, 7 * 86400);
			break;
		case 'n':
			dry = 1;
			break;
		case 's':
			o.max_seconds = (int)option_number("--max-seconds", optarg, 1, 86400);
			break;
		}
	}
	if (optind != argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	o.conninfo = db_conninfo(db_option);
	/* a run may last max_seconds plus its last requests' time-outs */
	o.lease = o.max_seconds + 180;

	if (dry) {
		if (send_due_dry_run(&e, &o, dry_one, NULL) == -1)
			die_derr(&e);
		return out_finish();
	}
	flag = getenv("ENABLE_EMAIL_SCHEDULER");
	if (flag == NULL || strcmp(flag, "true") != 0) {
		say(LOG_NOTICE, "scheduler disabled: ENABLE_EMAIL_SCHEDULER is not \"true\"; nothing sent");
		return 0;
	}
	fit_open_files(&o);
	o.stop = &stop;
	stop_on_signals();
	if (send_due(&e, &o, &st) == -1) {
		sum = summary(&st);
		out_json(sum);
		json_object_put(sum);
		(void)out_finish();
		die_derr(&e);
	}
	sum = summary(&st);
	out_json(sum);
	json_object_put(sum);
	return out_finish();
}
