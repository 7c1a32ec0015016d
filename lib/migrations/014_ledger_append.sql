-- 014 ledger append: a claim appends to each mailbox's ledger
-- (drip.email_identity_usage) an array, not an element.
--
-- arr || elem is array_append, which expands arr into one Datum per
-- element, appends, and builds a flat array again when the row is
-- written: for a ledger that holds its 64 claim moments, as a mailbox's
-- ledger does after a day of sending, that is 64 moments and 64 counts
-- taken apart and put together again per mailbox and claim, 100 of them
-- in a claim of 100. arr || ARRAY[elem] is array_cat, which copies the
-- two flat arrays' data as they are. Same arrays, same rows.
--
-- Measured side by side in one session (lab, 1,000 mailboxes, a million
-- future steps, claims of 100 rolled back, the old function and this one
-- in turn, 57 pairs each): with every ledger full (64 moments), 5.31 ms
-- against 5.09 and 5.33 against 5.09 (0.959, 0.956); with empty ledgers
-- 4.89 against 4.83 (0.988). perf over 300 claims with full ledgers:
-- deconstruct_array and CopyArrayEls from 1.75% of the backend's time to
-- 0.22%.
--
-- The function below is 013's whole, as a migration must redefine it,
-- with only the three appends in the CTE fast changed: diff it against
-- 013 to see them.

