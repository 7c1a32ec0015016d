-- 005 send: the state machine of a step, in one place.
--
--   scheduled --claim_due--> claimed --mark_sending--> sending --mark_sent--> sent
--      ^                        |                         |
--      +---- mark_deferred -----+-------------------------+ (429 / 503 before /send)
--      +---- release_expired (lease over, nothing sent) --+
--   claimed  -> failed | suppressed | skipped             (nothing was sent)
--   sending  -> failed (bounced) | review                 (never re-sent blindly)
--
-- Every transition names the state and the worker it expects
-- (WHERE status = ... AND claimed_by = worker): a worker whose lease ran out
-- and whose step another worker took can change nothing. A step is sent
-- only after it was committed as 'sending' with the draft's immutable id,
-- so a crash at any point leaves either a step that was never sent, which
-- goes back to 'scheduled', or one whose draft can be looked up and
-- reconciled, never one that might be sent twice.
--
-- All functions take the caller's clock t: the tool passes its own time,
-- so tests can stand at any moment without sleeping.

-- Who claimed a step last, and when: the sliding windows behind the
-- mailbox rate, the mailbox daily cap and the campaign daily cap.
ALTER TABLE drip.email_campaign_prospect_step
	ADD COLUMN identity_id bigint,
	ADD COLUMN claimed_at timestamptz,
	ADD FOREIGN KEY (customer_id, identity_id)
		REFERENCES drip.email_identity (customer_id, id);
CREATE INDEX email_campaign_prospect_step_identity_claims
	ON drip.email_campaign_prospect_step (identity_id, claimed_at)
	WHERE claimed_at IS NOT NULL;
CREATE INDEX email_campaign_prospect_step_campaign_claims
	ON drip.email_campaign_prospect_step (campaign_id, claimed_at)
	WHERE claimed_at IS NOT NULL;
CREATE INDEX email_campaign_prospect_step_prospect
	ON drip.email_campaign_prospect_step (prospect_id, status);
-- What is due for one campaign, read without touching its future steps or
-- other campaigns' due ones: claim_due's per-mailbox statements ask this.
CREATE INDEX email_campaign_prospect_step_campaign_due
	ON drip.email_campaign_prospect_step (campaign_id, due_at)
	WHERE status = 'scheduled';
-- A step's template by (campaign_id, step), as mark_sent and send-due's
-- details query look it up: the unique (customer_id, campaign_id, step)
-- index cannot serve that, and a scan of it grows with every campaign.
CREATE INDEX email_campaign_template_campaign_step
	ON drip.email_campaign_template (campaign_id, step);

