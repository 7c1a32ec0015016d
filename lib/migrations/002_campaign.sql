-- 002 campaign: how campaigns and their steps are printed (one function for
-- every tool, so "rehydrate after save" is literally the same read), local
-- day arithmetic for scheduling, and a fix to the send window.

-- The send window, as in 001, with two changes:
--  * a day whose window falls entirely into a daylight-saving gap (say
--    02:30-03:30 on the night clocks jump from 02:00 to 03:00) has no
--    window at all; 001 answered its start, which is its end, a moment
--    outside the window;
--  * the day name comes from isodow rather than to_char(), so it does not
--    go through the session's time zone.
CREATE OR REPLACE FUNCTION drip.next_in_window(t timestamptz, tz text, days text[],
    wstart time, wend time) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
	names constant text[] := '{mon,tue,wed,thu,fri,sat,sun}';
	d date := (t AT TIME ZONE tz)::date;
	ws timestamptz;
	we timestamptz;
BEGIN
	FOR i IN 0..7 LOOP
		IF names[extract(isodow FROM d + i)::int] = ANY (days) THEN
			ws := ((d + i) + wstart) AT TIME ZONE tz;
			we := ((d + i) + wend) AT TIME ZONE tz;
			IF ws >= we THEN
				CONTINUE;
			ELSIF t < ws THEN
				RETURN ws;
			ELSIF t < we THEN
				RETURN t;
			END IF;
		END IF;
	END LOOP;
	RETURN NULL;
END $$;

-- t plus n calendar days of zone tz: the same wall-clock time n local days
-- later, whatever daylight saving does in between (a 3-day delay sent at
-- 10:00 stays 10:00, not 09:00 or 11:00).
CREATE FUNCTION drip.add_local_days(t timestamptz, tz text, n integer)
RETURNS timestamptz
LANGUAGE sql STABLE AS $$
	SELECT ((t AT TIME ZONE tz) + make_interval(days => n)) AT TIME ZONE tz
$$;

CREATE FUNCTION drip.template_json(t drip.email_campaign_template) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object(
		'id', t.id,
		'campaign_id', t.campaign_id,
		'step', t.step,
		'subject', t.subject,
		'body_text', t.body_text,
		'body_html', t.body_html,
		'delay_days', t.delay_days,
		'thread', t.thread,
		'created_at', drip.rfc3339(t.created_at),
		'updated_at', drip.rfc3339(t.updated_at))
$$;

-- {"active": 3, "suppressed": 0, ...}: every status word in the contract's
-- order, zeros included, so a script can read any of them.
CREATE FUNCTION drip.status_counts(words text[], statuses text[], n bigint[])
RETURNS json
LANGUAGE sql IMMUTABLE AS $$
	SELECT json_object_agg(w, coalesce(n[array_position(statuses, w)], 0) ORDER BY o)
	FROM unnest(words) WITH ORDINALITY AS u(w, o)
$$;

-- A campaign as campaign-create, campaign-show, campaign-update print it:
-- the stored fields, the sender identity (id and address, never a token),
-- the steps, and counts by status. NULL when there is no such campaign.
CREATE FUNCTION drip.campaign_json(campaign bigint) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object(
		'id', c.id,
		'customer_id', c.customer_id,
		'name', c.name,
		'status', c.status,
		'identity_id', c.identity_id,
		'identity', json_build_object('id', i.id, 'email', i.email),
		'timezone', c.timezone,
		'send_window', json_build_object(
			'days', to_json(c.send_days),
			'start', to_char(c.send_start, 'HH24:MI'),
			'end', to_char(c.send_end, 'HH24:MI')),
		'daily_cap', c.daily_cap,
		'key', c.key,
		'templates', coalesce((
			SELECT json_agg(drip.template_json(t) ORDER BY t.step)
			FROM drip.email_campaign_template t
			WHERE t.customer_id = c.customer_id AND t.campaign_id = c.id), '[]'),
		'counts', json_build_object(
			'prospects', (
				SELECT drip.status_counts('{active,suppressed,replied,bounced,'
				    'unsubscribed,finished,failed}', array_agg(p.status), array_agg(p.n))
				FROM (SELECT status, count(*) AS n
				    FROM drip.email_campaign_prospect
				    WHERE customer_id = c.customer_id AND campaign_id = c.id
				    GROUP BY status) p),
			'steps', (
				SELECT drip.status_counts('{scheduled,claimed,sending,sent,failed,'
				    'suppressed,skipped,review}', array_agg(s.status), array_agg(s.n))
				FROM (SELECT status, count(*) AS n
				    FROM drip.email_campaign_prospect_step
				    WHERE campaign_id = c.id
				    GROUP BY status) s)),
		'created_at', drip.rfc3339(c.created_at),
		'updated_at', drip.rfc3339(c.updated_at))
	FROM drip.email_campaign c
	JOIN drip.email_identity i ON i.customer_id = c.customer_id AND i.id = c.identity_id
	WHERE c.id = campaign
$$;
