-- 001 init: the eight tables of the contract, with the database itself
-- enforcing customer scoping, uniqueness and the contract's status words.
-- Every reference carries customer_id (composite foreign keys), so no row
-- can point at a row of another customer whatever a tool does.

CREATE DOMAIN drip.customer AS text
	CHECK (VALUE <> '' AND length(VALUE) <= 200);

-- True when PostgreSQL knows the zone (it reads the same system tzdata as
-- tz_valid() in lib/tz.c).
CREATE FUNCTION drip.tz_ok(tz text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	PERFORM timestamptz '2000-01-01 00:00:00+00' AT TIME ZONE tz;
	RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
	RETURN false;
END $$;

CREATE FUNCTION drip.rfc3339(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

CREATE FUNCTION drip.touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END $$;

-- The first moment at or after t that lies inside a send window: days are
-- 'mon'..'sun', start/end are local wall-clock times in zone tz (end may be
-- 24:00). Wall-clock arithmetic happens in local time and is converted back
-- with AT TIME ZONE, so daylight-saving changes move the UTC instant, not
-- the local hour. NULL when no day is allowed.
CREATE FUNCTION drip.next_in_window(t timestamptz, tz text, days text[],
    wstart time, wend time) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
	d date := (t AT TIME ZONE tz)::date;
	ws timestamptz;
	we timestamptz;
BEGIN
	FOR i IN 0..7 LOOP
		IF to_char(d + i, 'dy') = ANY (days) THEN
			ws := ((d + i) + wstart) AT TIME ZONE tz;
			we := ((d + i) + wend) AT TIME ZONE tz;
			IF t < ws THEN
				RETURN ws;
			ELSIF t < we THEN
				RETURN t;
			END IF;
		END IF;
	END LOOP;
	RETURN NULL;
END $$;

CREATE TABLE drip.email_identity (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	customer_id		drip.customer NOT NULL,
	email			text NOT NULL CHECK (email <> '' AND length(email) <= 254),
	display_name		text NOT NULL DEFAULT '',
	status			text NOT NULL DEFAULT 'connected'
				CHECK (status IN ('connected', 'needs_reauth', 'disconnected')),
	rate_per_minute		integer NOT NULL DEFAULT 30
				CHECK (rate_per_minute BETWEEN 1 AND 10000),
	daily_cap		integer NOT NULL DEFAULT 50
				CHECK (daily_cap BETWEEN 0 AND 1000000),
	graph_user_id		text,
	-- OAuth tokens, sealed with AES-256-GCM (lib/crypt.c); never plain text
	access_token		bytea,
	refresh_token		bytea,
	access_expires_at	timestamptz,
	-- inbox-sync: where the Inbox delta query left off, and who holds it
	delta_link		text,
	sync_claimed_by		text,
	sync_lease_until	timestamptz,
	last_synced_at		timestamptz,
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now(),
	UNIQUE (customer_id, id)
);
CREATE UNIQUE INDEX email_identity_mailbox
	ON drip.email_identity (customer_id, lower(email));

CREATE TABLE drip.email_campaign (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	customer_id		drip.customer NOT NULL,
	identity_id		bigint NOT NULL,
	name			text NOT NULL CHECK (name <> '' AND length(name) <= 200),
	status			text NOT NULL DEFAULT 'draft'
				CHECK (status IN ('draft', 'running', 'paused', 'finished', 'archived')),
	timezone		text NOT NULL DEFAULT 'UTC' CHECK (drip.tz_ok(timezone)),
	send_days		text[] NOT NULL DEFAULT '{mon,tue,wed,thu,fri}'
				CHECK (cardinality(send_days) > 0 AND
				    send_days <@ '{mon,tue,wed,thu,fri,sat,sun}'),
	send_start		time NOT NULL DEFAULT '09:00',
	send_end		time NOT NULL DEFAULT '17:00',
	daily_cap		integer CHECK (daily_cap BETWEEN 0 AND 1000000),
	key			text CHECK (key <> '' AND length(key) <= 200),
	-- the campaign-create input stored under key, to tell a re-run from a clash
	key_input		jsonb,
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now(),
	CHECK (send_start < send_end),
	UNIQUE (customer_id, id),
	UNIQUE (customer_id, key),
	FOREIGN KEY (customer_id, identity_id)
		REFERENCES drip.email_identity (customer_id, id)
);
CREATE INDEX email_campaign_identity ON drip.email_campaign (identity_id);

CREATE TABLE drip.email_campaign_template (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	customer_id		drip.customer NOT NULL,
	campaign_id		bigint NOT NULL,
	step			integer NOT NULL CHECK (step BETWEEN 1 AND 100),
	subject			text NOT NULL CHECK (subject <> ''),
	body_text		text,
	body_html		text,
	delay_days		integer NOT NULL DEFAULT 0 CHECK (delay_days BETWEEN 0 AND 365),
	thread			text NOT NULL DEFAULT 'new' CHECK (thread IN ('new', 'reply')),
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now(),
	CHECK (body_text IS NOT NULL OR body_html IS NOT NULL),
	CHECK (step > 1 OR thread = 'new'),
	UNIQUE (customer_id, id),
	UNIQUE (customer_id, campaign_id, step),
	FOREIGN KEY (customer_id, campaign_id)
		REFERENCES drip.email_campaign (customer_id, id) ON DELETE CASCADE
);

CREATE TABLE drip.email_campaign_prospect (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	customer_id		drip.customer NOT NULL,
	campaign_id		bigint NOT NULL,
	email			text NOT NULL CHECK (email <> '' AND length(email) <= 254),
	first_name		text,
	last_name		text,
	company			text,
	title			text,
	timezone		text CHECK (timezone IS NULL OR drip.tz_ok(timezone)),
	fields			jsonb NOT NULL DEFAULT '{}'
				CHECK (jsonb_typeof(fields) = 'object'),
	status			text NOT NULL DEFAULT 'active'
				CHECK (status IN ('active', 'suppressed', 'replied', 'bounced',
				    'unsubscribed', 'finished', 'failed')),
	last_step		integer NOT NULL DEFAULT 0,	-- highest step sent
	last_sent_at		timestamptz,
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now(),
	UNIQUE (customer_id, id),
	UNIQUE (customer_id, campaign_id, id),
	FOREIGN KEY (customer_id, campaign_id)
		REFERENCES drip.email_campaign (customer_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX email_campaign_prospect_address
	ON drip.email_campaign_prospect (campaign_id, lower(email));

CREATE TABLE drip.email_campaign_prospect_step (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	customer_id		drip.customer NOT NULL,
	campaign_id		bigint NOT NULL,
	prospect_id		bigint NOT NULL,
	step			integer NOT NULL,
	status			text NOT NULL DEFAULT 'scheduled'
				CHECK (status IN ('scheduled', 'claimed', 'sending', 'sent',
				    'failed', 'suppressed', 'skipped', 'review')),
	due_at			timestamptz NOT NULL,
	attempts		integer NOT NULL DEFAULT 0,
	claimed_by		text,
	lease_until		timestamptz,
	sent_at			timestamptz,
	last_error		text,
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now(),
	CHECK (status NOT IN ('claimed', 'sending') OR
	    (claimed_by IS NOT NULL AND lease_until IS NOT NULL)),
	-- a step is scheduled at most once per prospect
	UNIQUE (prospect_id, step),
	UNIQUE (customer_id, id),
	FOREIGN KEY (customer_id, campaign_id, prospect_id)
		REFERENCES drip.email_campaign_prospect (customer_id, campaign_id, id)
		ON DELETE CASCADE,
	FOREIGN KEY (customer_id, campaign_id, step)
		REFERENCES drip.email_campaign_template (customer_id, campaign_id, step)
		ON DELETE CASCADE
);
-- "What is due" stays cheap however many steps wait in the future or lie in
-- the past: only scheduled rows are in this index.
CREATE INDEX email_campaign_prospect_step_due
	ON drip.email_campaign_prospect_step (due_at) WHERE status = 'scheduled';
CREATE INDEX email_campaign_prospect_step_leased
	ON drip.email_campaign_prospect_step (lease_until)
	WHERE status IN ('claimed', 'sending');
CREATE INDEX email_campaign_prospect_step_campaign
	ON drip.email_campaign_prospect_step (campaign_id, status);

CREATE TABLE drip.email_message_metadata (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	customer_id		drip.customer NOT NULL,
	campaign_id		bigint NOT NULL,
	prospect_id		bigint NOT NULL,
	step_id			bigint NOT NULL UNIQUE,
	identity_id		bigint NOT NULL,
	graph_message_id	text NOT NULL,		-- immutable id of the draft
	internet_message_id	text,
	conversation_id		text,
	created_at		timestamptz NOT NULL DEFAULT now(),
	sent_at			timestamptz,
	FOREIGN KEY (customer_id, step_id)
		REFERENCES drip.email_campaign_prospect_step (customer_id, id) ON DELETE CASCADE,
	FOREIGN KEY (customer_id, campaign_id, prospect_id)
		REFERENCES drip.email_campaign_prospect (customer_id, campaign_id, id)
		ON DELETE CASCADE,
	FOREIGN KEY (customer_id, identity_id)
		REFERENCES drip.email_identity (customer_id, id)
);
CREATE INDEX email_message_metadata_conversation
	ON drip.email_message_metadata (identity_id, conversation_id);
CREATE INDEX email_message_metadata_internet_id
	ON drip.email_message_metadata (identity_id, internet_message_id);
CREATE INDEX email_message_metadata_prospect
	ON drip.email_message_metadata (prospect_id);

CREATE TABLE drip.email_event (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	customer_id		drip.customer NOT NULL,
	type			text NOT NULL CHECK (type IN ('sent', 'failed', 'bounced',
				    'suppressed', 'deferred', 'replied', 'unsubscribed')),
	campaign_id		bigint,
	prospect_id		bigint,
	step_id			bigint,
	identity_id		bigint,
	reason			text,
	detail			jsonb,
	graph_message_id	text,
	internet_message_id	text,
	-- the inbound message (reply, report) an inbox-sync event came from
	inbound_message_id	text,
	created_at		timestamptz NOT NULL DEFAULT now(),
	FOREIGN KEY (customer_id, campaign_id)
		REFERENCES drip.email_campaign (customer_id, id) ON DELETE CASCADE,
	FOREIGN KEY (customer_id, campaign_id, prospect_id)
		REFERENCES drip.email_campaign_prospect (customer_id, campaign_id, id)
		ON DELETE CASCADE,
	FOREIGN KEY (customer_id, step_id)
		REFERENCES drip.email_campaign_prospect_step (customer_id, id) ON DELETE CASCADE,
	FOREIGN KEY (customer_id, identity_id)
		REFERENCES drip.email_identity (customer_id, id)
);
CREATE INDEX email_event_customer ON drip.email_event (customer_id, id);
CREATE INDEX email_event_campaign ON drip.email_event (campaign_id, id);
CREATE INDEX email_event_step ON drip.email_event (step_id);
-- each inbound message is recorded once per mailbox, however often it is read
CREATE UNIQUE INDEX email_event_inbound
	ON drip.email_event (identity_id, inbound_message_id)
	WHERE inbound_message_id IS NOT NULL;

-- events --follow listens here; the payload is the new row's id.
CREATE FUNCTION drip.notify_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('drip_event', NEW.id::text);
	RETURN NULL;
END $$;
CREATE TRIGGER email_event_notify AFTER INSERT ON drip.email_event
	FOR EACH ROW EXECUTE FUNCTION drip.notify_event();

CREATE TABLE drip.suppression_entry (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	customer_id		drip.customer NOT NULL,
	-- a lower-case address, or a lower-case domain that covers its subdomains
	value			text NOT NULL CHECK (value <> '' AND value = lower(value)
				    AND length(value) <= 254),
	kind			text NOT NULL CHECK (kind IN ('address', 'domain')),
	reason			text NOT NULL DEFAULT 'manual'
				CHECK (reason <> '' AND length(reason) <= 200),
	source			text NOT NULL DEFAULT 'suppress'
				CHECK (source <> '' AND length(source) <= 200),
	created_at		timestamptz NOT NULL DEFAULT now(),
	CHECK ((kind = 'address') = (strpos(value, '@') > 0)),
	UNIQUE (customer_id, value)
);

-- The keys under which an address can be suppressed: itself and each
-- suffix of its domain (a.b.example.com, b.example.com, example.com, com).
-- "Is it suppressed" is then one probe of the (customer_id, value) index
-- per key, as cheap with a million entries as with ten.
CREATE FUNCTION drip.suppression_keys(address text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT lower(address) || coalesce(array_agg(array_to_string(l[i:], '.') ORDER BY i), '{}')
	FROM (SELECT string_to_array(lower(split_part(address, '@', 2)), '.') AS l) d
	LEFT JOIN LATERAL generate_subscripts(d.l, 1) AS i ON true
	WHERE split_part(address, '@', 2) <> ''
$$;

-- The entry that suppresses address for customer, if any (the address
-- itself first, then the most specific domain).
CREATE FUNCTION drip.suppressed_by(customer text, address text) RETURNS bigint
LANGUAGE sql STABLE STRICT AS $$
	SELECT s.id FROM drip.suppression_entry s
	WHERE s.customer_id = customer AND s.value = ANY (drip.suppression_keys(address))
	ORDER BY s.kind = 'domain', length(s.value) DESC
	LIMIT 1
$$;

CREATE TRIGGER touch BEFORE UPDATE ON drip.email_identity
	FOR EACH ROW EXECUTE FUNCTION drip.touch();
CREATE TRIGGER touch BEFORE UPDATE ON drip.email_campaign
	FOR EACH ROW EXECUTE FUNCTION drip.touch();
CREATE TRIGGER touch BEFORE UPDATE ON drip.email_campaign_template
	FOR EACH ROW EXECUTE FUNCTION drip.touch();
CREATE TRIGGER touch BEFORE UPDATE ON drip.email_campaign_prospect
	FOR EACH ROW EXECUTE FUNCTION drip.touch();
CREATE TRIGGER touch BEFORE UPDATE ON drip.email_campaign_prospect_step
	FOR EACH ROW EXECUTE FUNCTION drip.touch();
