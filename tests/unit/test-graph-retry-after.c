/* test-graph-retry-after: Retry-After as seconds, fractions and HTTP dates; garbage refused */
#include "drip.h"
#include "tap.h"

static time_t now;

static void
secs(const char *in, double want)
{
	double got = -1;

	if (retry_after_parse(in, now, &got) == -1)
		ok(0, "'%s' parses (refused)", in);
	else
		ok(got > want - 1e-9 && got < want + 1e-9, "'%s' is %g s (got %g)", in, want, got);
}

static void
garbage(const char *in)
{
	double got = 12345;

	ok(retry_after_parse(in, now, &got) == -1 && got == 12345,
	    "'%s' is refused and leaves the value alone", in);
}

int
main(void)
{
	static const char *const bad[] = {
		"", "   ", "soon", "-1", "+5", "1.", ".5", "1e3", "0x10", "12abc",
		"1 2", "inf", "nan", "2.128s", "99999999999",
		"Sat, 28 Nov 2026 09:00:30 PST",	/* HTTP dates are GMT */
		"Sat, 28 Nov 2026 09:00:30",
		"Sat, 32 Nov 2026 09:00:30 GMT",
		"2026-11-28T09:00:30Z",			/* RFC 3339 is not an HTTP date */
		"Sat, 28 Nov 2026 09:00:30 GMT trailing",
	};
	struct tm tm = { .tm_year = 126, .tm_mon = 10, .tm_mday = 28, .tm_hour = 9 };
	size_t i;

	now = timegm(&tm);	/* Saturday 2026-11-28 09:00:00 UTC */
	plan(11 + (int)(sizeof(bad) / sizeof(bad[0])));
	secs("120", 120);
	secs("0", 0);
	secs("2.128", 2.128);	/* Graph sends fractions */
	secs("  7 ", 7);
	secs("0.5", 0.5);
	secs("Sat, 28 Nov 2026 09:00:30 GMT", 30);		/* IMF-fixdate */
	secs("Saturday, 28-Nov-26 09:01:00 GMT", 60);		/* RFC 850 */
	secs("Sat Nov 28 09:00:10 2026", 10);			/* asctime */
	secs("Sat Nov  7 09:00:10 2026", 0);			/* past: now */
	secs("Fri, 27 Nov 2026 09:00:00 GMT", 0);
	secs("Sun, 29 Nov 2026 09:00:00 GMT", 86400);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		garbage(bad[i]);
	return done();
}
