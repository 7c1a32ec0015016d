/*
 * tap.h: the Test Anything Protocol for drip's C unit tests.
 * plan(n); ok(cond, fmt, ...); is_str(got, want, desc); return done();
 */
#ifndef DRIP_TAP_H
#define DRIP_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TAP_UNUSED __attribute__((unused))

static int tap_n, tap_failed, tap_planned;

TAP_UNUSED static void
plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
}

TAP_UNUSED __attribute__((format(printf, 2, 3))) static int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		tap_failed++;
	return cond;
}

TAP_UNUSED static int
is_str(const char *got, const char *want, const char *desc)
{
	int same = got != NULL && want != NULL ? strcmp(got, want) == 0 : got == want;

	if (!ok(same, "%s", desc))
		printf("# got:      %s\n# expected: %s\n", got ? got : "(null)",
		    want ? want : "(null)");
	return same;
}

TAP_UNUSED static int
done(void)
{
	if (tap_n != tap_planned) {
		printf("# planned %d tests but ran %d\n", tap_planned, tap_n);
		return 1;
	}
	return tap_failed != 0;
}

#endif
