/* common.c: diagnostics, options and output shared by every drip tool */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

const char *progname = "drip";
const char *db_option;
int verbose;
int quiet;

static const char *usage_text = "";
static char **tool_argv;
static int journal;	/* stderr is connected to journald */

/*
 * systemd sets JOURNAL_STREAM to the device and inode of the stream it
 * connected; a child whose stderr was redirected inherits the variable,
 * so compare before prefixing lines with <N> priorities.
 */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
tool_start(const char *name, const char *usage, char **argv)
{
	progname = name;
	tool_argv = argv;
	opterr = 0;	/* we say it ourselves, as "tool: ..." */
	usage_text = usage;
	journal = stderr_is_journal();
}

void
say(int prio, const char *fmt, ...)
{
	va_list ap;
	char line[2048];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (journal)
		fprintf(stderr, "<%d>%s: %s\n", prio, progname, line);
	else
		fprintf(stderr, "%s: %s\n", progname, line);
}

noreturn void
die(int code, const char *fmt, ...)
{
	va_list ap;
	char line[2048];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	say(LOG_ERR, "%s", line);
	exit(code);
}

noreturn void
die_derr(const struct derr *e)
{
	die(e->code ? e->code : EX_SOFTWARE, "%s", e->msg[0] ? e->msg : "unknown error");
}

void
report_vlist(const struct vlist *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		say(LOG_ERR, "%s", v->msg[i]);
	if (v->total > v->n)
		say(LOG_ERR, "%zu more errors", v->total - v->n);
}

noreturn void
usage_error(const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	say(LOG_ERR, "%s", line);
	fputs(usage_text, stderr);
	exit(EX_USAGE);
}

int
common_option(int ch, const char *arg)
{
	switch (ch) {
	case 'd':
		db_option = arg;
		return 1;
	case 'h':
		fputs(usage_text, stdout);
		exit(out_finish());
	case 'q':
		quiet = 1;
		return 1;
	case 'v':
		verbose++;
		return 1;
	case 'V':
		printf("%s (drip) %s\n", progname, DRIP_VERSION);
		exit(out_finish());
	case ':':
		usage_error("option '%s' needs a value", tool_argv[optind - 1]);
	case '?':
		if (optopt != 0)
			usage_error("unknown option '-%c'", optopt);
		usage_error("unknown option '%s'", tool_argv[optind - 1]);
	}
	return 0;
}

long long
option_number(const char *opt, const char *arg, long long min, long long max)
{
	const char *errstr;
	long long n = strtonum(arg, min, max, &errstr);

	if (errstr != NULL)
		usage_error("%s: '%s' is %s (%lld to %lld)", opt, arg, errstr, min, max);
	return n;
}

void
out_line(const char *json)
{
	fputs(json, stdout);
	putchar('\n');
}

void
out_json(json_object *o)
{
	out_line(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

int
out_finish(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		say(LOG_ERR, "write standard output: %s", strerror(errno));
		return EX_IOERR;
	}
	return 0;
}

PGconn *
open_db(void)
{
	struct derr e;
	PGconn *c;

	if ((c = db_open(&e, db_conninfo(db_option))) == NULL)
		die_derr(&e);
	return c;
}

/*
 * The soft limit on open files, raised towards need as far as the hard
 * limit lets an unprivileged process; *was gets the limit before. -1 if
 * the limits cannot be read.
 */
long
open_files_raise(long need, long *was)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	*was = rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long)rl.rlim_cur;
	if (*was >= need)
		return *was;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)need ?
	    rl.rlim_max : (rlim_t)need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return *was;
	return (long)rl.rlim_cur;
}