-- Statuses that count against a daily cap: messages sent or possibly sent.
CREATE FUNCTION drip.counts_as_sent(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT status IN ('claimed', 'sending', 'sent', 'review')
$$;

-- A running campaign with no active prospect left is finished.
CREATE FUNCTION drip.finish_campaigns(campaigns bigint[]) RETURNS void
LANGUAGE sql AS $$
	UPDATE drip.email_campaign c SET status = 'finished'
	WHERE c.id = ANY (campaigns) AND c.status = 'running'
	  AND NOT EXISTS (SELECT 1 FROM drip.email_campaign_prospect p
			  WHERE p.campaign_id = c.id AND p.status = 'active')
$$;

-- Claim up to lim due steps for worker. Mailboxes are taken one claimer at
-- a time (their row is locked, SKIP LOCKED for the others), so the counts
-- behind the per-minute rate and the daily caps cannot be read by two
-- hosts at once. Steps that cannot go now are moved to the moment they can:
-- the window's next opening, or when the oldest counted claim leaves the
-- minute or the day.
CREATE FUNCTION drip.claim_due(worker text, t timestamptz, lim integer,
    lease interval) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
	mb record;
	allow integer;
	minute_used integer;
	day_used integer;
	minute_free timestamptz;
	day_free timestamptz;
	claimed integer;
	total integer := 0;
BEGIN
	FOR mb IN
		SELECT i.id, i.rate_per_minute, i.daily_cap
		FROM drip.email_identity i
		WHERE i.status = 'connected' AND i.id IN (
			SELECT c.identity_id
			FROM drip.email_campaign_prospect_step s
			JOIN drip.email_campaign c ON c.id = s.campaign_id
			WHERE s.status = 'scheduled' AND s.due_at <= t AND c.status = 'running')
		ORDER BY i.id
		FOR NO KEY UPDATE OF i SKIP LOCKED
	LOOP
		EXIT WHEN total >= lim;
		SELECT count(*) FILTER (WHERE s.claimed_at > t - interval '1 minute'),
		       count(*) FILTER (WHERE drip.counts_as_sent(s.status)),
		       min(s.claimed_at) FILTER (WHERE s.claimed_at > t - interval '1 minute')
			   + interval '1 minute',
		       min(s.claimed_at) FILTER (WHERE drip.counts_as_sent(s.status))
			   + interval '1 day'
		INTO minute_used, day_used, minute_free, day_free
		FROM drip.email_campaign_prospect_step s
		WHERE s.identity_id = mb.id AND s.claimed_at > t - interval '1 day';
		allow := least(mb.rate_per_minute - minute_used, mb.daily_cap - day_used, lim - total);

		claimed := 0;
		IF allow > 0 THEN
			RETURN QUERY
			WITH due AS (
				SELECT s.id, s.campaign_id, s.due_at, c.daily_cap,
				       drip.next_in_window(t, coalesce(p.timezone, c.timezone),
					   c.send_days, c.send_start, c.send_end) = t AS in_window
				FROM drip.email_campaign c
				JOIN drip.email_campaign_prospect_step s
				  ON s.campaign_id = c.id AND s.status = 'scheduled' AND s.due_at <= t
				JOIN drip.email_campaign_prospect p
				  ON p.id = s.prospect_id AND p.status = 'active'
				WHERE c.identity_id = mb.id AND c.status = 'running'
				ORDER BY s.due_at, s.id
				LIMIT allow * 4 + 100
			), used AS (
				SELECT x.campaign_id, count(*) AS n
				FROM drip.email_campaign_prospect_step x
				WHERE x.campaign_id IN (SELECT campaign_id FROM due WHERE daily_cap IS NOT NULL)
				  AND x.claimed_at > t - interval '1 day' AND drip.counts_as_sent(x.status)
				GROUP BY x.campaign_id
			), ranked AS (
				SELECT d.*, row_number() OVER (PARTITION BY d.campaign_id
				    ORDER BY d.due_at, d.id) AS rn
				FROM due d WHERE d.in_window
			), pick AS (
				SELECT r.id FROM ranked r LEFT JOIN used u USING (campaign_id)
				WHERE r.daily_cap IS NULL OR r.rn <= r.daily_cap - coalesce(u.n, 0)
				ORDER BY r.due_at, r.id
				LIMIT allow
			), locked AS (
				SELECT s.id FROM drip.email_campaign_prospect_step s
				WHERE s.id IN (SELECT id FROM pick) AND s.status = 'scheduled'
				FOR UPDATE SKIP LOCKED
			)
			UPDATE drip.email_campaign_prospect_step s
			SET status = 'claimed', claimed_by = worker, claimed_at = t,
			    lease_until = t + lease, identity_id = mb.id
			FROM locked WHERE s.id = locked.id
			RETURNING s.id;
			GET DIAGNOSTICS claimed = ROW_COUNT;
			total := total + claimed;
		END IF;

		-- What is still due for this mailbox now waits for a limit or
		-- a window: move it there, so it is not examined every minute.
		UPDATE drip.email_campaign_prospect_step s
		SET due_at = greatest(
			drip.next_in_window(t, coalesce(p.timezone, c.timezone),
			    c.send_days, c.send_start, c.send_end),
			CASE WHEN claimed + minute_used >= mb.rate_per_minute
			     THEN coalesce(minute_free, t + interval '1 minute') END,
			CASE WHEN claimed + day_used >= mb.daily_cap
			     THEN coalesce(day_free, t + interval '1 day') END,
			CASE WHEN c.daily_cap IS NOT NULL AND (
				SELECT count(*) FROM drip.email_campaign_prospect_step x
				WHERE x.campaign_id = c.id AND x.claimed_at > t - interval '1 day'
				  AND drip.counts_as_sent(x.status)) >= c.daily_cap
			     THEN (SELECT min(x.claimed_at) + interval '1 day'
				   FROM drip.email_campaign_prospect_step x
				   WHERE x.campaign_id = c.id AND x.claimed_at > t - interval '1 day'
				     AND drip.counts_as_sent(x.status)) END)
		FROM drip.email_campaign c, drip.email_campaign_prospect p
		WHERE c.identity_id = mb.id AND c.status = 'running'
		  AND s.campaign_id = c.id AND p.id = s.prospect_id AND p.status = 'active'
		  AND s.status = 'scheduled' AND s.due_at <= t
		  AND (total < lim OR claimed < allow);
	END LOOP;
END $$;

-- Claimed, the worker gone, its lease over: nothing was sent (a step is
-- sent only from 'sending'), so it simply waits for the next claim.
CREATE FUNCTION drip.release_expired(t timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	UPDATE drip.email_campaign_prospect_step
	SET status = 'scheduled', claimed_by = NULL, lease_until = NULL
	WHERE status = 'claimed' AND lease_until < t;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;

-- Take 'sending' steps whose lease is over, to find out what happened.
CREATE FUNCTION drip.claim_reconcile(worker text, t timestamptz, lim integer,
    lease interval) RETURNS SETOF bigint
LANGUAGE sql AS $$
	WITH stale AS (
		SELECT s.id FROM drip.email_campaign_prospect_step s
		JOIN drip.email_identity i ON i.id = s.identity_id AND i.status = 'connected'
		WHERE s.status = 'sending' AND s.lease_until < t
		ORDER BY s.lease_until
		LIMIT lim
		FOR UPDATE OF s SKIP LOCKED
	)
	UPDATE drip.email_campaign_prospect_step s
	SET claimed_by = worker, lease_until = t + lease
	FROM stale WHERE s.id = stale.id
	RETURNING s.id
$$;

-- The last look before /send: a claimed step whose draft exists becomes
-- 'sending' with the draft's ids, in one commit, but only while its
-- prospect is still active and its campaign running. Otherwise it is
-- skipped (the prospect replied, bounced, unsubscribed, or the campaign was
-- archived) or released (the campaign was paused). Returns each id with
-- what became of it; an id not returned was no longer this worker's.
CREATE FUNCTION drip.mark_sending(worker text, t timestamptz, ids bigint[],
    graph_ids text[], internet_ids text[], conversation_ids text[])
RETURNS TABLE (step_id bigint, outcome text)
LANGUAGE sql AS $$
	WITH mine AS (
		SELECT s.id, s.customer_id, s.campaign_id, s.prospect_id, s.identity_id,
		       x.gid, x.imid, x.cid,
		       CASE WHEN p.status <> 'active' OR c.status = 'archived' THEN 'skipped'
			    WHEN c.status <> 'running' THEN 'released'
			    ELSE 'sending' END AS outcome
		FROM unnest(ids, graph_ids, internet_ids, conversation_ids) AS x(id, gid, imid, cid)
		JOIN drip.email_campaign_prospect_step s ON s.id = x.id
		JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id
		JOIN drip.email_campaign c ON c.id = s.campaign_id
		WHERE s.status = 'claimed' AND s.claimed_by = worker AND s.lease_until > t
		FOR UPDATE OF s
	), upd AS (
		UPDATE drip.email_campaign_prospect_step s
		SET status = CASE m.outcome WHEN 'released' THEN 'scheduled' ELSE m.outcome END,
		    claimed_by = CASE m.outcome WHEN 'sending' THEN worker END,
		    lease_until = CASE m.outcome WHEN 'sending' THEN s.lease_until END
		FROM mine m WHERE s.id = m.id
		RETURNING s.id
	), meta AS (
		INSERT INTO drip.email_message_metadata (customer_id, campaign_id,
		    prospect_id, step_id, identity_id, graph_message_id,
		    internet_message_id, conversation_id)
		SELECT m.customer_id, m.campaign_id, m.prospect_id, m.id, m.identity_id,
		       m.gid, m.imid, m.cid
		FROM mine m WHERE m.outcome = 'sending'
		ON CONFLICT (step_id) DO UPDATE
		SET graph_message_id = excluded.graph_message_id,
		    internet_message_id = excluded.internet_message_id,
		    conversation_id = excluded.conversation_id,
		    identity_id = excluded.identity_id
	)
	SELECT m.id, m.outcome FROM mine m
$$;

-- Sent: record it, advance the prospect, schedule the next step at send
-- time plus its delay (in days of the prospect's wall clock, so a
-- daylight-saving change does not move the hour) moved into the window,
-- or finish the prospect.
CREATE FUNCTION drip.mark_sent(worker text, t timestamptz, ids bigint[],
    times timestamptz[]) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
	done_ids bigint[];
	camps bigint[];
BEGIN
	WITH done AS (
		UPDATE drip.email_campaign_prospect_step s
		SET status = 'sent', sent_at = x.at, claimed_by = NULL, lease_until = NULL,
		    last_error = NULL
		FROM unnest(ids, times) AS x(id, at)
		WHERE s.id = x.id AND s.status = 'sending' AND s.claimed_by = worker
		RETURNING s.id, s.customer_id, s.campaign_id, s.prospect_id, s.identity_id,
		    s.step, x.at
	), meta AS (
		UPDATE drip.email_message_metadata m SET sent_at = d.at
		FROM done d WHERE m.step_id = d.id
		RETURNING m.step_id, m.graph_message_id, m.internet_message_id, m.conversation_id
	), ev AS (
		INSERT INTO drip.email_event (customer_id, type, campaign_id, prospect_id,
		    step_id, identity_id, graph_message_id, internet_message_id, detail)
		SELECT d.customer_id, 'sent', d.campaign_id, d.prospect_id, d.id, d.identity_id,
		       m.graph_message_id, m.internet_message_id,
		       jsonb_build_object('step', d.step, 'conversation_id', m.conversation_id)
		FROM done d JOIN meta m ON m.step_id = d.id
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
	)
	SELECT array_agg(id), array_agg(DISTINCT campaign_id) INTO done_ids, camps FROM done;
	PERFORM drip.finish_campaigns(camps);
	RETURN QUERY SELECT unnest(done_ids);
END $$;

-- Not sent, and safe to try again later (throttled, unavailable before
-- the send, token trouble): back to 'scheduled' at retry_at. The eighth
-- attempt gives up: the step and its prospect fail.
CREATE FUNCTION drip.mark_deferred(worker text, t timestamptz, ids bigint[],
    times timestamptz[], reasons text[]) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
	done_ids bigint[];
	camps bigint[];
BEGIN
	WITH upd AS (
		UPDATE drip.email_campaign_prospect_step s
		SET status = CASE WHEN s.attempts + 1 >= 8 THEN 'failed' ELSE 'scheduled' END,
		    due_at = x.retry, attempts = s.attempts + 1, last_error = x.reason,
		    claimed_by = NULL, lease_until = NULL
		FROM unnest(ids, times, reasons) AS x(id, retry, reason)
		WHERE s.id = x.id AND s.status IN ('claimed', 'sending') AND s.claimed_by = worker
		RETURNING s.id, s.customer_id, s.campaign_id, s.prospect_id, s.identity_id,
		    s.attempts, s.status, x.reason
	), ev AS (
		INSERT INTO drip.email_event (customer_id, type, campaign_id, prospect_id,
		    step_id, identity_id, reason, detail)
		SELECT d.customer_id, CASE d.status WHEN 'failed' THEN 'failed' ELSE 'deferred' END,
		       d.campaign_id, d.prospect_id, d.id, d.identity_id,
		       CASE d.status WHEN 'failed'
			    THEN 'gave up after ' || d.attempts || ' attempts: ' || d.reason
			    ELSE d.reason END,
		       jsonb_build_object('attempts', d.attempts)
		FROM upd d
	), pro AS (
		UPDATE drip.email_campaign_prospect p SET status = 'failed'
		FROM upd d
		WHERE p.id = d.prospect_id AND d.status = 'failed' AND p.status = 'active'
	)
	SELECT array_agg(id), array_agg(DISTINCT campaign_id) FILTER (WHERE status = 'failed')
	INTO done_ids, camps FROM upd;
	PERFORM drip.finish_campaigns(camps);
	RETURN QUERY SELECT unnest(done_ids);
END $$;

-- Nothing was or will be sent for these steps: the template could not be
-- rendered ('failed'), the address is suppressed ('suppressed'), or the
-- recipient was refused ('bounced': the address is also suppressed for the
-- customer). The prospect stops with the matching status.
CREATE FUNCTION drip.mark_stopped(worker text, t timestamptz, ids bigint[],
    stop_kind text, reasons text[]) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
	done_ids bigint[];
	camps bigint[];
BEGIN
	IF stop_kind NOT IN ('failed', 'suppressed', 'bounced') THEN
		RAISE EXCEPTION 'mark_stopped: unknown kind %', stop_kind;
	END IF;
	WITH upd AS (
		UPDATE drip.email_campaign_prospect_step s
		SET status = CASE stop_kind WHEN 'suppressed' THEN 'suppressed' ELSE 'failed' END,
		    last_error = x.reason, claimed_by = NULL, lease_until = NULL
		FROM unnest(ids, reasons) AS x(id, reason)
		WHERE s.id = x.id AND s.status IN ('claimed', 'sending') AND s.claimed_by = worker
		RETURNING s.id, s.customer_id, s.campaign_id, s.prospect_id, s.identity_id, x.reason
	), ev AS (
		INSERT INTO drip.email_event (customer_id, type, campaign_id, prospect_id,
		    step_id, identity_id, reason)
		SELECT d.customer_id, stop_kind, d.campaign_id, d.prospect_id, d.id, d.identity_id, d.reason
		FROM upd d
	), pro AS (
		UPDATE drip.email_campaign_prospect p SET status = stop_kind
		FROM upd d WHERE p.id = d.prospect_id AND p.status = 'active'
		RETURNING p.customer_id, p.email
	), sup AS (
		INSERT INTO drip.suppression_entry (customer_id, value, kind, reason, source)
		SELECT DISTINCT customer_id, lower(email), 'address', 'bounce', 'send-due'
		FROM pro WHERE stop_kind = 'bounced'
		ON CONFLICT (customer_id, value) DO NOTHING
	)
	SELECT array_agg(id), array_agg(DISTINCT campaign_id) INTO done_ids, camps FROM upd;
	PERFORM drip.finish_campaigns(camps);
	RETURN QUERY SELECT unnest(done_ids);
END $$;

-- Outcome unknown after the grace period: keep the step out of every
-- queue for a person to look at. Never re-sent blindly.
CREATE FUNCTION drip.mark_review(worker text, t timestamptz, ids bigint[],
    reasons text[]) RETURNS SETOF bigint
LANGUAGE sql AS $$
	WITH upd AS (
		UPDATE drip.email_campaign_prospect_step s
		SET status = 'review', last_error = x.reason, claimed_by = NULL, lease_until = NULL
		FROM unnest(ids, reasons) AS x(id, reason)
		WHERE s.id = x.id AND s.status = 'sending' AND s.claimed_by = worker
		RETURNING s.id, s.customer_id, s.campaign_id, s.prospect_id, s.identity_id, x.reason
	), ev AS (
		INSERT INTO drip.email_event (customer_id, type, campaign_id, prospect_id,
		    step_id, identity_id, reason)
		SELECT customer_id, 'failed', campaign_id, prospect_id, id, identity_id,
		       'outcome unknown: ' || reason
		FROM upd
	)
	SELECT id FROM upd
$$;

-- Still 'sending', outcome not known yet: give the lease up now, so the
-- next run (on any host) looks the draft up again.
CREATE FUNCTION drip.mark_unknown(worker text, t timestamptz, ids bigint[],
    reasons text[]) RETURNS SETOF bigint
LANGUAGE sql AS $$
	UPDATE drip.email_campaign_prospect_step s
	SET lease_until = t, last_error = x.reason
	FROM unnest(ids, reasons) AS x(id, reason)
	WHERE s.id = x.id AND s.status = 'sending' AND s.claimed_by = worker
	RETURNING s.id
$$;

-- The mailbox refused us for good (consent revoked, access denied): it
-- needs to be connected again; its claimed steps wait, none fails.
CREATE FUNCTION drip.mailbox_down(worker text, t timestamptz, mailbox bigint,
    why text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	UPDATE drip.email_identity SET status = 'needs_reauth'
	WHERE id = mailbox AND status = 'connected';
	UPDATE drip.email_campaign_prospect_step
	SET status = 'scheduled', claimed_by = NULL, lease_until = NULL, last_error = why
	WHERE identity_id = mailbox AND status = 'claimed' AND claimed_by = worker;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;

-- Claimed but never started (the run's time was up): back to the queue
-- exactly as it was, no attempt counted.
CREATE FUNCTION drip.mark_released(worker text, t timestamptz, ids bigint[],
    reasons text[]) RETURNS SETOF bigint
LANGUAGE sql AS $$
	UPDATE drip.email_campaign_prospect_step s
	SET status = 'scheduled', claimed_by = NULL, lease_until = NULL
	WHERE s.id = ANY (ids) AND s.status = 'claimed' AND s.claimed_by = worker
	RETURNING s.id
$$;
