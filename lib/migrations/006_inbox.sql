-- 006 inbox: what a message in a sender's Inbox does to a campaign, in one
-- place (inbox-sync decides what kind of message it is; lib/classify.c),
-- and how the telemetry is printed (events).
--
--   reply        event replied        prospect replied       pending steps skipped
--   optout       event unsubscribed   prospect unsubscribed  pending steps skipped,
--                                                            address suppressed
--   bounce       event bounced        prospect bounced       pending steps skipped,
--   (5.x.x)                                                  address suppressed
--   delay        event deferred       (nothing else: the remote server keeps trying)
--   (4.x.x)
--   auto_reply   event auto_replied   (nothing else, unless the run asks to stop
--                                      on automatic replies: then as a reply)
--
-- Each inbound message is recorded once per mailbox (the unique index
-- email_event_inbound of 001): the event is inserted first, and only a
-- message whose event was new changes anything. Reading the Inbox again,
-- after a crash, a resync or on a second host, therefore changes nothing.
--
-- Steps a prospect has claimed or is sending are not touched here:
-- drip.mark_sending (005) looks at the prospect once more before the send
-- and skips the step, because it is committed after this transaction or it
-- sees its effect. Steps are updated before the prospect, in the order the
-- 005 functions lock them.

-- An automatic reply is worth a word of its own: counting it as a reply
-- would make every out-of-office look like interest.
ALTER TABLE drip.email_event DROP CONSTRAINT email_event_type_check;
ALTER TABLE drip.email_event ADD CONSTRAINT email_event_type_check
	CHECK (type IN ('sent', 'failed', 'bounced', 'suppressed', 'deferred',
	    'replied', 'unsubscribed', 'auto_replied'));

-- events --since: a time range is an index range.
CREATE INDEX email_event_created ON drip.email_event (created_at);

