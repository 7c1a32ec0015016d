/*
 * email.c: a practical subset of RFC 5321/5322 addresses.
 *
 * Accepted: a dot-atom local part (no quoted strings, no comments, no
 * address literals) of at most 64 octets, '@', and a domain name of at
 * least two labels (letters, digits, hyphens; a label neither starts nor
 * ends with a hyphen; the last label is not all digits), 253 octets at
 * most, 254 for the whole address. The domain is lower-cased; the local
 * part is kept as written (RFC 5321 lets the receiver decide its case), and
 * the database compares addresses case-insensitively.
 */
#include <ctype.h>
#include <string.h>

#include "drip.h"

static int
is_atext(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static const char *
check_local(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return "empty local part";
	if (len > 64)
		return "local part longer than 64 characters";
	if (s[0] == '.' || s[len - 1] == '.')
		return "local part starts or ends with a dot";
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return "two dots in a row";
		} else if (!is_atext((unsigned char)s[i]))
			return "invalid character in local part";
	}
	return NULL;
}

static const char *
check_domain(const char *s, size_t len)
{
	size_t i, label = 0, labels = 1;
	int alldigits = 1;

	if (len == 0)
		return "empty domain";
	if (len > 253)
		return "domain longer than 253 characters";
	for (i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)s[i] : '.';

		if (c == '.') {
			if (label == 0)
				return "empty label in domain";
			if (s[i - 1] == '-')
				return "domain label ends with a hyphen";
			if (i < len) {
				labels++;
				alldigits = 1;
			}
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-')
			return "invalid character in domain";
		if (c == '-' && label == 0)
			return "domain label starts with a hyphen";
		if (++label > 63)
			return "domain label longer than 63 characters";
		if (!isdigit(c))
			alldigits = 0;
	}
	if (labels < 2)
		return "domain needs a dot";
	if (alldigits)
		return "top-level domain is numeric";
	return NULL;
}

int
email_normalize(const char *in, char out[EMAIL_MAX + 1], const char **why)
{
	const char *at = NULL;	/* set whenever *why stays NULL; for -Wmaybe-uninitialized */
	size_t len = strlen(in);

	*why = NULL;
	if (len == 0)
		*why = "empty";
	else if (len > EMAIL_MAX)
		*why = "longer than 254 characters";
	else if ((at = strrchr(in, '@')) == NULL)
		*why = "no @";
	else if ((*why = check_local(in, (size_t)(at - in))) == NULL)
		*why = check_domain(at + 1, strlen(at + 1));
	if (*why != NULL)
		return -1;
	strlcpy(out, in, EMAIL_MAX + 1);
	str_lower(out + (at - in) + 1);
	return 0;
}

/* "example.com" or "@example.com" */
int
domain_normalize(const char *in, char out[EMAIL_MAX + 1], const char **why)
{
	if (*in == '@')
		in++;
	if ((*why = check_domain(in, strlen(in))) != NULL)
		return -1;
	strlcpy(out, in, EMAIL_MAX + 1);
	str_lower(out);
	return 0;
}

const char *
email_domain(const char *normalized)
{
	const char *at = strrchr(normalized, '@');

	return at != NULL ? at + 1 : NULL;
}
