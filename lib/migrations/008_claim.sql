-- 008 claim: drip.claim_due in a few set-based statements, however many
-- mailboxes a claim spans.
--
-- 005's claim_due ran three statements for every mailbox with a due step
-- (its counts, its claim, moving what must wait), so a claim of 100 spread
-- over 100 mailboxes ran 300 statements. This one works in rounds of at
-- most three statements, and one round is the usual case:
--
--   1. candidates: the first due steps by due_at, read from the partial
--      index email_campaign_prospect_step_due (LIMIT a multiple of the
--      batch, so a claim costs the same with a million steps waiting);
--      the mailboxes needed to cover the batch are locked, SKIP LOCKED,
--      as before: one claimer per mailbox at a time.
--   2. the claim: the locked mailboxes' claims in the last minute and day
--      and their campaigns' today, in one pass; row_number() per campaign
--      and per mailbox cuts the candidates to what each may send; the
--      window is checked once per distinct window; UPDATE ... RETURNING.
--      It runs as its own statement after the locks, so its snapshot sees
--      every claim committed before them.
--   3. only when something must wait: steps outside their window, and
--      every due step of a mailbox or campaign whose limit this claim
--      reached, move to the first moment they may go.
--
-- The semantics are 005's: only steps of running campaigns, connected
-- mailboxes and active prospects; a mailbox at most rate_per_minute
-- claims in any minute and daily_cap counted claims in any 24 hours, a
-- campaign at most its daily_cap; a step that cannot go now moves to the
-- moment it can. Across mailboxes a claim takes the earliest due first
-- (005 took mailboxes in id order).

CREATE OR REPLACE FUNCTION drip.claim_due(worker text, t timestamptz, lim integer,
    lease interval) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
	k integer := lim * 2 + 50;	-- candidates per round
	seen bigint[] := '{}';		-- mailboxes looked at (locked or skipped)
	cand bigint[];			-- candidate steps of the mailboxes locked
	mbs bigint[];
	rates integer[];
	caps integer[];
	ncand integer;
	more boolean;
	got bigint[];
	ex_mb bigint[];
	ex_mb_until timestamptz[];
	ex_cp bigint[];
	ex_cp_until timestamptz[];
	off_window boolean;
	total integer := 0;
	rounds integer := 0;
	looked bigint[];
