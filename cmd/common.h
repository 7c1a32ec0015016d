/*
 * common.h: what every drip tool shares: its name in diagnostics, the
 * common options, JSON on standard output, and exit paths. This is tool
 * code: it prints and exits, which the library never does.
 */
#ifndef DRIP_COMMON_H
#define DRIP_COMMON_H

#include <getopt.h>
#include <stdnoreturn.h>
#include <syslog.h>

#include "drip.h"

extern const char *progname;
extern const char *db_option;	/* -d, --db */
extern int verbose;		/* -v, counted */
extern int quiet;		/* -q */

/* Options every tool takes; a tool appends its own before the last entry. */
/* The leading ":" makes getopt report a missing argument as ':'. */
#define COMMON_SHORTOPTS ":d:hqvV"
#define COMMON_LONGOPTS \
	{ "db",		required_argument,	NULL, 'd' }, \
	{ "help",	no_argument,		NULL, 'h' }, \
	{ "quiet",	no_argument,		NULL, 'q' }, \
	{ "verbose",	no_argument,		NULL, 'v' }, \
	{ "version",	no_argument,		NULL, 'V' }

void	tool_start(const char *name, const char *usage, char **argv);
int	common_option(int ch, const char *arg);
noreturn void usage_error(const char *fmt, ...) DRIP_PRINTF(1, 2);

/* Diagnostics: "tool: what failed: why", with <N> for journald. */
void	say(int prio, const char *fmt, ...) DRIP_PRINTF(2, 3);
noreturn void die(int code, const char *fmt, ...) DRIP_PRINTF(2, 3);
noreturn void die_derr(const struct derr *);
void	report_vlist(const struct vlist *);
long long option_number(const char *opt, const char *arg, long long min, long long max);
long	open_files_raise(long need, long *was);

/* Standard output carries JSON only: one value per line. */
void	out_json(json_object *);
void	out_line(const char *json);
int	out_finish(void);	/* flush; 0 or EX_IOERR after a failed write */

PGconn	*open_db(void);		/* db_open() from -d or the environment, or die */

#endif
