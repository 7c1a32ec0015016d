-- 017 prospect key: a prospect's primary key is (id, customer_id,
-- campaign_id), one index where there were three: the primary key (id),
-- the unique (customer_id, campaign_id, id) that steps, message metadata
-- and events reference, and a unique (customer_id, id) that nothing uses.
--
-- A prospect is updated each time one of its steps is sent (its last
-- step, when, and whether it is finished). Prospects are imported side by
-- side and sent in the order they were imported, so the rows of a page
-- are updated in the same transaction and the page has no room for their
-- new versions: in the benchmark's zero-latency run 1,775 of 20,000 such
-- updates were HOT. Every other one inserts into each of the table's
-- indexes, and each unique index first looks its key up in the heap. An
-- import inserts into each of them too.
--
-- As in 015, the one index serves every use of the three: a lookup by id
-- reads it by its first column, and a foreign key may reference its
-- columns in any order. id stays unique by its identity sequence
-- (GENERATED ALWAYS), and (id, customer_id, campaign_id) is unique by
-- constraint. A lookup by campaign alone reads the unique address index
-- (campaign_id, lower(email)), as import's duplicate check does already.
--
-- Measured on two copies of the table, 200,000 prospects each, one with
-- the four indexes before and one with the two after, in turn in one
-- session: an update of 200 adjacent prospects (not HOT) 3.49 ms against
-- 1.83 (0.525, 80 pairs), an insert of 5,000 40.3 ms against 21.8 (0.541,
-- 20 pairs). db-migrate from 014 to this one, with a million prospects
-- and a million steps: 1.3 s.

ALTER TABLE drip.email_campaign_prospect_step
	DROP CONSTRAINT email_campaign_prospect_step_customer_id_campaign_id_prosp_fkey;
ALTER TABLE drip.email_message_metadata
	DROP CONSTRAINT email_message_metadata_customer_id_campaign_id_prospect_id_fkey;
ALTER TABLE drip.email_event
	DROP CONSTRAINT email_event_customer_id_campaign_id_prospect_id_fkey;

ALTER TABLE drip.email_campaign_prospect
	DROP CONSTRAINT email_campaign_prospect_customer_id_id_key,
	DROP CONSTRAINT email_campaign_prospect_customer_id_campaign_id_id_key,
	DROP CONSTRAINT email_campaign_prospect_pkey,
	ADD CONSTRAINT email_campaign_prospect_pkey
	PRIMARY KEY (id, customer_id, campaign_id);

ALTER TABLE drip.email_campaign_prospect_step
	ADD CONSTRAINT email_campaign_prospect_step_customer_id_campaign_id_prosp_fkey
	FOREIGN KEY (customer_id, campaign_id, prospect_id)
	REFERENCES drip.email_campaign_prospect (customer_id, campaign_id, id)
	ON DELETE CASCADE;
ALTER TABLE drip.email_message_metadata
	ADD CONSTRAINT email_message_metadata_customer_id_campaign_id_prospect_id_fkey
	FOREIGN KEY (customer_id, campaign_id, prospect_id)
	REFERENCES drip.email_campaign_prospect (customer_id, campaign_id, id)
	ON DELETE CASCADE;
ALTER TABLE drip.email_event
	ADD CONSTRAINT email_event_customer_id_campaign_id_prospect_id_fkey
	FOREIGN KEY (customer_id, campaign_id, prospect_id)
	REFERENCES drip.email_campaign_prospect (customer_id, campaign_id, id)
	ON DELETE CASCADE;
