/* test-email: the address validator on a table of valid and invalid addresses */
#include "drip.h"
#include "tap.h"

static const struct { const char *in, *out; } valid[] = {
	{ "ann@example.com", "ann@example.com" },
	{ "Ann@Example.COM", "Ann@example.com" },	/* only the domain is lowered */
	{ "first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk" },
	{ "o'brien@example.ie", "o'brien@example.ie" },
	{ "x@a-b.example", "x@a-b.example" },
	{ "!#$%&'*+-/=?^_`{|}~@example.org", "!#$%&'*+-/=?^_`{|}~@example.org" },
	{ "a@xn--bcher-kva.example", "a@xn--bcher-kva.example" },
	{ "1@123.example", "1@123.example" },
};

static const char *const invalid[] = {
	"", "plain", "@example.com", "ann@", "ann@example", "ann@.example.com",
	"ann@example..com", "ann@-example.com", "ann@example-.com",
	".ann@example.com", "ann.@example.com", "a..b@example.com",
	"ann example@example.com", "\"ann\"@example.com", "ann@[127.0.0.1]",
	"ann@example.123", "ann@exa_mple.com", "ann@@example.com",
	"ann@example.com.", "anné@example.com", "ann@exämple.com",
	"ann@example.com\n", "ann\r@example.com",
	/* 65-octet local part */
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com",
	/* 64-octet label */
	"a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
};

int
main(void)
{
	char out[EMAIL_MAX + 1], big[400], dom[EMAIL_MAX + 1];
	const char *why;
	size_t i;

	plan((int)(sizeof(valid) / sizeof(valid[0]) + sizeof(invalid) / sizeof(invalid[0])) + 6);
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		if (email_normalize(valid[i].in, out, &why) == -1)
			ok(0, "valid: %s (rejected: %s)", valid[i].in, why);
		else
			is_str(out, valid[i].out, valid[i].in);
	}
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		ok(email_normalize(invalid[i], out, &why) == -1 && why != NULL,
		    "invalid[%zu] rejected (%s)", i, why ? why : "accepted");

	/* 255 octets in all is one too many, though each part is in bounds */
	memset(big, 'a', sizeof(big));
	memcpy(big, "a@", 2);
	for (i = 2; i < 255; i += 62)
		big[i + 61 < 255 ? i + 61 : 254] = '.';
	big[255] = '\0';
	ok(email_normalize(big, out, &why) == -1, "255 octets rejected (%s)", why ? why : "accepted");

	ok(domain_normalize("@Example.COM", dom, &why) == 0 && strcmp(dom, "example.com") == 0,
	    "domain with @ prefix is normalized");
	ok(domain_normalize("localhost", dom, &why) == -1, "domain without a dot is rejected");
	is_str(email_domain("ann@example.com"), "example.com", "email_domain");
	ok(tz_valid("Europe/Berlin") && tz_valid("UTC") && tz_valid("America/New_York"),
	    "known time zones are valid");
	ok(!tz_valid("Mars/Olympus") && !tz_valid("../etc/passwd") && !tz_valid("") &&
	    !tz_valid("/etc/localtime") && !tz_valid("Europe"),
	    "unknown zones, paths and folders are not");
	return done();
}
