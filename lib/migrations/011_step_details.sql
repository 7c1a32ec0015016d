-- 011 step details: what send-due needs to render and send its claimed
-- steps, as a function so that its plan is kept.
--
-- send-due sent this query as an unnamed statement (PgBouncer in
-- transaction pooling mode allows no prepared ones), so PostgreSQL
-- planned it at every batch: about 10 ms of planning for 200 steps (the
-- selectivity of a 200-element id = ANY (...) and seven joins), as much
-- as running it. A plpgsql function keeps a generic plan per connection,
-- whatever pools the connections.

CREATE FUNCTION drip.step_details(ids bigint[])
RETURNS TABLE (id bigint, step integer, customer_id text, campaign_id bigint,
    prospect_id bigint, identity_id bigint, attempts integer, email text,
    first_name text, last_name text, company text, title text, fields text,
    subject text, body_text text, body_html text, thread text,
    sender_email text, sender_name text, reply_to text,
    graph_message_id text, internet_message_id text, conversation_id text,
    draft_created bigint)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
	RETURN QUERY
	SELECT s.id, s.step, s.customer_id::text, s.campaign_id, s.prospect_id,
	       s.identity_id, s.attempts,
	       p.email::text, p.first_name::text, p.last_name::text, p.company::text,
	       p.title::text, p.fields::text,
	       t.subject::text, t.body_text::text, t.body_html::text, t.thread::text,
	       i.email::text, i.display_name::text, prev.graph_message_id::text,
	       m.graph_message_id::text, m.internet_message_id::text,
	       m.conversation_id::text,
	       extract(epoch FROM m.created_at)::bigint
	FROM drip.email_campaign_prospect_step s
	JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id
	JOIN drip.email_campaign_template t
	  ON t.campaign_id = s.campaign_id AND t.step = s.step
	JOIN drip.email_identity i ON i.id = s.identity_id
	LEFT JOIN drip.email_message_metadata m ON m.step_id = s.id
	LEFT JOIN LATERAL (	-- the message a reply answers: replies only
		SELECT mm.graph_message_id FROM drip.email_message_metadata mm
		WHERE t.thread = 'reply'
		  AND mm.prospect_id = s.prospect_id AND mm.identity_id = s.identity_id
		  AND mm.sent_at IS NOT NULL AND mm.step_id <> s.id
		ORDER BY mm.sent_at DESC LIMIT 1) prev ON true
	WHERE s.id = ANY (ids)
	ORDER BY s.identity_id, s.id;
END $$;
