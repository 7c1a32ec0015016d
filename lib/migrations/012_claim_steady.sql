-- 012 claim steady: a claim of 100 costs the same at the sixtieth claim of
-- a run as at the first, and each step update writes fewer index entries.
--
-- (a) claim_due's plan is generic and kept for the session (009), so it is
-- made with the sizes the tables have at the session's first claim. The
-- claim ledger, drip.email_identity_usage, gained its rows one mailbox at
-- a time, at each mailbox's first claim: a session that started with few
-- rows kept a plan that scans the ledger once per locked mailbox, and
-- writes it through a nested loop over every ledger row. Measured with
-- 1,000 mailboxes and a million future steps: claims of 100 went from 9
-- to 25 ms over the first 60 claims of a session, instead of 5.5 to 6. A
-- mailbox now has its ledger row from its creation, so the ledger is as
-- large as it will be before anything is claimed, and the kept plan reads
-- it by key.
--
-- (b) The step's foreign key (customer_id, identity_id) is dropped. Only
-- claim_due writes a step's identity_id, and it writes the identity of
-- the step's campaign, whose own foreign key (customer_id, identity_id)
-- already holds for the same customer (a step's customer is its
-- campaign's, through the prospect's key). Its check cost a query per
-- claimed step: a fifth of a claim of 100. Identities are never deleted
-- (nothing in drip deletes one), so no step can point at a missing one.
--
-- (c) The campaign daily cap counts a campaign's claims of the last day
-- through (campaign_id, status, claimed_at), which also serves every
-- lookup of (campaign_id, status); email_campaign_prospect_step_campaign_claims
-- goes. No step update can be HOT (each changes status), so each one
-- inserts into every index that holds the new version: a claim, a
-- mark_sending and a mark_sent now insert into five, not six.

INSERT INTO drip.email_identity_usage (identity_id, since, base, at, cum)
SELECT id, '-infinity', 0, '{}', '{}' FROM drip.email_identity
ON CONFLICT (identity_id) DO NOTHING;

CREATE FUNCTION drip.identity_usage_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO drip.email_identity_usage (identity_id, since, base, at, cum)
	VALUES (NEW.id, '-infinity', 0, '{}', '{}')
	ON CONFLICT (identity_id) DO NOTHING;
	RETURN NULL;
END $$;
CREATE TRIGGER usage_row AFTER INSERT ON drip.email_identity
	FOR EACH ROW EXECUTE FUNCTION drip.identity_usage_row();

ALTER TABLE drip.email_campaign_prospect_step
	DROP CONSTRAINT email_campaign_prospect_step_customer_id_identity_id_fkey;

CREATE INDEX email_campaign_prospect_step_campaign_status
	ON drip.email_campaign_prospect_step (campaign_id, status, claimed_at);
DROP INDEX drip.email_campaign_prospect_step_campaign;
DROP INDEX drip.email_campaign_prospect_step_campaign_claims;
ALTER INDEX drip.email_campaign_prospect_step_campaign_status
	RENAME TO email_campaign_prospect_step_campaign;