-- The message drip sent that an inbound message answers, best evidence
-- first: one of the message ids it refers to (In-Reply-To, then References
-- newest first, then ids quoted in a report's text), then its
-- conversation, then its address (the sender of a reply or the failed
-- recipient of a report) among the prospects this mailbox wrote to before
-- it arrived. Within each kind, the latest message wins.
CREATE FUNCTION drip.inbound_match(mailbox bigint, refs text[],
    conversation text, address text, received timestamptz)
RETURNS TABLE (customer_id text, campaign_id bigint, prospect_id bigint,
    step_id bigint, graph_message_id text, internet_message_id text, how text)
LANGUAGE sql STABLE AS $$
	SELECT m.customer_id, m.campaign_id, m.prospect_id, m.step_id,
	       m.graph_message_id, m.internet_message_id, c.how
	FROM (
		SELECT mm.id, 1 AS rank, array_position(refs, mm.internet_message_id) AS pos,
		       'message_id' AS how
		FROM drip.email_message_metadata mm
		WHERE mm.identity_id = mailbox AND mm.internet_message_id = ANY (refs)
		UNION ALL
		SELECT mm.id, 2, 0, 'conversation'
		FROM drip.email_message_metadata mm
		WHERE mm.identity_id = mailbox AND mm.conversation_id = conversation
		UNION ALL
		-- campaigns of the mailbox, then the unique (campaign, address)
		-- index: no scan of every prospect of every customer
		SELECT mm.id, 3, 0, 'address'
		FROM drip.email_campaign ca
		JOIN drip.email_campaign_prospect p
		  ON p.campaign_id = ca.id AND lower(p.email) = lower(address)
		JOIN drip.email_message_metadata mm
		  ON mm.prospect_id = p.id AND mm.identity_id = mailbox
		WHERE ca.identity_id = mailbox
		  AND coalesce(mm.sent_at, mm.created_at) <= received
	) c
	JOIN drip.email_message_metadata m ON m.id = c.id
	ORDER BY c.rank, c.pos, m.sent_at DESC NULLS LAST, m.id DESC
	LIMIT 1
$$;

-- Record one classified inbound message of mailbox and apply it (see the
-- table at the top). inbound_id is the message's own id; detail is kept
-- with the event. Returns one row: 'recorded' (with the new event),
-- 'duplicate' (recorded before: nothing changed) or 'unmatched' (not an
-- answer to anything drip sent: nothing recorded).
CREATE FUNCTION drip.inbound_record(mailbox bigint, inbound_id text, kind text,
    refs text[], conversation text, address text, received timestamptz,
    status text, reason text, detail jsonb, stop_on_auto_reply boolean)
RETURNS TABLE (outcome text, event_id bigint, prospect_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
	m record;
	ev bigint;
	stop_as text;
BEGIN
	IF kind NOT IN ('reply', 'auto_reply', 'bounce', 'delay', 'optout') THEN
		RAISE EXCEPTION 'inbound_record: unknown kind %', kind;
	END IF;
	SELECT * INTO m FROM drip.inbound_match(mailbox, refs, conversation,
	    address, received);
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'unmatched'::text, NULL::bigint, NULL::bigint;
		RETURN;
	END IF;

	INSERT INTO drip.email_event AS e (customer_id, type, campaign_id,
	    prospect_id, step_id, identity_id, reason, detail, graph_message_id,
	    internet_message_id, inbound_message_id)
	VALUES (m.customer_id,
		CASE kind WHEN 'reply' THEN 'replied' WHEN 'auto_reply' THEN 'auto_replied'
			  WHEN 'bounce' THEN 'bounced' WHEN 'delay' THEN 'deferred'
			  ELSE 'unsubscribed' END,
		m.campaign_id, m.prospect_id, m.step_id, mailbox, reason,
		coalesce(detail, '{}') || jsonb_build_object('matched_by', m.how,
		    'status', status),
		m.graph_message_id, m.internet_message_id, inbound_id)
	ON CONFLICT (identity_id, inbound_message_id)
		WHERE inbound_message_id IS NOT NULL DO NOTHING
	RETURNING e.id INTO ev;
	IF ev IS NULL THEN
		RETURN QUERY SELECT 'duplicate'::text, NULL::bigint, m.prospect_id;
		RETURN;
	END IF;

	stop_as := CASE kind WHEN 'reply' THEN 'replied' WHEN 'optout' THEN 'unsubscribed'
			     WHEN 'bounce' THEN 'bounced'
			     WHEN 'auto_reply' THEN CASE WHEN stop_on_auto_reply THEN 'replied' END
			END;
	IF stop_as IS NOT NULL THEN
		UPDATE drip.email_campaign_prospect_step s
		SET status = 'skipped', last_error = 'prospect ' || stop_as
		WHERE s.prospect_id = m.prospect_id AND s.status = 'scheduled';
		-- a reply or a bounce ends a sequence that was running or had
		-- finished (the answer to its last step); an opt-out also
		-- overrides an earlier reply
		UPDATE drip.email_campaign_prospect p SET status = stop_as
		WHERE p.id = m.prospect_id AND p.status = ANY (CASE stop_as
			WHEN 'unsubscribed' THEN '{active,finished,replied}'::text[]
			ELSE '{active,finished}'::text[] END);
		IF kind IN ('optout', 'bounce') THEN
			INSERT INTO drip.suppression_entry (customer_id, value, kind, reason, source)
			SELECT DISTINCT m.customer_id, a, 'address',
			       CASE kind WHEN 'bounce' THEN 'bounce' ELSE 'unsubscribe' END,
			       'inbox-sync'
			FROM drip.email_campaign_prospect p,
			     unnest(ARRAY[lower(p.email), CASE WHEN kind = 'optout'
				THEN lower(address) END]) AS a
			WHERE p.id = m.prospect_id AND a LIKE '_%@_%' AND length(a) <= 254
			ON CONFLICT (customer_id, value) DO NOTHING;
		END IF;
		PERFORM drip.finish_campaigns(ARRAY[m.campaign_id]);
	END IF;
	RETURN QUERY SELECT 'recorded'::text, ev, m.prospect_id;
END $$;
