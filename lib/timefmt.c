/* timefmt.c: RFC 3339 times, always in UTC */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drip.h"

void
rfc3339(char out[RFC3339_LEN], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * Accepts "YYYY-MM-DDTHH:MM:SS" with optional fraction and "Z" or a
 * numeric offset, as RFC 3339 allows; a bare date means its midnight UTC.
 */
int
rfc3339_parse(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	int sign, oh, om;
	long off = 0;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%d", &tm)) == NULL)
		return -1;
	if (*p == '\0')
		goto done;
	if ((*p != 'T' && *p != 't' && *p != ' ') ||
	    (p = strptime(p + 1, "%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9' ||
		    p[3] != ':' || p[4] < '0' || p[4] > '9' || p[5] < '0' ||
		    p[5] > '9')
			return -1;
		oh = (p[1] - '0') * 10 + (p[2] - '0');
		om = (p[4] - '0') * 10 + (p[5] - '0');
		if (oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 3600L + om * 60L);
		p += 6;
	} else
		return -1;
	if (*p != '\0')
		return -1;
done:
	*out = timegm(&tm) - off;
	return 0;
}

/*
 * The clock every scheduling decision uses. DRIP_NOW (RFC 3339) pins it,
 * so tests and the demo can stand on a Monday 09:00 or across a
 * daylight-saving change without sleeping; tools pass this value to SQL as
 * a parameter instead of calling now() there.
 */
time_t
clock_now(void)
{
	const char *pin = getenv("DRIP_NOW");
	time_t t;

	if (pin != NULL && *pin != '\0' && rfc3339_parse(pin, &t) == 0)
		return t;
	return time(NULL);
}
