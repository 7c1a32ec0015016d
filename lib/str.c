/* str.c: small string helpers */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drip.h"

void
str_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

char *
xstrdup_lower(const char *s)
{
	char *d;

	if ((d = strdup(s)) != NULL)
		str_lower(d);
	return d;
}

int
str_has_nul(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past
 * U+10FFFF. PostgreSQL would reject such text later, mid-transaction; we
 * reject it up front with the input's line or path.
 */
int
utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + len;
	unsigned int c, min;
	int n;

	while (s < end) {
		c = *s++;
		if (c < 0x80)
			continue;
		if ((c & 0xe0) == 0xc0) {
			n = 1; c &= 0x1f; min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2; c &= 0x0f; min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3; c &= 0x07; min = 0x10000;
		} else
			return 0;
		if (end - s < n)
			return 0;
		while (n-- > 0) {
			if ((*s & 0xc0) != 0x80)
				return 0;
			c = (c << 6) | (*s++ & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
	}
	return 1;
}

/* strtonum(3) with the bounds and the error text in one call. */
long long
parse_count(const char *s, long long min, long long max, const char **errstr)
{
	return strtonum(s, min, max, errstr);
}
