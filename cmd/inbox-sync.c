/* inbox-sync: read mailboxes for replies, bounces and opt-outs; stop sequences */
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage[] =
    "usage: inbox-sync [-qvV] [-d conninfo] [--identity id | -c customer_id]\n"
    "                  [--max-seconds s] [--opt-out-words file] [--stop-on-auto-reply]\n";

static void
note(void *arg, int prio, const char *line)
{
	if ((quiet && prio > LOG_WARNING) || (!verbose && prio > LOG_NOTICE))
		return;
	say(prio, "%s", line);
}

static void
add(json_object *o, const char *name, long n)
{
	json_object_object_add(o, name, json_object_new_int64(n));
}

static void
print_summary(const struct inbox_stats *st)
{
	json_object *o = json_object_new_object();

	add(o, "identities", st->identities);
	add(o, "messages", st->messages);
	add(o, "replied", st->replied);
	add(o, "auto_replies", st->auto_replies);
	add(o, "bounced", st->bounced);
	add(o, "unsubscribed", st->unsubscribed);
	add(o, "delayed", st->delayed);
	add(o, "unmatched", st->unmatched);
	add(o, "duplicates", st->duplicates);
	add(o, "resyncs", st->resyncs);
	add(o, "errors", st->errors);
	json_object_object_add(o, "seconds", json_object_new_double(st->seconds));
	out_json(o);
	json_object_put(o);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "customer",		required_argument, NULL, 'c' },
		{ "identity",		required_argument, NULL, 'i' },
		{ "max-seconds",	required_argument, NULL, 's' },
		{ "opt-out-words",	required_argument, NULL, 'w' },
		{ "stop-on-auto-reply",	no_argument,	   NULL, 'a' },
		COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct inbox_opts o = {
		.max_seconds = 240, .lease = 300, .note = note,
	};
	struct inbox_stats st;
	struct derr e;
	const char *words_file = NULL;
	char **words = NULL;
	size_t nwords = 0;
	int ch, rc;

	tool_start("inbox-sync", usage, argv);
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS "c:", longopts, NULL)) != -1) {
		if (common_option(ch, optarg))
			continue;
		switch (ch) {
		case 'a':
			o.stop_on_auto_reply = 1;
			break;
		case 'c':
			if (*optarg == '\0' || strlen(optarg) > 200)
				usage_error("-c: a customer id has 1 to 200 characters");
			o.customer = optarg;
			break;
		case 'i':
			o.identity = option_number("--identity", optarg, 1, INT64_MAX);
			break;
		case 's':
			o.max_seconds = (int)option_number("--max-seconds", optarg, 1, 86400);
			break;
		case 'w':
			words_file = optarg;
			break;
		}
	}
	if (optind != argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (words_file != NULL) {
		if (classify_words_load(&e, words_file, &words, &nwords) == -1)
			die_derr(&e);
		o.optout = (const char *const *)words;
		o.noptout = nwords;
	}
	o.conninfo = db_conninfo(db_option);

	rc = inbox_sync(&e, &o, &st);
	classify_words_free(words, nwords);
	print_summary(&st);
	if (rc == -1) {
		(void)out_finish();
		die_derr(&e);
	}
	rc = out_finish();
	return rc != 0 ? rc : st.code;
}