CREATE OR REPLACE FUNCTION drip.claim_due(worker text, t timestamptz, lim integer,
    lease interval) RETURNS SETOF bigint
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	k integer;			-- candidates this round
	seen bigint[] := '{}';		-- mailboxes looked at (locked or skipped)
	mbs bigint[];			-- mailboxes locked this round
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
BEGIN
	WHILE total < lim AND rounds < 8 LOOP
		rounds := rounds + 1;
		k := lim - total + 10;

		-- 1. Candidates in due order; the mailboxes that can cover
		-- what is left of the batch (each at most its rate per
		-- minute), locked; what the claim needs of each candidate.
		WITH cand AS MATERIALIZED (
			SELECT s.id, s.due_at, s.campaign_id, c.identity_id,
			       i.rate_per_minute, c.daily_cap,
			       coalesce(p.timezone, c.timezone) AS tz, c.send_days,
			       c.send_start, c.send_end
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
		), need AS MATERIALIZED (
			SELECT identity_id FROM (
				SELECT identity_id,
				       sum(can) OVER (ORDER BY pos) - can AS before
				FROM per) x
			WHERE before < lim - total
		), lk AS MATERIALIZED (
			SELECT i.id
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
		SELECT (SELECT array_agg(id ORDER BY id) FROM lk),
		       x.ids, x.mbs, x.cps, x.dues, x.caps, x.nws,
		       (SELECT array_agg(identity_id) FROM need),
		       (SELECT count(*) FROM cand),
		       (SELECT count(*) FROM per) > (SELECT count(*) FROM need)
		INTO mbs, c_id, c_mb, c_cp, c_due, c_cap, c_nw, looked, ncand, more
		FROM (SELECT array_agg(m.id) AS ids, array_agg(m.identity_id) AS mbs,
			     array_agg(m.campaign_id) AS cps, array_agg(m.due_at) AS dues,
			     array_agg(m.daily_cap) AS caps, array_agg(w.nw) AS nws
		      FROM mine m JOIN win w USING (tz, send_days, send_start, send_end)) x;
		seen := seen || coalesce(looked, '{}');
		more := more OR ncand >= k;

		IF mbs IS NOT NULL THEN
			-- 2. The claim. Its own statement, after the locks: its
			-- snapshot sees every claim committed before them.
			WITH g AS MATERIALIZED (	-- the locked mailboxes' ledgers
				SELECT i.id, i.rate_per_minute AS rate, i.daily_cap AS cap,
				       u.identity_id IS NOT NULL AS known,
				       coalesce(u.since, '-infinity') AS since,
				       coalesce(u.base, 0) AS base,
				       coalesce(u.at, '{}') AS at, coalesce(u.cum, '{}') AS cum,
				       coalesce(cardinality(u.at), 0) AS len,
				       coalesce(width_bucket(t - interval '1 day', u.at), 0) AS kd,
				       coalesce(width_bucket(t - interval '1 minute', u.at), 0) AS km
				FROM drip.email_identity i
				LEFT JOIN drip.email_identity_usage u ON u.identity_id = i.id
				WHERE i.id = ANY (mbs)
			), mb AS MATERIALIZED (
				SELECT g.id, g.rate, g.cap,
				       CASE WHEN g.len = 0 THEN 0 ELSE g.cum[g.len] -
					   CASE g.km WHEN 0 THEN g.base ELSE g.cum[g.km] END END AS minute_used,
				       CASE WHEN g.len = 0 THEN 0 ELSE g.cum[g.len] -
					   CASE g.kd WHEN 0 THEN g.base ELSE g.cum[g.kd] END END
				       - (SELECT count(*) FROM drip.email_campaign_prospect_step x
					  WHERE x.identity_id = g.id AND x.claimed_at IS NOT NULL
					    AND x.claimed_at > greatest(t - interval '1 day', g.since)
					    AND x.status IN ('scheduled', 'failed', 'suppressed', 'skipped'))
				       AS day_used,
				       g.at[g.km + 1] AS minute_first, g.at[g.kd + 1] AS day_first
				FROM g
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
				FROM r2 r JOIN mb m ON m.id = r.identity_id
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
				       width_bucket(t - interval '25 hours', g.at) AS kp,
				       c.n, c.re
				FROM g JOIN (SELECT identity_id, count(*) AS n,
						    count(*) FILTER (WHERE old_mb = identity_id
							AND old_at > t - interval '1 day') AS re
					     FROM claimed GROUP BY 1) c ON c.identity_id = g.id
			), fast AS (	-- the usual case: appended at the end; past 64
				-- moments the oldest is merged into the next (its claims
				-- then leave the windows later, never earlier)
				SELECT l.id, l.known, greatest(l.since, l.cut) AS since,
				       CASE l.kp WHEN 0 THEN l.base ELSE l.cum[l.kp] END AS base,
				       CASE WHEN l.last THEN l.at[l.kq + 1 : l.len]
					    ELSE l.at[l.kq + 1 : l.len] || ARRAY[t] END AS at,
				       CASE WHEN l.last
					    THEN l.cum[l.kq + 1 : l.len - 1] || ARRAY[l.cum[l.len] + l.n]
					    ELSE l.cum[l.kq + 1 : l.len] ||
						ARRAY[CASE WHEN l.len = 0 THEN l.base ELSE l.cum[l.len] END + l.n]
				       END AS cum
				FROM (SELECT l.*, l.kp + CASE WHEN l.len - l.kp
						+ CASE WHEN l.last THEN 0 ELSE 1 END > 64 THEN 1 ELSE 0 END AS kq
				      FROM (SELECT l.*, coalesce(l.at[l.len] = t, false) AS last
					    FROM led l) l) l
				WHERE l.re = 0 AND (l.len = 0 OR l.at[l.len] <= t)
			), slow_e AS (	-- otherwise rebuilt: claims taken out, or a clock behind
				SELECT id, at, sum(n)::bigint AS n
				FROM (SELECT l.id, e.at, e.c - coalesce(lag(e.c) OVER (PARTITION BY l.id
					     ORDER BY e.i), l.base) AS n
				      FROM led l, unnest(l.at, l.cum) WITH ORDINALITY AS e(at, c, i)
				      WHERE NOT (l.re = 0 AND (l.len = 0 OR l.at[l.len] <= t))
				      UNION ALL
				      SELECT l.id, t, l.n FROM led l
				      WHERE NOT (l.re = 0 AND (l.len = 0 OR l.at[l.len] <= t))
				      UNION ALL
				      SELECT identity_id, old_at, -count(*) FROM claimed
				      WHERE old_mb = identity_id AND old_at > t - interval '1 day'
				      GROUP BY 1, 2) y
				GROUP BY 1, 2
				HAVING sum(n) > 0
			), slow AS (
				SELECT l.id, l.known, greatest(l.since, l.cut) AS since, 0::bigint AS base,
				       array_agg(e.at ORDER BY e.at) AS at, array_agg(e.c ORDER BY e.at) AS cum
				FROM led l
				JOIN (SELECT id, at, (sum(n) OVER (PARTITION BY id ORDER BY at))::bigint AS c
				      FROM slow_e WHERE at > t - interval '25 hours') e ON e.id = l.id
				GROUP BY l.id, l.known, l.since, l.cut
			), nl AS (
				SELECT * FROM fast UNION ALL SELECT * FROM slow
			), kept AS (	-- only claimers holding the mailbox write its row
				UPDATE drip.email_identity_usage u
				SET since = nl.since, base = nl.base, at = nl.at, cum = nl.cum
				FROM nl WHERE u.identity_id = nl.id AND nl.known
			), added AS (
				INSERT INTO drip.email_identity_usage (identity_id, since, base, at, cum)
				SELECT id, since, base, at, cum FROM nl WHERE NOT known
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
			       (SELECT bool_or(nw IS DISTINCT FROM t) FROM due)
			INTO got, ex_mb, ex_mb_until, ex_cp, ex_cp_until, off_window;

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
