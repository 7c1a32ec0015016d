/* test-inbox-classify: every class of inbound message, and the tricky ones */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drip.h"
#include "tap.h"

#define MAILBOX	"sales@acme.example"

static struct inbound_verdict v;

static const char *
classify(const char *from, const char *name, const char *subject, const char *body,
    int html, const struct inbound_header *h, size_t nh,
    const struct classify_opts *o)
{
	struct inbound_msg m = {
		.from = from, .from_name = name, .subject = subject, .body = body,
		.body_html = html, .headers = h, .nheaders = nh, .mailbox = MAILBOX,
	};

	if (inbound_classify(&m, o, &v) == -1)
		return "error";
	return inbound_class_name(v.class);
}

#define TEXT(from, subject, body) \
	classify(from, NULL, subject, body, 0, NULL, 0, NULL)

static const char quoted_outlook[] =
    "Sounds good, call me Tuesday.\n"
    "\n"
    "From: Sales <sales@acme.example>\n"
    "Sent: Monday, November 30, 2026 10:00 AM\n"
    "To: Ann <ann@example.com>\n"
    "Subject: Quick question\n"
    "\n"
    "Hi Ann, ... If this is not for you, reply unsubscribe and we stop.\n";

static const char exchange_ndr[] =
    "<html><head><style>p{color:red}</style></head><body>"
    "<p><b>Your message to ann@example.com couldn't be delivered.</b></p>"
    "<p>Delivery has failed to these recipients or groups:</p>"
    "<p><a href=\"mailto:ann@example.com\">ann@example.com</a><br>The email address "
    "you entered couldn't be found.</p>"
    "<p>Generating server: AM0PR01MB1234.eurprd01.prod.outlook.com 203.0.113.7</p>"
    "<p>ann@example.com<br>Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; "
    "not found'</p><p><b>Original message headers:</b></p>"
    "<pre>Message-ID: &lt;SN6PR04MB4032.1@SN6PR04MB4032.namprd04.prod.outlook.com&gt;<br>"
    "From: sales@acme.example<br>To: ann@example.com</pre></body></html>";

