-- 015 step key: a step's primary key is (id, customer_id), one index where
-- there were two, the primary key (id) and the unique (customer_id, id)
-- that events and message metadata reference.
--
-- No update of a step is HOT: each changes its status, which indexes hold.
-- So every claim, and every later change of a step (sending, sent,
-- deferred), inserts a new entry into each index whose predicate the new
-- version meets, and each unique index first looks its key up in the heap
-- as well. One index fewer is one insertion and one such check fewer per
-- step and change.
--
-- The one index still serves both: a lookup by id reads it by its first
-- column, and a foreign key may reference its columns in any order. id
-- stays unique as it always was, by its identity sequence (GENERATED
-- ALWAYS: no insert chooses it), and (id, customer_id) is unique by
-- constraint, as (customer_id, id) was.
--
-- Measured in the claim benchmark's database (tests/bench, 1,000
-- mailboxes, a million future steps, claims of 100 rolled back, 30 per
-- series, medians): with the two indexes 4.74, 4.82, 4.77 ms, with the
-- one 4.58, 4.55, 4.57; the two again 4.86, 4.79 (and 7.34, a series in
-- one of the VM's slow moments), the one again 4.56, 4.54, 4.53.

ALTER TABLE drip.email_event
	DROP CONSTRAINT email_event_customer_id_step_id_fkey;
ALTER TABLE drip.email_message_metadata
	DROP CONSTRAINT email_message_metadata_customer_id_step_id_fkey;

ALTER TABLE drip.email_campaign_prospect_step
	DROP CONSTRAINT email_campaign_prospect_step_customer_id_id_key,
	DROP CONSTRAINT email_campaign_prospect_step_pkey,
	ADD CONSTRAINT email_campaign_prospect_step_pkey PRIMARY KEY (id, customer_id);

ALTER TABLE drip.email_event
	ADD CONSTRAINT email_event_customer_id_step_id_fkey
	FOREIGN KEY (customer_id, step_id)
	REFERENCES drip.email_campaign_prospect_step (customer_id, id) ON DELETE CASCADE;
ALTER TABLE drip.email_message_metadata
	ADD CONSTRAINT email_message_metadata_customer_id_step_id_fkey
	FOREIGN KEY (customer_id, step_id)
	REFERENCES drip.email_campaign_prospect_step (customer_id, id) ON DELETE CASCADE;
