-- seed.sql: one campaign per connected mailbox, named :'name', with two
-- steps (a new message, then a reply 3 days later), and :n prospects spread
-- round robin over the campaigns, each with step 1 due at :'due'.
-- Consecutive prospect (and step) ids belong to different mailboxes.
-- psql -v name=... -v n=... -v due=... -f seed.sql
BEGIN;
WITH c AS (
	INSERT INTO drip.email_campaign (customer_id, identity_id, name, status,
	    timezone, send_days, send_start, send_end)
	SELECT 'acme', i.id, :'name', 'running', 'UTC',
	    '{mon,tue,wed,thu,fri,sat,sun}', '00:00', '24:00'
	FROM drip.email_identity i
	WHERE i.status = 'connected' AND i.email LIKE 'm%@acme.example'
	RETURNING id
)
INSERT INTO drip.email_campaign_template (customer_id, campaign_id, step,
    subject, body_html, delay_days, thread)
SELECT 'acme', c.id, s,
    CASE s WHEN 1 THEN 'Quick question, {{first_name|there}}' ELSE 'Re: Quick question' END,
    '<p>Hi {{first_name|there}},</p><p>I noticed {{company|your team}} works in '
    || '{{industry|your field}}. '
    || repeat('We help teams like yours send fewer emails that say more. ', 10)
    || '</p><p>Worth a short call next week?</p><p>{{sender_name}}<br>{{sender_email}}</p>',
    CASE s WHEN 1 THEN 0 ELSE 3 END, CASE s WHEN 1 THEN 'new' ELSE 'reply' END
FROM c, generate_series(1, 2) s;

CREATE TEMP TABLE camp ON COMMIT DROP AS
	SELECT row_number() OVER (ORDER BY id) - 1 AS k, id
	FROM drip.email_campaign WHERE name = :'name';
CREATE INDEX ON camp (k);

WITH p AS (
	INSERT INTO drip.email_campaign_prospect (customer_id, campaign_id, email,
	    first_name, last_name, company, title, fields)
	SELECT 'acme', camp.id,
	    'p' || g || '.' || md5(:'name') || '@prospect' || (g % 997) || '.example',
	    'First' || g, 'Last' || g, 'Company ' || (g % 500), 'CTO',
	    jsonb_build_object('industry', 'fintech')
	FROM generate_series(0, :n - 1) g
	JOIN camp ON camp.k = g % (SELECT count(*) FROM camp)
	ORDER BY g
	RETURNING id, campaign_id
)
INSERT INTO drip.email_campaign_prospect_step (customer_id, campaign_id,
    prospect_id, step, due_at)
SELECT 'acme', p.campaign_id, p.id, 1, :'due'::timestamptz FROM p ORDER BY p.id;
COMMIT;
ANALYZE drip.email_campaign, drip.email_campaign_template,
    drip.email_campaign_prospect, drip.email_campaign_prospect_step;