BEGIN
	WHILE total < lim AND rounds < 8 LOOP
		rounds := rounds + 1;

		-- 1. Candidates in due order; the mailboxes that can cover
		-- what is left of the batch (each at most its rate per
		-- minute), locked.
		WITH cand AS (
			SELECT s.id, s.due_at, c.identity_id, i.rate_per_minute
			FROM drip.email_campaign_prospect_step s
			JOIN drip.email_campaign c ON c.id = s.campaign_id
			JOIN drip.email_identity i ON i.id = c.identity_id
			JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id
			WHERE s.status = 'scheduled' AND s.due_at <= t
			  AND c.status = 'running' AND i.status = 'connected'
			  AND p.status = 'active' AND c.identity_id <> ALL (seen)
			ORDER BY s.due_at
			LIMIT k
		), per AS (
			SELECT identity_id, min(pos) AS pos,
			       least(count(*), min(rate_per_minute)) AS can
			FROM (SELECT identity_id, rate_per_minute,
				     row_number() OVER (ORDER BY due_at, id) AS pos
			      FROM cand) x
			GROUP BY identity_id
		), need AS (
			SELECT identity_id FROM (
				SELECT identity_id,
				       sum(can) OVER (ORDER BY pos) - can AS before
				FROM per) x
			WHERE before < lim - total
		), lk AS (
			SELECT i.id, i.rate_per_minute, i.daily_cap
			FROM drip.email_identity i
			WHERE i.id IN (SELECT identity_id FROM need) AND i.status = 'connected'
			ORDER BY i.id
			FOR NO KEY UPDATE OF i SKIP LOCKED
		)
		SELECT (SELECT array_agg(c.id) FROM cand c WHERE c.identity_id IN (SELECT id FROM lk)),
		       (SELECT array_agg(id ORDER BY id) FROM lk),
		       (SELECT array_agg(rate_per_minute ORDER BY id) FROM lk),
		       (SELECT array_agg(daily_cap ORDER BY id) FROM lk),
		       (SELECT array_agg(identity_id) FROM need),
		       (SELECT count(*) FROM cand),
		       (SELECT count(*) FROM per) > (SELECT count(*) FROM need)
		INTO cand, mbs, rates, caps, looked, ncand, more;
		seen := seen || coalesce(looked, '{}');
		more := more OR ncand >= k;

		IF mbs IS NOT NULL THEN
			-- 2. The claim.
			WITH mb AS MATERIALIZED (
				SELECT m.id, m.rate, m.cap, u.minute_used, u.day_used,
				       u.minute_first, u.day_first
				FROM unnest(mbs, rates, caps) AS m(id, rate, cap)
				CROSS JOIN LATERAL (
					SELECT count(*) FILTER (WHERE x.claimed_at > t - interval '1 minute') AS minute_used,
					       count(*) FILTER (WHERE drip.counts_as_sent(x.status)) AS day_used,
					       min(x.claimed_at) FILTER (WHERE x.claimed_at > t - interval '1 minute') AS minute_first,
					       min(x.claimed_at) FILTER (WHERE drip.counts_as_sent(x.status)) AS day_first
					FROM drip.email_campaign_prospect_step x
					WHERE x.identity_id = m.id AND x.claimed_at > t - interval '1 day') u
			), due AS MATERIALIZED (
				SELECT s.id, s.campaign_id, s.due_at, c.identity_id, c.daily_cap,
				       coalesce(p.timezone, c.timezone) AS tz, c.send_days,
				       c.send_start, c.send_end
				FROM unnest(cand) AS x(id)
				JOIN drip.email_campaign_prospect_step s ON s.id = x.id
				JOIN drip.email_campaign c ON c.id = s.campaign_id
				JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id
				WHERE s.status = 'scheduled' AND s.due_at <= t
				  AND c.status = 'running' AND p.status = 'active'
				  AND c.identity_id = ANY (mbs)
			), win AS (
				SELECT w.tz, w.send_days, w.send_start, w.send_end,
				       drip.next_in_window(t, w.tz, w.send_days, w.send_start,
					   w.send_end) AS nw
				FROM (SELECT DISTINCT tz, send_days, send_start, send_end FROM due) w
			), camp AS MATERIALIZED (	-- capped campaigns only, each probed once
				SELECT dc.campaign_id, u.used, u.first_at
				FROM (SELECT DISTINCT campaign_id FROM due WHERE daily_cap IS NOT NULL) dc
				CROSS JOIN LATERAL (
					SELECT count(*) AS used, min(x.claimed_at) AS first_at
					FROM drip.email_campaign_prospect_step x
					WHERE x.campaign_id = dc.campaign_id
					  AND x.claimed_at > t - interval '1 day'
					  AND drip.counts_as_sent(x.status)) u
			), r1 AS (
				SELECT d.id, d.campaign_id, d.identity_id, d.due_at, d.daily_cap,
				       w.nw, coalesce(u.used, 0) AS camp_used, u.first_at AS camp_first,
				       row_number() OVER (PARTITION BY d.campaign_id, w.nw = t
					   ORDER BY d.due_at, d.id) AS crn
				FROM due d
				JOIN win w USING (tz, send_days, send_start, send_end)
				LEFT JOIN camp u USING (campaign_id)
			), r2 AS (
				SELECT r.id, r.campaign_id, r.identity_id, r.due_at,
				       row_number() OVER (PARTITION BY r.identity_id
					   ORDER BY r.due_at, r.id) AS mrn
				FROM r1 r
				WHERE r.nw = t AND (r.daily_cap IS NULL OR r.crn <= r.daily_cap - r.camp_used)
			), pick AS (
				SELECT r.id, r.identity_id, r.campaign_id
				FROM r2 r JOIN mb m ON m.id = r.identity_id
				WHERE r.mrn <= least(m.rate - m.minute_used, m.cap - m.day_used)
				ORDER BY r.due_at, r.id
				LIMIT lim - total
			), locked AS (
				SELECT s.id, pk.identity_id, pk.campaign_id
				FROM pick pk JOIN drip.email_campaign_prospect_step s ON s.id = pk.id
				WHERE s.status = 'scheduled'
				FOR UPDATE OF s SKIP LOCKED
			), claimed AS (
				UPDATE drip.email_campaign_prospect_step s
				SET status = 'claimed', claimed_by = worker, claimed_at = t,
				    lease_until = t + lease, identity_id = l.identity_id
				FROM locked l
				WHERE s.id = l.id AND s.status = 'scheduled'
				RETURNING s.id, l.identity_id, l.campaign_id
			), mbx AS (	-- mailboxes this claim filled: free again when
				SELECT m.id, greatest(
					CASE WHEN m.minute_used + coalesce(n.n, 0) >= m.rate
					     THEN coalesce(m.minute_first, t) + interval '1 minute' END,
					CASE WHEN m.day_used + coalesce(n.n, 0) >= m.cap
					     THEN coalesce(m.day_first, t) + interval '1 day' END) AS until
				FROM mb m
				LEFT JOIN (SELECT identity_id, count(*) AS n FROM claimed GROUP BY 1) n
				  ON n.identity_id = m.id
			), cpx AS (	-- campaigns this claim filled
				SELECT c.campaign_id, coalesce(c.camp_first, t) + interval '1 day' AS until
				FROM (SELECT DISTINCT campaign_id, daily_cap, camp_used, camp_first
				      FROM r1 WHERE daily_cap IS NOT NULL) c
				LEFT JOIN (SELECT campaign_id, count(*) AS n FROM claimed GROUP BY 1) n
				  USING (campaign_id)
				WHERE c.camp_used + coalesce(n.n, 0) >= c.daily_cap
			)
			SELECT (SELECT array_agg(id) FROM claimed),
			       (SELECT array_agg(id ORDER BY id) FROM mbx WHERE until IS NOT NULL),
			       (SELECT array_agg(until ORDER BY id) FROM mbx WHERE until IS NOT NULL),
			       (SELECT array_agg(campaign_id ORDER BY campaign_id) FROM cpx),
			       (SELECT array_agg(until ORDER BY campaign_id) FROM cpx),
			       (SELECT bool_or(nw IS DISTINCT FROM t) FROM r1)
			INTO got, ex_mb, ex_mb_until, ex_cp, ex_cp_until, off_window;

			-- 3. What must wait moves to when it may go: outside its
			-- window, or its mailbox or campaign full. Only steps of
			-- mailboxes this claimer holds.
			IF off_window OR ex_mb IS NOT NULL OR ex_cp IS NOT NULL THEN
				WITH todo AS (
					SELECT x.id FROM unnest(cand) AS x(id)
					UNION
					SELECT s.id
					FROM drip.email_campaign c
					JOIN drip.email_campaign_prospect_step s
					  ON s.campaign_id = c.id AND s.status = 'scheduled' AND s.due_at <= t
					WHERE c.identity_id = ANY (ex_mb) AND c.status = 'running'
					UNION
					SELECT s.id FROM drip.email_campaign_prospect_step s
					WHERE s.campaign_id = ANY (ex_cp) AND s.status = 'scheduled'
					  AND s.due_at <= t
				), mv AS (
					SELECT s.id, coalesce(p.timezone, c.timezone) AS tz, c.send_days,
					       c.send_start, c.send_end, em.until AS m_until,
					       ec.until AS c_until
					FROM todo
					JOIN drip.email_campaign_prospect_step s ON s.id = todo.id
					JOIN drip.email_campaign c ON c.id = s.campaign_id
					JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id
					LEFT JOIN unnest(ex_mb, ex_mb_until) AS em(id, until)
					  ON em.id = c.identity_id
					LEFT JOIN unnest(ex_cp, ex_cp_until) AS ec(id, until)
					  ON ec.id = s.campaign_id
					WHERE s.status = 'scheduled' AND s.due_at <= t
					  AND c.status = 'running' AND p.status = 'active'
					  AND c.identity_id = ANY (mbs)
				), win AS (
					SELECT w.tz, w.send_days, w.send_start, w.send_end,
					       drip.next_in_window(t, w.tz, w.send_days, w.send_start,
						   w.send_end) AS nw
					FROM (SELECT DISTINCT tz, send_days, send_start, send_end FROM mv) w
				), v AS (
					SELECT mv.id, greatest(w.nw, mv.m_until, mv.c_until) AS due_at
					FROM mv JOIN win w USING (tz, send_days, send_start, send_end)
				)
				UPDATE drip.email_campaign_prospect_step s
				SET due_at = v.due_at
				FROM v
				WHERE s.id = v.id AND v.due_at > t
				  AND s.status = 'scheduled' AND s.due_at <= t;
			END IF;

			total := total + coalesce(cardinality(got), 0);
			RETURN QUERY SELECT unnest(got);
		END IF;
		EXIT WHEN NOT more;
	END LOOP;
END $$;
