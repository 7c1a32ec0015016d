/* test-template: variables, fallbacks, escaping and hostile values */
#include <stdlib.h>

#include "drip.h"
#include "tap.h"

static struct tmpl_vars vars;

static char *
render(const char *text, enum tmpl_mode mode, struct derr *e)
{
	derr_clear(e);
	return tmpl_render(e, text, mode, tmpl_vars_lookup, &vars);
}

static int
renders(const char *text, enum tmpl_mode mode, const char *want, const char *desc)
{
	struct derr e;
	char *got = render(text, mode, &e);
	int r;

	r = is_str(got, want, desc);
	if (got == NULL)
		printf("# error: %s\n", e.msg);
	free(got);
	return r;
}

static int
fails(const char *text, const char *msg, const char *desc)
{
	struct derr e;
	char *got = render(text, TMPL_TEXT, &e);
	int r = got == NULL && e.code == EX_DATAERR && strcmp(e.msg, msg) == 0;

	if (!ok(r, "%s", desc))
		printf("# got: %s / %s\n", got ? got : "(null)", e.msg);
	free(got);
	return r;
}

/* The messages tmpl_check gives for text, joined with " / ". */
static const char *
check(const char *text)
{
	static char all[2048];
	struct vlist v = { .n = 0 };
	size_t i;
	int n;

	n = tmpl_check(text, "t", &v);
	all[0] = '\0';
	for (i = 0; i < v.n; i++) {
		if (i > 0)
			strlcat(all, " / ", sizeof(all));
		strlcat(all, v.msg[i], sizeof(all));
	}
	if ((size_t)n != v.total)
		strlcat(all, " (count differs)", sizeof(all));
	vlist_free(&v);
	return all;
}

static void
test_values(void)
{
	renders("Hi {{first_name}}, from {{sender_name}}", TMPL_TEXT,
	    "Hi Ann, from Bob", "prospect and sender variables");
	renders("{{ first_name | there }}!", TMPL_TEXT, "Ann!",
	    "spaces around name and fallback are allowed");
	renders("Hi {{last_name|there}}", TMPL_TEXT, "Hi there",
	    "fallback when the value is absent");
	renders("Hi {{company|friend}}", TMPL_TEXT, "Hi friend",
	    "fallback when the value is only white space");
	renders("In {{industry}}", TMPL_TEXT, "In fintech",
	    "a key of fields is a variable");
	renders("{{title|x}}", TMPL_TEXT, "x",
	    "a reserved name never reads fields, even when fields has it");
	renders("{{a|b|c}}", TMPL_TEXT, "b|c", "the fallback is everything after the first bar");
	renders("{{a|}}.", TMPL_TEXT, ".", "an empty fallback is allowed");
	fails("Hi {{last_name}},", "no value for variable last_name",
	    "no value and no fallback fails naming the variable");
	fails("{{nope}}", "no value for variable nope", "an unknown variable has no value");
}

static void
test_hostile(void)
{
	char *big, *want, *got;
	struct derr e;
	size_t n = 1 << 20;

	vars.first_name = "<script>alert(\"x\" + 'y')</script> & co";
	renders("<p>Hi {{first_name}}</p>", TMPL_HTML,
	    "<p>Hi &lt;script&gt;alert(&quot;x&quot; + &#39;y&#39;)&lt;/script&gt; &amp; co</p>",
	    "html: markup and quotes in a value are escaped");
	renders("Hi {{first_name}}", TMPL_TEXT,
	    "Hi <script>alert(\"x\" + 'y')</script> & co", "text: the value is inserted as is");
	renders("<b>{{last_name|<i>there</i>}}</b>", TMPL_HTML, "<b><i>there</i></b>",
	    "html: the author's fallback is not escaped");

	vars.first_name = "{{sender_email}} {{first_name}}";
	renders("Hi {{first_name}}", TMPL_TEXT, "Hi {{sender_email}} {{first_name}}",
	    "a {{ inside a value is never expanded");
	renders("Hi {{first_name}}", TMPL_HTML, "Hi {{sender_email}} {{first_name}}",
	    "nor in html");

	vars.first_name = "Ann\r\nBcc: victim@example.com";
	renders("Hello {{first_name}}", TMPL_SUBJECT, "Hello AnnBcc: victim@example.com",
	    "subject: CR and LF in a value are dropped");
	renders("Hello\r\n {{last_name|x}}", TMPL_SUBJECT, "Hello x",
	    "subject: no CR or LF survives from any source");
	renders("Hi {{first_name}}", TMPL_TEXT, "Hi Ann\r\nBcc: victim@example.com",
	    "body text keeps line breaks of a value");

	vars.first_name = "Zoë 日本 🎉";
	renders("¡Hola {{first_name}}! «{{x|ß}}»", TMPL_HTML, "¡Hola Zoë 日本 🎉! «ß»",
	    "multi-byte UTF-8 passes through intact");

	big = malloc(n + 1);
	want = malloc(n + 8);
	memset(big, 'a', n);
	big[n] = '\0';
	big[n / 2] = '<';
	vars.first_name = big;
	got = render("[{{first_name}}]", TMPL_HTML, &e);
	snprintf(want, n + 8, "[%.*s&lt;%s]", (int)(n / 2), big, big + n / 2 + 1);
	ok(got != NULL && strcmp(got, want) == 0,
	    "a 1 MiB value is rendered whole (%zu bytes)", got ? strlen(got) : 0);
	free(got);
	free(want);
	free(big);
	vars.first_name = "Ann";
}

static void
test_escaping(void)
{
	renders("\\{{first_name}} is {{first_name}}", TMPL_TEXT,
	    "{{first_name}} is Ann", "a backslash before {{ writes a literal {{");
	renders("C:\\dir and }} and {", TMPL_TEXT, "C:\\dir and }} and {",
	    "backslash elsewhere, a lone }} and { are text");
	renders("\\{{\\{{", TMPL_TEXT, "{{{{", "a literal {{{{ is two escaped {{");
	is_str(check("{{{{first_name}}"), "t: invalid variable name '{{first_name' at line 1, column 1",
	    "{{{{ is not special: it is an invalid name, not an escape");
}

static void
test_check(void)
{
	is_str(check("Hi {{first_name|there}}, {{ company }}"), "",
	    "well-formed text has no errors");
	is_str(check("Hi {{first_name"), "t: unclosed {{ at line 1, column 4",
	    "an unclosed {{ names its position");
	is_str(check("line one\nZoë {{first_name\n}}"), "t: unclosed {{ at line 2, column 5",
	    "a variable cannot span lines; columns count characters, not bytes");
	is_str(check("a {{}} b {{ |x}}"),
	    "t: empty variable name at line 1, column 3 / t: empty variable name at line 1, column 10",
	    "empty names, every one reported");
	is_str(check("{{first name}}"), "t: invalid variable name 'first name' at line 1, column 1",
	    "a space inside a name is invalid");
	is_str(check("{{a {{b}}"), "t: unclosed {{ at line 1, column 1",
	    "a {{ inside a variable means the first was never closed");
	is_str(check("\\{{ not a variable"), "", "an escaped {{ needs no close");
}

int
main(void)
{
	json_object *fields = json_tokener_parse(
	    "{\"industry\":\"fintech\",\"title\":\"CEO\",\"company\":\"no\"}");

	vars.email = "ann@example.com";
	vars.first_name = "Ann";
	vars.company = " \t ";
	vars.sender_name = "Bob";
	vars.sender_email = "bob@sender.example";
	vars.fields = fields;
	plan(31);
	test_values();
	test_hostile();
	test_escaping();
	test_check();
	json_object_put(fields);
	return done();
}
