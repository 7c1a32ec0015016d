-- 018 claim candidates in due order: the claim's first statement reads
-- due steps from the due index, in due order, and looks up each one's
-- campaign, mailbox and prospect, whatever the planner's statistics say.
--
-- The statement joined the four tables and let the planner choose, once
-- per session (claim_due's plans are generic). In the benchmark's second
-- zero-latency run (2,000 running campaigns, 1,000 mailboxes whose rows
-- token refreshes had left on 519 pages, statistics that put 54 of them
-- connected) it chose to start from campaigns joined to mailboxes and
-- read every due step of every one of them through the (campaign_id,
-- due_at) index, 20,000 steps and 84,000 buffers, to sort them and keep
-- 210: 38-45 ms a claim instead of 4-5, 3.0 s of the run's 7.3
-- (pg_stat_statements, auto_explain). Such a plan grows with the due
-- steps, not the batch. In a LATERAL subquery with OFFSET 0 the lookups
-- cannot be pulled up into a join to be reordered: the due index drives,
-- and a claim reads as many due steps as it needs.
--
-- jit is off for the function: the planner prices the lookups for every
-- due step it might read (330,000 of a million future steps, by the
-- generic plan's guess), a cost over jit_above_cost, and then compiled
-- the statement with LLVM at each claim: 735 ms a claim in the claim
-- benchmark, for a plan that ran in 0.65 ms. A claim is a few
-- milliseconds of lookups, which compiling cannot pay back.
--
-- The function below is 016's whole, as a migration must redefine it,
-- with only the CTE cand and the SET of jit changed: diff it against 016.

CREATE OR REPLACE FUNCTION drip.claim_due(worker text, t timestamptz, lim integer,
    lease interval) RETURNS SETOF bigint
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET jit = off
AS $$
DECLARE
	k integer;			-- candidates this round
	seen bigint[] := '{}';		-- mailboxes looked at (locked or skipped)
	mbs bigint[];			-- mailboxes locked this round, and of each:
	mb_rate integer[];		--   its rate per minute
	mb_cap integer[];		--   its daily cap
	c_id bigint[];			-- their candidate steps, and of each:
	c_mb bigint[];			--   its mailbox
	c_cp bigint[];			--   campaign
	c_due timestamptz[];		--   due_at
	c_cap integer[];		--   campaign daily cap
	c_nw timestamptz[];		--   first moment inside its window
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
	ev_mb bigint[];			-- ledgers to rebuild: what each gains
	ev_at timestamptz[];		--   (or, negative, loses) at which moment
	ev_n bigint[];
BEGIN
	WHILE total < lim AND rounds < 8 LOOP
		rounds := rounds + 1;
		k := lim - total + 10;

		-- 1. Candidates in due order; the mailboxes that can cover
		-- what is left of the batch (each at most its rate per
		-- minute), locked; what the claim needs of each candidate.
		WITH cand AS MATERIALIZED (
			SELECT s.id, s.due_at, s.campaign_id, x.identity_id,
			       x.rate_per_minute, x.daily_cap, x.tz, x.send_days,
			       x.send_start, x.send_end
			FROM drip.email_campaign_prospect_step s
			CROSS JOIN LATERAL (	-- each due step's campaign, mailbox
				-- and prospect, looked up in due order (OFFSET 0
				-- keeps it a lookup: see the header)
				SELECT c.identity_id, i.rate_per_minute, c.daily_cap,
				       coalesce(p.timezone, c.timezone) AS tz, c.send_days,
				       c.send_start, c.send_end
				FROM drip.email_campaign c
				JOIN drip.email_identity i ON i.id = c.identity_id
				JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id
				WHERE c.id = s.campaign_id AND c.status = 'running'
				  AND i.status = 'connected' AND p.status = 'active'
				  AND c.identity_id <> ALL (seen)
				OFFSET 0) x
			WHERE s.status = 'scheduled' AND s.due_at <= t
			ORDER BY s.due_at
			LIMIT k
		), per AS (
			SELECT identity_id, min(pos) AS pos,
			       least(count(*), min(rate_per_minute)) AS can
			FROM (SELECT identity_id, rate_per_minute,
				     row_number() OVER (ORDER BY due_at, id) AS pos
			      FROM cand) x
			GROUP BY identity_id
		), need AS MATERIALIZED (
			SELECT identity_id FROM (
				SELECT identity_id,
				       sum(can) OVER (ORDER BY pos) - can AS before
				FROM per) x
			WHERE before < lim - total
		), lk AS MATERIALIZED (
			SELECT i.id, i.rate_per_minute, i.daily_cap
			FROM drip.email_identity i
			WHERE i.id = ANY (ARRAY(SELECT identity_id FROM need))
			  AND i.status = 'connected'
			ORDER BY i.id
			FOR NO KEY UPDATE OF i SKIP LOCKED
		), mine AS MATERIALIZED (
			SELECT c.* FROM cand c WHERE c.identity_id IN (SELECT id FROM lk)
		), win AS (
			SELECT w.tz, w.send_days, w.send_start, w.send_end,
			       drip.next_in_window(t, w.tz, w.send_days, w.send_start,
				   w.send_end) AS nw
			FROM (SELECT DISTINCT tz, send_days, send_start, send_end FROM mine) w
		)
		SELECT l.ids, l.rates, l.caps,
		       x.ids, x.mbs, x.cps, x.dues, x.caps, x.nws,
		       (SELECT array_agg(identity_id) FROM need),
		       (SELECT count(*) FROM cand),
		       (SELECT count(*) FROM per) > (SELECT count(*) FROM need)
		INTO mbs, mb_rate, mb_cap, c_id, c_mb, c_cp, c_due, c_cap, c_nw, looked, ncand, more
		FROM (SELECT array_agg(m.id) AS ids, array_agg(m.identity_id) AS mbs,
			     array_agg(m.campaign_id) AS cps, array_agg(m.due_at) AS dues,
			     array_agg(m.daily_cap) AS caps, array_agg(w.nw) AS nws
		      FROM mine m JOIN win w USING (tz, send_days, send_start, send_end)) x,
		     (SELECT array_agg(id ORDER BY id) AS ids,
			     array_agg(rate_per_minute ORDER BY id) AS rates,
			     array_agg(daily_cap ORDER BY id) AS caps FROM lk) l;
		seen := seen || coalesce(looked, '{}');
		more := more OR ncand >= k;

		IF mbs IS NOT NULL THEN
			-- 2. The claim. Its own statement, after the locks: its
			-- snapshot sees every claim committed before them.
			WITH g AS MATERIALIZED (	-- the locked mailboxes' ledgers, as
				-- the claim needs them (the arrays stay in the row)
				SELECT x.id, x.rate, x.cap, x.known, x.since, x.base, x.len,
				       x.kp, x.at_len, x.cum_len,
				       CASE x.kp WHEN 0 THEN x.base ELSE x.cum[x.kp] END AS cum_kp,
				       x.cum_len - CASE x.km WHEN 0 THEN x.base ELSE x.cum[x.km] END
				       AS minute_used,
				       x.cum_len - CASE x.kd WHEN 0 THEN x.base ELSE x.cum[x.kd] END
				       - (SELECT count(*) FROM drip.email_campaign_prospect_step s
					  WHERE s.identity_id = x.id AND s.claimed_at IS NOT NULL
					    AND s.claimed_at > greatest(t - interval '1 day', x.since)
					    AND s.status IN ('scheduled', 'failed', 'suppressed', 'skipped'))
				       AS day_used,
				       x.at[x.km + 1] AS minute_first, x.at[x.kd + 1] AS day_first
				FROM (SELECT u.*, CASE u.len WHEN 0 THEN u.base ELSE u.cum[u.len] END AS cum_len
				      FROM (SELECT i.id, i.rate_per_minute AS rate, i.daily_cap AS cap,
						   u.identity_id IS NOT NULL AS known,
						   coalesce(u.since, '-infinity') AS since,
						   coalesce(u.base, 0) AS base, u.at, u.cum,
						   coalesce(cardinality(u.at), 0) AS len,
						   u.at[cardinality(u.at)] AS at_len,
						   coalesce(width_bucket(t - interval '1 day', u.at), 0) AS kd,
						   coalesce(width_bucket(t - interval '1 minute', u.at), 0) AS km,
						   coalesce(width_bucket(t - interval '25 hours', u.at), 0) AS kp
					    FROM unnest(mbs, mb_rate, mb_cap) AS i(id, rate_per_minute, daily_cap)
					    LEFT JOIN drip.email_identity_usage u ON u.identity_id = i.id
						AND u.identity_id = ANY (mbs)) u) x
			), due AS MATERIALIZED (
				SELECT * FROM unnest(c_id, c_mb, c_cp, c_due, c_cap, c_nw)
				    AS d(id, identity_id, campaign_id, due_at, daily_cap, nw)
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
				       d.nw, coalesce(u.used, 0) AS camp_used, u.first_at AS camp_first,
				       row_number() OVER (PARTITION BY d.campaign_id, d.nw = t
					   ORDER BY d.due_at, d.id) AS crn
				FROM due d
				LEFT JOIN camp u USING (campaign_id)
			), r2 AS (
				SELECT r.id, r.campaign_id, r.identity_id, r.due_at,
				       row_number() OVER (PARTITION BY r.identity_id
					   ORDER BY r.due_at, r.id) AS mrn
				FROM r1 r
				WHERE r.nw = t AND (r.daily_cap IS NULL OR r.crn <= r.daily_cap - r.camp_used)
			), pick AS (
				SELECT r.id, r.identity_id, r.campaign_id
				FROM r2 r JOIN g m ON m.id = r.identity_id
				WHERE r.mrn <= least(m.rate - m.minute_used, m.cap - m.day_used)
				ORDER BY r.due_at, r.id
				LIMIT lim - total
			), locked AS (
				SELECT s.id, pk.identity_id, pk.campaign_id,
				       s.identity_id AS old_mb, s.claimed_at AS old_at
				FROM pick pk JOIN drip.email_campaign_prospect_step s ON s.id = pk.id
				WHERE s.status = 'scheduled' AND s.due_at <= t
				FOR UPDATE OF s SKIP LOCKED
			), claimed AS (
				UPDATE drip.email_campaign_prospect_step s
				SET status = 'claimed', claimed_by = worker, claimed_at = t,
				    lease_until = t + lease, identity_id = l.identity_id,
				    updated_at = now()
				FROM locked l
				WHERE s.id = l.id AND s.status = 'scheduled'
				RETURNING s.id, l.identity_id, l.campaign_id, l.old_mb, l.old_at
			), led AS (	-- what each ledger gains: n claims at t, and
				-- re earlier claims of the same steps that no longer count
				SELECT g.*, t - interval '25 hours' AS cut,
				       coalesce(g.at_len = t, false) AS last,
				       g.re = 0 AND (g.len = 0 OR g.at_len <= t) AS appends
				FROM (SELECT g.*, c.n, c.re
				      FROM g JOIN (SELECT identity_id, count(*) AS n,
							  count(*) FILTER (WHERE old_mb = identity_id
							      AND old_at > t - interval '1 day') AS re
						   FROM claimed GROUP BY 1) c ON c.identity_id = g.id) g
			), fast AS (	-- the usual case: appended at the end; past 64
				-- moments the oldest is merged into the next (its claims
				-- then leave the windows later, never earlier). The
				-- arrays are cut and appended to in the row itself.
				SELECT l.id, l.known, greatest(l.since, l.cut) AS since,
				       l.cum_kp AS base, l.last, l.len, l.cum_len + l.n AS cum_end,
				       l.kp + CASE WHEN l.len - l.kp
					   + CASE WHEN l.last THEN 0 ELSE 1 END > 64 THEN 1 ELSE 0 END AS kq
				FROM led l
				WHERE l.appends
			), ev AS (	-- a ledger that cannot be appended to (claims taken
				-- out, or a clock behind) is rebuilt below from these
				SELECT id AS mb, t AS at, n FROM led WHERE NOT appends
				UNION ALL
				SELECT identity_id, old_at, -count(*) FROM claimed
				WHERE old_mb = identity_id AND old_at > t - interval '1 day'
				GROUP BY 1, 2
			), kept AS (	-- only claimers holding the mailbox write its row
				UPDATE drip.email_identity_usage u
				SET since = f.since, base = f.base,
				    at = CASE WHEN f.last THEN u.at[f.kq + 1 : f.len]
					      ELSE u.at[f.kq + 1 : f.len] || ARRAY[t] END,
				    cum = CASE WHEN f.last THEN u.cum[f.kq + 1 : f.len - 1]
					       ELSE u.cum[f.kq + 1 : f.len] END || ARRAY[f.cum_end]
				FROM fast f WHERE u.identity_id = f.id AND f.known
			), added AS (
				INSERT INTO drip.email_identity_usage (identity_id, since, base, at, cum)
				SELECT id, since, base, ARRAY[t], ARRAY[cum_end] FROM fast WHERE NOT known
			), mbx AS (	-- mailboxes this claim filled: free again when
				SELECT m.id, greatest(
					CASE WHEN m.minute_used + coalesce(n.n, 0) >= m.rate
					     THEN coalesce(m.minute_first, t) + interval '1 minute' END,
					CASE WHEN m.day_used + coalesce(n.n, 0) >= m.cap
					     THEN coalesce(m.day_first, t) + interval '1 day' END) AS until
				FROM g m LEFT JOIN led n ON n.id = m.id
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
			       (SELECT bool_or(nw IS DISTINCT FROM t) FROM due),
			       e.mbs, e.ats, e.ns
			INTO got, ex_mb, ex_mb_until, ex_cp, ex_cp_until, off_window,
			     ev_mb, ev_at, ev_n
			FROM (SELECT array_agg(mb ORDER BY mb, at) AS mbs,
				     array_agg(at ORDER BY mb, at) AS ats,
				     array_agg(n ORDER BY mb, at) AS ns FROM ev) e;

			-- 2b. The ledgers to rebuild: each as its moments and counts,
			-- with what this claim adds and takes out.
			IF ev_mb IS NOT NULL THEN
				WITH l AS (
					SELECT x.id, u.identity_id IS NOT NULL AS known,
					       coalesce(u.since, '-infinity') AS since,
					       coalesce(u.base, 0) AS base, u.at, u.cum
					FROM (SELECT DISTINCT unnest(ev_mb) AS id) x
					LEFT JOIN drip.email_identity_usage u ON u.identity_id = x.id
				), e AS (
					SELECT id, at, sum(n)::bigint AS n
					FROM (SELECT l.id, e.at, e.c - coalesce(lag(e.c) OVER (PARTITION BY l.id
						     ORDER BY e.i), l.base) AS n
					      FROM l, unnest(l.at, l.cum) WITH ORDINALITY AS e(at, c, i)
					      UNION ALL
					      SELECT * FROM unnest(ev_mb, ev_at, ev_n)) y
					GROUP BY 1, 2
					HAVING sum(n) > 0
				), nl AS (
					SELECT l.id, l.known,
					       greatest(l.since, t - interval '25 hours') AS since,
					       0::bigint AS base,
					       array_agg(e.at ORDER BY e.at) AS at,
					       array_agg(e.c ORDER BY e.at) AS cum
					FROM l
					JOIN (SELECT id, at, (sum(n) OVER (PARTITION BY id ORDER BY at))::bigint AS c
					      FROM e WHERE at > t - interval '25 hours') e ON e.id = l.id
					GROUP BY l.id, l.known, l.since
				), kept AS (
					UPDATE drip.email_identity_usage u
					SET since = nl.since, base = nl.base, at = nl.at, cum = nl.cum
					FROM nl WHERE u.identity_id = nl.id AND nl.known
				)
				INSERT INTO drip.email_identity_usage (identity_id, since, base, at, cum)
				SELECT id, since, base, at, cum FROM nl WHERE NOT known;
			END IF;

			-- 3. What must wait moves to when it may go: outside its
			-- window, or its mailbox or campaign full. Only steps of
			-- mailboxes this claimer holds.
			IF off_window OR ex_mb IS NOT NULL OR ex_cp IS NOT NULL THEN
				WITH todo AS (
					SELECT x.id FROM unnest(c_id) AS x(id)
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
