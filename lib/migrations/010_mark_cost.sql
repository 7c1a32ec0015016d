-- 010 mark cost: drip.mark_sending and drip.mark_sent (005) doing the same
-- work for less.
--
-- Same rows, same events, same metadata, same next steps, same guards
-- (status and claimed_by on every change); only how the database gets
-- there changes:
--
--  * The batch is found by its ids: s.id = ANY (ids), through the primary
--    key, each id's values taken by its position in the arrays. 005 joined
--    unnest(ids, ...) to the steps, and with the planner's guess of one
--    'sending' row (the statistics hardly ever see the few that are) it
--    scanned every claimed or sending step once per id: 200 x 300
--    comparisons a batch. The status is compared under COLLATE "C" (the
--    same bytewise equality) so that the planner cannot take the partial
--    index email_campaign_prospect_step_leased, whose predicate it no
--    longer proves, and scan every leased step of every worker for one
--    batch: its cost would grow with the number of workers.
--  * The 'sent' events are made from what the metadata update returns.
--    005 joined two CTEs for them, each guessed at one row, so a nested
--    loop compared every sent step with every metadata row: 40,000
--    comparisons for a batch of 200.
--  * A campaign is finished (drip.finish_campaigns' test, in the same
--    function so that its plan is kept) only when a prospect of it in
--    the batch is no longer active: 005 looked at every campaign of the
--    batch, 200 probes a batch that could not finish any of them.
--  * mark_sending decides each step's outcome in its UPDATE (prospect and
--    campaign joined there, the step's guard rechecked on the row as
--    before) rather than locking the rows with FOR UPDATE first and
--    updating them after: one write of each row instead of two.
--  * The NOTIFY on email_event is one statement-level trigger over the
--    inserted rows (a transition table) instead of a plpgsql call per
--    row: the same notifications, one per row with its id, in id order.
--  * mark_sending is plpgsql, so its plan is kept from call to call; as a
--    SQL function it was planned again at every call.
--
-- Every foreign key stays. Each costs a lookup and a KEY SHARE lock per
-- row (seven per sent message on these tables), but none is implied by
-- another for every row: email_event's campaign key is implied by its
-- prospect key only where prospect_id is not null.

CREATE OR REPLACE FUNCTION drip.mark_sending(worker text, t timestamptz, ids bigint[],
    graph_ids text[], internet_ids text[], conversation_ids text[])
