/*
 * test-window: the send window as campaign-create and campaign-update read
 * it: HH:MM times, 24:00 only as an end, days in week order, defaults. (The
 * arithmetic of the window, drip.next_in_window, is SQL, and its table of
 * cases is tests/t0210-next-in-window.t.)
 */
#include "drip.h"
#include "tap.h"

static struct vlist v;

/* campaign_read on a campaign with this send_window; the first error or "". */
static const char *
read_window(const char *window, struct campaign_in *c)
{
	char text[512];
	json_object *o;

	vlist_free(&v);
	snprintf(text, sizeof(text), "{\"customer_id\":\"a\",\"name\":\"n\",\"identity_id\":1%s%s}",
	    window != NULL ? ",\"send_window\":" : "", window != NULL ? window : "");
	o = json_tokener_parse(text);
	campaign_read(o, c, &v);
	json_object_put(o);
	return v.n > 0 ? v.msg[0] : "";
}

int
main(void)
{
	struct campaign_in c;

	plan(18);
	ok(window_minutes("09:00", 0) == 540, "09:00 is 540 minutes");
	ok(window_minutes("23:59", 0) == 1439, "23:59 is the last start");
	ok(window_minutes("24:00", 1) == 1440, "24:00 is an end");
	ok(window_minutes("24:00", 0) == -1, "24:00 is not a start");
	ok(window_minutes("24:01", 1) == -1 && window_minutes("12:60", 1) == -1,
	    "no minute past 59, nothing past 24:00");
	ok(window_minutes("9:00", 0) == -1 && window_minutes("09:00:00", 0) == -1 &&
	    window_minutes("09-00", 0) == -1 && window_minutes("", 0) == -1,
	    "exactly HH:MM");

	is_str(read_window(NULL, &c), "", "no window is fine");
	ok(c.start == 540 && c.end == 1020 && strcmp(c.days, "{mon,tue,wed,thu,fri}") == 0 &&
	    strcmp(c.timezone, "UTC") == 0 && strcmp(c.status, "draft") == 0,
	    "defaults: Monday to Friday, 09:00 to 17:00, UTC, draft");
	is_str(read_window("{\"days\":[\"sun\",\"sat\",\"wed\"]}", &c), "", "weekend days are fine");
	is_str(c.days, "{wed,sat,sun}", "days are stored in week order");
	is_str(read_window("{\"start\":\"22:00\",\"end\":\"24:00\"}", &c), "", "a window to midnight");
	ok(c.start == 1320 && c.end == 1440, "ends at 24:00 (1440)");
	is_str(read_window("{\"start\":\"17:00\"}", &c), "send_window: start must be before end",
	    "a start at the default end is an empty window");
	is_str(read_window("{\"start\":\"10:00\",\"end\":\"10:00\"}", &c),
	    "send_window: start must be before end", "start equal to end");
	is_str(read_window("{\"days\":[\"fri\",\"FRI\"]}", &c),
	    "send_window.days[1]: must be one of mon, tue, wed, thu, fri, sat, sun",
	    "day names are lower case");
	is_str(read_window("{\"days\":[\"fri\",\"fri\"]}", &c), "send_window.days[1]: fri appears twice",
	    "a day twice");
	is_str(read_window("{\"days\":[\"mon\"],\"start\":9}", &c), "send_window.start: must be a string",
	    "a time is a string");
	read_window("{\"start\":\"9am\",\"end\":\"08:00\"}", &c);
	ok(v.total == 1 && strcmp(v.msg[0], "send_window.start: must be HH:MM from 00:00 to 23:59") == 0,
	    "a bad start is one error, not also a window out of order (%zu)", v.total);
	vlist_free(&v);
	return done();
}
