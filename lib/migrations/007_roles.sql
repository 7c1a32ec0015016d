-- 007 roles: privileges an operator can grant to login roles.
--
--   drip_sender    what send-due and inbox-sync need, nothing more: read the
--                  campaigns, move steps, record events, metadata and
--                  suppressions, keep a mailbox's tokens and sync state.
--                  It cannot delete anything or change a campaign.
--   drip_reader    read-only reporting (events, campaigns); never tokens.
--   drip_customer  read-only, and row-level security shows it only the
--                  rows of the customer drip.customer_role maps it to.
--
-- Roles belong to the cluster, not the database, so several databases (or
-- two db-migrate runs) may try to create them at once: creation tolerates
-- finding them there.

DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['drip_sender', 'drip_reader', 'drip_customer'] LOOP
		BEGIN
			EXECUTE format('CREATE ROLE %I NOLOGIN', r);
		EXCEPTION WHEN duplicate_object OR unique_violation THEN
			NULL;
		END;
	END LOOP;
END $$;

GRANT USAGE ON SCHEMA drip TO drip_sender, drip_reader, drip_customer;

-- drip_sender
GRANT SELECT ON drip.schema_migrations, drip.email_identity, drip.email_campaign,
	drip.email_campaign_template, drip.email_campaign_prospect,
	drip.email_campaign_prospect_step, drip.email_message_metadata,
	drip.email_event, drip.suppression_entry TO drip_sender;
GRANT UPDATE (status, access_token, refresh_token, access_expires_at, delta_link,
	sync_claimed_by, sync_lease_until, last_synced_at, updated_at)
	ON drip.email_identity TO drip_sender;
GRANT UPDATE (status, updated_at) ON drip.email_campaign TO drip_sender;
GRANT UPDATE (status, last_step, last_sent_at, updated_at)
	ON drip.email_campaign_prospect TO drip_sender;
GRANT INSERT, UPDATE ON drip.email_campaign_prospect_step TO drip_sender;
GRANT INSERT, UPDATE ON drip.email_message_metadata TO drip_sender;
GRANT INSERT ON drip.email_event, drip.suppression_entry TO drip_sender;

-- drip_reader: everything but the sealed tokens
GRANT SELECT ON drip.schema_migrations, drip.email_campaign,
	drip.email_campaign_template, drip.email_campaign_prospect,
	drip.email_campaign_prospect_step, drip.email_message_metadata,
	drip.email_event, drip.suppression_entry TO drip_reader, drip_customer;
GRANT SELECT (id, customer_id, email, display_name, status, rate_per_minute,
	daily_cap, created_at, updated_at)
	ON drip.email_identity TO drip_reader, drip_customer;

-- drip_customer: which customer each login role may see
CREATE TABLE drip.customer_role (
	role		name PRIMARY KEY,
	customer_id	drip.customer NOT NULL
);
GRANT SELECT ON drip.customer_role TO drip_customer;

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['email_identity', 'email_campaign',
	    'email_campaign_template', 'email_campaign_prospect',
	    'email_campaign_prospect_step', 'email_message_metadata',
	    'email_event', 'suppression_entry'] LOOP
		EXECUTE format('ALTER TABLE drip.%I ENABLE ROW LEVEL SECURITY', t);
		-- the table owner (who runs db-migrate and the set-up tools)
		-- is not subject to these; the granted roles are
		EXECUTE format('CREATE POLICY every_customer ON drip.%I
		    TO drip_sender, drip_reader USING (true) WITH CHECK (true)', t);
		EXECUTE format('CREATE POLICY own_customer ON drip.%I FOR SELECT
		    TO drip_customer USING (customer_id IN (
			SELECT r.customer_id FROM drip.customer_role r
			WHERE r.role = current_user))', t);
	END LOOP;
END $$;