RETURNS TABLE (step_id bigint, outcome text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
	RETURN QUERY
	WITH upd AS (
		UPDATE drip.email_campaign_prospect_step s
		SET status = CASE WHEN p.status <> 'active' OR c.status = 'archived' THEN 'skipped'
				  WHEN c.status <> 'running' THEN 'scheduled'
				  ELSE 'sending' END,
		    claimed_by = CASE WHEN p.status <> 'active' OR c.status <> 'running'
				      THEN NULL ELSE worker END,
		    lease_until = CASE WHEN p.status <> 'active' OR c.status <> 'running'
				       THEN NULL ELSE s.lease_until END
		FROM drip.email_campaign_prospect p, drip.email_campaign c
		WHERE s.id = ANY (ids)
		  AND s.status COLLATE "C" = 'claimed' AND s.claimed_by = worker
		  AND s.lease_until > t
		  AND p.id = s.prospect_id AND c.id = s.campaign_id
		RETURNING s.id, s.customer_id, s.campaign_id, s.prospect_id, s.identity_id,
		    array_position(ids, s.id) AS k,
		    CASE s.status WHEN 'scheduled' THEN 'released' ELSE s.status END AS outcome
	), meta AS (
		INSERT INTO drip.email_message_metadata (customer_id, campaign_id,
		    prospect_id, step_id, identity_id, graph_message_id,
		    internet_message_id, conversation_id)
		SELECT u.customer_id, u.campaign_id, u.prospect_id, u.id, u.identity_id,
		       graph_ids[u.k], internet_ids[u.k], conversation_ids[u.k]
		FROM upd u WHERE u.outcome = 'sending'
		ON CONFLICT (step_id) DO UPDATE
		SET graph_message_id = excluded.graph_message_id,
		    internet_message_id = excluded.internet_message_id,
		    conversation_id = excluded.conversation_id,
		    identity_id = excluded.identity_id
	)
	SELECT u.id, u.outcome FROM upd u;
END $$;

CREATE OR REPLACE FUNCTION drip.mark_sent(worker text, t timestamptz, ids bigint[],
    times timestamptz[]) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
	done_ids bigint[];
	camps bigint[];
BEGIN
	WITH done AS (
		UPDATE drip.email_campaign_prospect_step s
		SET status = 'sent', sent_at = times[array_position(ids, s.id)],
		    claimed_by = NULL, lease_until = NULL, last_error = NULL
		WHERE s.id = ANY (ids) AND s.status COLLATE "C" = 'sending'
		  AND s.claimed_by = worker
		RETURNING s.id, s.customer_id, s.campaign_id, s.prospect_id, s.identity_id,
		    s.step, s.sent_at AS at
	), meta AS (
		UPDATE drip.email_message_metadata m SET sent_at = d.at
		FROM done d WHERE m.step_id = d.id
		RETURNING d.id, d.customer_id, d.campaign_id, d.prospect_id, d.identity_id,
		    d.step, m.graph_message_id, m.internet_message_id, m.conversation_id
	), ev AS (
		INSERT INTO drip.email_event (customer_id, type, campaign_id, prospect_id,
		    step_id, identity_id, graph_message_id, internet_message_id, detail)
		SELECT m.customer_id, 'sent', m.campaign_id, m.prospect_id, m.id, m.identity_id,
		       m.graph_message_id, m.internet_message_id,
		       jsonb_build_object('step', m.step, 'conversation_id', m.conversation_id)
		FROM meta m
	), nxt AS (
		INSERT INTO drip.email_campaign_prospect_step (customer_id, campaign_id,
		    prospect_id, step, due_at)
		SELECT d.customer_id, d.campaign_id, d.prospect_id, tt.step,
		       coalesce(drip.next_in_window(
			   drip.add_local_days(d.at, coalesce(p.timezone, c.timezone), tt.delay_days),
			   coalesce(p.timezone, c.timezone), c.send_days, c.send_start, c.send_end),
			   d.at + tt.delay_days * interval '1 day')
		FROM done d
		JOIN drip.email_campaign_template tt
		  ON tt.campaign_id = d.campaign_id AND tt.step = d.step + 1
		JOIN drip.email_campaign_prospect p ON p.id = d.prospect_id AND p.status = 'active'
		JOIN drip.email_campaign c ON c.id = d.campaign_id
		ON CONFLICT (prospect_id, step) DO NOTHING
	), adv AS (
		UPDATE drip.email_campaign_prospect p
		SET last_step = greatest(p.last_step, d.step), last_sent_at = d.at,
		    status = CASE WHEN p.status = 'active' AND NOT EXISTS (
				SELECT 1 FROM drip.email_campaign_template tt
				WHERE tt.campaign_id = d.campaign_id AND tt.step > d.step)
			     THEN 'finished' ELSE p.status END
		FROM done d WHERE p.id = d.prospect_id
		RETURNING p.campaign_id, p.status
	)
	SELECT (SELECT array_agg(id) FROM done),
	       (SELECT array_agg(DISTINCT campaign_id) FROM adv WHERE status <> 'active')
	INTO done_ids, camps;
	-- drip.finish_campaigns, for the campaigns it could finish: one whose
	-- prospect in this batch is still active (and locked by this
	-- transaction) has an active prospect at commit.
	IF camps IS NOT NULL THEN
		UPDATE drip.email_campaign c SET status = 'finished'
		WHERE c.id = ANY (camps) AND c.status = 'running'
		  AND NOT EXISTS (SELECT 1 FROM drip.email_campaign_prospect p
				  WHERE p.campaign_id = c.id AND p.status = 'active');
	END IF;
	RETURN QUERY SELECT unnest(done_ids);
END $$;

-- events --follow listens on drip_event; the payload is a new row's id,
-- one notification per row as before, sent in id order.
CREATE FUNCTION drip.notify_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('drip_event', n.id::text) FROM new_events n ORDER BY n.id;
	RETURN NULL;
END $$;
DROP TRIGGER email_event_notify ON drip.email_event;
CREATE TRIGGER email_event_notify AFTER INSERT ON drip.email_event
	REFERENCING NEW TABLE AS new_events
	FOR EACH STATEMENT EXECUTE FUNCTION drip.notify_events();

-- A message's metadata is written twice: at 'sending' and when sent
-- (sent_at, no indexed column). With room left on its page the second
-- write is a HOT update: no new entry in the five indexes, and the old
-- version is pruned in place rather than left to VACUUM. Rows of a page
-- are usually sent in the same batch, so half the page is kept free for
-- their new versions (the old ones leave once pruned). New pages only.
ALTER TABLE drip.email_message_metadata SET (fillfactor = 50);