int
main(void)
{
	const struct inbound_header reply_hdrs[] = {
		{ "Received", "from mail.example.net by x.outlook.com" },
		{ "in-reply-to", "<step2@acme.example>" },
		{ "REFERENCES", "<step1@acme.example> <step2@acme.example>" },
	};
	const struct inbound_header ndr_hdrs[] = {
		{ "Auto-Submitted", "auto-replied" },
		{ "Content-Type", "multipart/report; report-type=delivery-status; boundary=\"x\"" },
	};
	const struct inbound_header auto_hdr[] = { { "auto-submitted", "auto-replied" } };
	const struct inbound_header auto_no[] = { { "Auto-Submitted", "no" } };
	const struct inbound_header xars[] = { { "X-Auto-Response-Suppress", "All" } };
	const struct inbound_header list[] = { { "List-Unsubscribe", "<mailto:leave@news.example>" } };
	const char *de[] = { "abmelden", "nicht mehr schreiben" };
	const struct classify_opts german = { de, 2 };
	char path[] = "/tmp/test-inbox-words.XXXXXX", **words;
	struct derr e;
	size_t n;
	const char *wordsfile = "# opt-out words\n\n  Abmelden  \nremove me\r\n";
	char *t;
	int fd;

	plan(60);

	/* replies */
	is_str(classify("Ann@Example.com", "Ann", "RE: Quick question", quoted_outlook, 0,
	    reply_hdrs, 3, NULL), "reply", "a reply");
	is_str(v.address, "ann@example.com", "its sender, lower case");
	ok(v.nrefs == 2 && strcmp(v.refs[0], "<step2@acme.example>") == 0 &&
	    strcmp(v.refs[1], "<step1@acme.example>") == 0,
	    "refs: In-Reply-To, then References newest first, each once (got %zu)", v.nrefs);
	is_str(TEXT("ann@example.com", "Undeliverable: Quick question",
	    "Haha, your subject line says undeliverable but here I am. Let's talk."),
	    "reply", "a person whose subject says Undeliverable wrote a reply");
	is_str(classify("ann@example.com", "Microsoft Outlook fan", "Undeliverable: lunch",
	    "I got this, see you at noon", 0, NULL, 0, NULL), "reply",
	    "a display name like Outlook's is not a mail system");
	is_str(TEXT("ann@example.com", "RE: Stop losing leads", "Sounds good, send details."),
	    "reply", "a reply to a subject with 'stop' in it is not an opt-out");

	/* opt-outs */
	is_str(TEXT("ann@example.com", "RE: Quick question", "Please unsubscribe me from this list."),
	    "optout", "unsubscribe");
	ok(strstr(v.reason, "unsubscribe") != NULL, "the reason names the words (%s)", v.reason);
	is_str(TEXT("ann@example.com", "RE: hi", "STOP"), "optout", "STOP alone, any case");
	is_str(TEXT("ann@example.com", "RE: hi", "Please\n  remove\tme."), "optout",
	    "a phrase across whitespace and lines");
	is_str(TEXT("ann@example.com", "RE: hi", "Don\xe2\x80\x99t email me again"), "optout",
	    "a typographic apostrophe is an apostrophe");
	is_str(TEXT("ann@example.com", "RE: hi", "Our nonstop stopwatch sale, unstoppable!"),
	    "reply", "'stop' inside other words is not 'stop'");
	is_str(TEXT("ann@example.com", "RE: hi", "stopp"), "reply", "nor is 'stopp'");
	is_str(TEXT("ann@example.com", "RE: Quick question", quoted_outlook), "reply",
	    "'unsubscribe' in the quoted original below the reply does not count");
	is_str(TEXT("ann@example.com", "RE: hi",
	    "Yes, interested.\n\nOn Mon, 30 Nov 2026 at 10:00, Sales <sales@acme.example> wrote:\n"
	    "> reply STOP to unsubscribe\n"), "reply", "nor in a Gmail quotation");
	is_str(TEXT("ann@example.com", "RE: hi",
	    "Yes.\nOn Mon, 30 Nov 2026 at 10:00, Sales Team <\nsales@acme.example> wrote:\n"
	    "unsubscribe\n"), "reply", "nor below an attribution that wraps");
	is_str(TEXT("ann@example.com", "RE: hi",
	    "Fine.\n-----Original Message-----\nunsubscribe here\n"), "reply",
	    "nor below -----Original Message-----");
	is_str(TEXT("ann@example.com", "RE: hi",
	    "Fine.\n________________________________\nunsubscribe\n"), "reply",
	    "nor below Outlook's line");
	is_str(TEXT("ann@example.com", "RE: hi",
	    "Call me.\n-- \nAnn Example | To unsubscribe from our newsletter click here\n"),
	    "reply", "nor in a signature");
	is_str(TEXT("ann@example.com", "RE: hi", "> old text\nunsubscribe"), "reply",
	    "a reply that is all quotation wrote nothing");
	is_str(TEXT("ann@example.com", "Unsubscribe", "(no text)"), "optout",
	    "a new message whose subject asks");
	is_str(classify("ann@example.com", NULL, "RE: hi",
	    "<html><body><p>Remove me please.</p><div id=\"appendonsend\"></div><hr>"
	    "<b>From:</b> Sales<br>unsubscribe</body></html>", 1, NULL, 0, NULL),
	    "optout", "HTML: the words above Outlook's divider");
	is_str(classify("ann@example.com", NULL, "RE: hi",
	    "<div>Thanks, let's talk.</div><div class=\"gmail_quote\">On Mon wrote:"
	    "<blockquote>Reply STOP to opt out</blockquote></div>", 1, NULL, 0, NULL),
	    "reply", "HTML: words in a Gmail quote do not count");
	is_str(classify("ann@example.com", NULL, "RE: hi",
	    "<p>Please don&#39;t email me.</p>", 1, NULL, 0, NULL), "optout",
	    "HTML entities are decoded");
	is_str(classify("ann@example.com", NULL, "RE: hi",
	    "<p>Bitte abmelden.</p>", 1, NULL, 0, &german), "optout", "configured words");
	is_str(classify("ann@example.com", NULL, "RE: hi", "please unsubscribe", 0, NULL, 0,
	    &german), "reply", "which replace the default ones");

	/* automatic replies */
	is_str(classify("ann@example.com", NULL, "Out today", "Back Monday.", 0, auto_hdr, 1,
	    NULL), "auto_reply", "Auto-Submitted: auto-replied (any case of its name)");
	is_str(classify("ann@example.com", NULL, "RE: hi", "Thanks.", 0, auto_no, 1, NULL),
	    "reply", "Auto-Submitted: no is a person");
	is_str(classify("ann@example.com", NULL, "RE: hi", "Away.", 0, xars, 1, NULL),
	    "auto_reply", "X-Auto-Response-Suppress");
	is_str(TEXT("ann@example.com", "Automatic reply: Quick question",
	    "I am out of the office. To unsubscribe ..."), "auto_reply",
	    "the usual subject, and its opt-out words do not count");
	is_str(TEXT("ann@example.com", "Abwesenheitsnotiz: Quick question", "Bin weg."),
	    "auto_reply", "the usual subject in German");
	is_str(v.address, "ann@example.com", "an automatic reply names its sender");

	/* reports */
	is_str(classify("MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@acme.example",
	    "Microsoft Outlook", "Undeliverable: Quick question", exchange_ndr, 1,
	    ndr_hdrs, 2, NULL), "bounce", "an Exchange report of non-delivery");
	is_str(v.status, "5.1.1", "its status code (not the server's address)");
	is_str(v.address, "ann@example.com", "the failed recipient, not the mailbox");
	ok(v.nrefs == 1 && strcmp(v.refs[0],
	    "<SN6PR04MB4032.1@SN6PR04MB4032.namprd04.prod.outlook.com>") == 0,
	    "the original Message-ID from its text");
	is_str(classify("MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@acme.example",
	    "Microsoft Outlook", "Undeliverable: Quick question",
	    "Delivery has failed.\nbob@example.org\nRemote Server returned '500 4.4.7 Message "
	    "delayed'\nMessage-ID: <m1@acme.example>", 0, NULL, 0, NULL),
	    "delay", "a 4.x.x report: delayed, from the sender and subject alone");
	is_str(v.status, "4.4.7", "its status");
	is_str(v.address, "bob@example.org", "its recipient");
	is_str(TEXT("MAILER-DAEMON@mx.example.org", "Undelivered Mail Returned to Sender",
	    "Connected to 198.51.100.25 running Postfix 3.5.1.2\n"
	    "Final-Recipient: rfc822; cy@example.org\nAction: failed\nStatus: 5.2.2\n"
	    "Diagnostic-Code: smtp; 552 5.2.2 mailbox full\n"),
	    "bounce", "a Postfix report from mailer-daemon");
	is_str(v.status, "5.2.2", "the code, not an IP address nor a version number");
	is_str(v.address, "cy@example.org", "Final-Recipient");
	is_str(TEXT("postmaster@mx.example.org", "Delivery delayed: Quick question",
	    "We keep trying."), "delay", "a delay report without a code");
	is_str(TEXT("postmaster@mx.example.org", "Undeliverable: Quick question",
	    "It did not work."), "bounce", "a failure report without a code is permanent");
	is_str(v.status, "", "and has no status");
	is_str(classify("ann@example.com", "Ann", "Delivery report", "5.1.1 gone", 0, ndr_hdrs, 2,
	    NULL), "bounce", "a delivery-status report type is a report whoever sent it");

	/* nothing to act on */
	is_str(TEXT(MAILBOX, "RE: hi", "unsubscribe"), "other", "the mailbox's own message");
	is_str(TEXT("SALES@acme.example", "hi", "x"), "other", "whatever the case");
	is_str(classify(NULL, NULL, NULL, NULL, 0, NULL, 0, NULL), "other",
	    "a change to a message (no sender, subject or body)");
	is_str(classify("news@example.com", NULL, "Weekly news", "Click to unsubscribe", 0,
	    list, 1, NULL), "other", "a mailing list");

	/* the pieces */
	is_str((t = html_text("<html><head><title>x</title></head><body><style>p{}</style>"
	    "<p>a&amp;b&lt;c&gt; &#233;&#x41;</p><!-- c --><br>d&nbsp;e&bogus;</body></html>")),
	    "\na&b<c> \xc3\xa9" "A\n\nd e&bogus;", "html_text: tags, entities, head, style, comments");
	free(t);
	ok(reply_new_part("new\n> old\n") == 4, "reply_new_part: up to the quote");
	ok(reply_new_part("all new") == 7, "reply_new_part: all of it without a quote");
	ok(reply_new_part("Hi\nFrom: Sales\nDate: today\n") == 3,
	    "reply_new_part: a From:/Date: block");
	ok(reply_new_part("From: me, a happy customer\nthanks\n") == 34,
	    "reply_new_part: 'From:' alone in the text is not a quotation");
	ok(reply_new_part("Von: Vertrieb\nGesendet: Montag\n") == 0,
	    "reply_new_part: Outlook's German header block");

	/* the words file */
	if ((fd = mkstemp(path)) == -1)
		return 1;
	(void)!write(fd, wordsfile, strlen(wordsfile));
	close(fd);
	ok(classify_words_load(&e, path, &words, &n) == 0 && n == 2 &&
	    strcmp(words[0], "Abmelden") == 0 && strcmp(words[1], "remove me") == 0 &&
	    words[2] == NULL, "words file: one a line, trimmed, comments and blanks skipped");
	classify_words_free(words, n);
	fd = open(path, O_WRONLY | O_TRUNC);
	(void)!write(fd, "# nothing\n", strlen("# nothing\n"));
	close(fd);
	ok(classify_words_load(&e, path, &words, &n) == -1 && e.code == EX_DATAERR,
	    "an empty words file is refused (%s)", e.msg);
	unlink(path);
	ok(classify_words_load(&e, path, &words, &n) == -1 && e.code == EX_NOINPUT,
	    "a missing one too (%s)", e.msg);
	ok(strcmp(inbound_class_name(INBOUND_DELAY), "delay") == 0 &&
	    strcmp(inbound_class_name(INBOUND_OPTOUT), "optout") == 0,
	    "class names are drip.inbound_record's kinds");
	return done();
}
