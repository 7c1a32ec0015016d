/*
 * import.c: prospects into a campaign, streamed and set-wise.
 *
 * Everything happens in one transaction. Valid rows, already checked by
 * the caller, stream with COPY into a temporary staging table; then a few
 * statements do the rest for all rows at once: update the prospects the
 * campaign already has (--update), insert the new ones (the first of each
 * address wins, the unique index on (campaign_id, lower(email)) turns the
 * others away), mark suppressed addresses, and schedule step 1 in a
 * running campaign. Nothing is visible to anyone until the caller commits;
 * a killed import leaves the campaign as it was.
 *
 * Into a campaign with no prospects yet (and without --update) rows first
 * go by COPY straight into the prospect table: the bulk load PostgreSQL
 * does fastest. A Bloom filter of the addresses sent so far (16 MiB,
 * whatever the input) tells when a row may repeat one; from that row on
 * the import takes the staging path, and the unique index keeps the rows
 * already in. If the customer has suppression entries, they are read
 * into a second Bloom filter first, and the address and keys of each
 * direct row that may be suppressed are spooled to a temporary file and
 * joined with the entries at the end.
 *
 * The campaign row is locked FOR NO KEY UPDATE for the whole import: two
 * imports into one campaign take turns (so their counts are exact), and a
 * status change cannot slip in between our check and our scheduling;
 * sending, which only references the campaign, is not held up.
 */
#include <sys/mman.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drip.h"

/*
 * 16 MiB, 7 bits an address: with a million addresses a false alarm (it
 * costs speed only) comes once in some 10^3 imports.
 */
#define BLOOM_BITS	(1UL << 27)
#define BLOOM_K		7

struct importer {
	PGconn		*conn;
	struct copyw	*copy;		/* the COPY under way */
	char		 campaign[24];
	char		*customer;
	int		 running;
	int		 update;
	int		 keys;		/* the customer has suppression entries */
	int		 cancelled;
	int		 direct;	/* rows go straight into the table */
	unsigned char	*bloom;		/* addresses sent directly */
	FILE		*spool;		/* direct rows' addresses and keys */
	unsigned char	*entries;	/* Bloom filter of the customer's entries */
	long long	 direct_rows;
	int		 fresh;		/* the campaign has no prospects */
};

static const char direct_sql[] =
    "COPY drip.email_campaign_prospect (customer_id, campaign_id, email,"
    " first_name, last_name, company, title, timezone, fields) FROM STDIN";

static const char stage_sql[] =
    "CREATE TEMP TABLE drip_import ("
    " line bigint NOT NULL, email text NOT NULL, first_name text,"
    " last_name text, company text, title text, timezone text, fields jsonb,"
    " keys text[]) ON COMMIT DROP";

static const char copy_sql[] =
    "COPY pg_temp.drip_import (line, email, first_name, last_name, company,"
    " title, timezone, fields, keys) FROM STDIN";

static int
lock_campaign(struct derr *e, struct importer *im, long long id)
{
	const char *p[1] = { im->campaign };
	PGresult *r;
	const char *status;

	snprintf(im->campaign, sizeof(im->campaign), "%lld", id);
	r = db_exec(e, im->conn,
	    "SELECT customer_id, status,"
	    " EXISTS (SELECT 1 FROM drip.suppression_entry s"
	    "  WHERE s.customer_id = c.customer_id),"
	    " NOT EXISTS (SELECT 1 FROM drip.email_campaign_prospect p"
	    "  WHERE p.campaign_id = c.id)"
	    " FROM drip.email_campaign c WHERE id = $1 FOR NO KEY UPDATE", 1, p);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return derr_set(e, EX_NOINPUT, "campaign %lld: no such campaign", id);
	}
	status = PQgetvalue(r, 0, 1);
	if (strcmp(status, "archived") == 0) {
		PQclear(r);
		return derr_set(e, EX_DATAERR, "campaign %lld: archived", id);
	}
	im->running = strcmp(status, "running") == 0;
	im->keys = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	im->fresh = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
	im->customer = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (im->customer == NULL)
		return derr_set(e, EX_OSERR, "out of memory");
	return 0;
}

static int
stage_begin(struct derr *e, struct importer *im)
{
	if (db_cmd(e, im->conn, stage_sql, 0, NULL) == -1 ||
	    (im->copy = copyw_start(e, im->conn, copy_sql)) == NULL)
		return -1;
	return 0;
}

/* An unnamed temporary file in $TMPDIR (tmpfile(3) ignores TMPDIR). */
static FILE *
spool_open(struct derr *e)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	FILE *f;
	int fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if ((size_t)snprintf(path, sizeof(path), "%s/drip-import.XXXXXX", dir) >= sizeof(path)) {
		derr_set(e, EX_CANTCREAT, "spool: TMPDIR too long");
		return NULL;
	}
	if ((fd = mkstemp(path)) == -1) {
		derr_set(e, EX_CANTCREAT, "spool in %s: %s", dir, strerror(errno));
		return NULL;
	}
	unlink(path);
	if ((f = fdopen(fd, "w+")) == NULL) {
		derr_set(e, EX_OSERR, "spool: %s", strerror(errno));
		close(fd);
	}
	return f;
}

/*
 * The filter in huge pages where the system has them: each row looks at
 * a random place in 16 MiB, and with 4 KiB pages that is a TLB miss as
 * well as a cache miss (it was a third of the client's time per row).
 * Zero pages are mapped as they are first touched, as with calloc.
 */
#define HUGE_PAGE	(2UL * 1024 * 1024)

static unsigned char *
bloom_new(void)
{
	size_t len = BLOOM_BITS / 8 + HUGE_PAGE;
	unsigned char *m, *p;
	uintptr_t a;

	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	/* Give back what lies around the aligned filter. */
	a = ((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
	p = (unsigned char *)a;
	if (p > m)
		munmap(m, (size_t)(p - m));
	if (p + BLOOM_BITS / 8 < m + len)
		munmap(p + BLOOM_BITS / 8, (size_t)(m + len - (p + BLOOM_BITS / 8)));
#ifdef MADV_HUGEPAGE
	(void)madvise(p, BLOOM_BITS / 8, MADV_HUGEPAGE);	/* a hint only */
#endif
	return p;
}

static void
bloom_free(unsigned char *bloom)
{
	if (bloom != NULL)
		munmap(bloom, BLOOM_BITS / 8);
}

static int load_entries(struct derr *, struct importer *);

static int
direct_begin(struct derr *e, struct importer *im)
{
	if ((im->bloom = bloom_new()) == NULL)
		return derr_set(e, EX_OSERR, "out of memory");
	if (im->keys && ((im->spool = spool_open(e)) == NULL ||
	    load_entries(e, im) == -1))
		return -1;
	if ((im->copy = copyw_start(e, im->conn, direct_sql)) == NULL)
		return -1;
	im->direct = 1;
	return 0;
}

struct importer *
import_begin(struct derr *e, PGconn *c, long long campaign_id, int update)
{
	struct importer *im;

	if ((im = calloc(1, sizeof(*im))) == NULL) {
		derr_set(e, EX_OSERR, "out of memory");
		return NULL;
	}
	im->conn = c;
	im->update = update;
	if (db_begin(e, c) == -1)
		goto fail;
	/* Sorts and hashes of up to about a million staged rows stay in memory. */
	if (lock_campaign(e, im, campaign_id) == -1 ||
	    db_cmd(e, c, "SET LOCAL work_mem = '256MB'", 0, NULL) == -1)
		goto fail;
	if (im->fresh && !update ? direct_begin(e, im) : stage_begin(e, im))
		goto fail;
	return im;
fail:
	db_rollback(c);
	import_free(im);
	return NULL;
}

const char *
import_customer(const struct importer *im)
{
	return im->customer;
}

/* splitmix64's finalizer: every bit of z moves every bit of the result. */
static uint64_t
mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * Two independent hashes of s: h2 for the bits within a block, h1 for
 * the block. 64-bit FNV-1a alone will not do for h1: its low bits are
 * poorly spread over similar strings (addresses that differ in a number),
 * which crowded some blocks and made a filter of a million entries answer
 * "maybe" for one address in twenty instead of one in a thousand.
 */
static void
hash2(const char *s, uint64_t *h1, uint64_t *h2)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	*h2 = mix64(h);
	*h1 = mix64(*h2);
}

/*
 * A blocked filter: all bits of one address lie in one 64-byte block, so
 * a row costs one cache miss, not seven. bloom_block() finds the block
 * (and asks the CPU to fetch it), bloom_seen() looks at it later.
 */
static unsigned char *
bloom_block(unsigned char *bloom, const char *addr, uint64_t *h2)
{
	unsigned char *block;
	uint64_t h1;

	hash2(addr, &h1, h2);
	block = bloom + (h1 % (BLOOM_BITS / 512)) * 64;
	__builtin_prefetch(block, 1);
	return block;
}

/* 1 if every bit of h2 in the block was set; with set, they are now. */
static int
bloom_test(unsigned char *block, uint64_t h2, int set)
{
	unsigned bit;
	int i, all = 1;

	for (i = 0; i < BLOOM_K; i++) {
		bit = (unsigned)((h2 >> (9 * i)) & 511);
		if (!(block[bit / 8] & (1U << (bit % 8)))) {
			all = 0;
			if (!set)
				break;
			block[bit / 8] |= (unsigned char)(1U << (bit % 8));
		}
	}
	return all;
}

/* 1 if the address may have been sent already; else remember it. */
static int
bloom_seen(unsigned char *block, uint64_t h2)
{
	return bloom_test(block, h2, 1);
}

static int add_staged(struct derr *, struct importer *, long,
    const struct prospect *, const char *);

/*
 * The customer's suppression entries in a Bloom filter (2 MiB whatever
 * their number: 16 bits an entry for a million), so that of the rows that
 * go in directly only those whose address or domain may be suppressed are
 * spooled and joined with the entries at the end: a million rows make a
 * join of a few thousand, through the (customer_id, value) index, instead
 * of a hash join of three million keys with every entry.
 */
#define ENTRIES_BITS	(1UL << 24)

static unsigned char *
entries_block(unsigned char *f, const char *value, uint64_t *h2)
{
	uint64_t h1;

	hash2(value, &h1, h2);
	return f + (h1 % (ENTRIES_BITS / 512)) * 64;
}

static int
entries_may_have(unsigned char *f, const char *value)
{
	unsigned char *block;
	uint64_t h2;

	block = entries_block(f, value, &h2);
	return bloom_test(block, h2, 0);
}

static void
entries_add(unsigned char *f, const char *value)
{
	unsigned char *block;
	uint64_t h2;

	block = entries_block(f, value, &h2);
	(void)bloom_test(block, h2, 1);
}

/* COPY TO takes no parameters: the customer goes as a setting of this transaction. */
static int
load_entries(struct derr *e, struct importer *im)
{
	const char *p[1] = { im->customer };
	PGresult *r;
	char *row;
	int n, rc = 0;

	if ((im->entries = calloc(1, ENTRIES_BITS / 8)) == NULL)
		return derr_set(e, EX_OSERR, "out of memory");
	if ((r = db_exec(e, im->conn,
	    "SELECT set_config('drip.import_customer', $1, true)", 1, p)) == NULL)
		return -1;
	PQclear(r);
	r = PQexecParams(im->conn, "COPY (SELECT value FROM drip.suppression_entry"
	    " WHERE customer_id = current_setting('drip.import_customer')) TO STDOUT",
	    0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		db_error(e, im->conn, r, "suppression entries");
		PQclear(r);
		return -1;
	}
	PQclear(r);
	/* A row is the value and a newline; values hold no tab or '\\'. */
	while ((n = PQgetCopyData(im->conn, &row, 0)) > 0) {
		if (row[n - 1] == '\n')
			row[n - 1] = '\0';	/* PQgetCopyData() ends it with a NUL too */
		entries_add(im->entries, row);
		PQfreemem(row);
	}
	if (n == -2)
		rc = db_error(e, im->conn, NULL, "suppression entries");
	while ((r = PQgetResult(im->conn)) != NULL) {
		if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = db_error(e, im->conn, r, "suppression entries");
		PQclear(r);
	}
	return rc;
}

/* The address (lower-case), its domain or a parent domain may be suppressed. */
static int
may_be_suppressed(unsigned char *entries, const char *lower)
{
	const char *d = strrchr(lower, '@');

	if (entries_may_have(entries, lower))
		return 1;
	for (d = d != NULL ? d + 1 : NULL; d != NULL;
	    d = strchr(d, '.') != NULL ? strchr(d, '.') + 1 : NULL)
		if (entries_may_have(entries, d))
			return 1;
	return 0;
}

/* A row may repeat an earlier one: the rest goes through the staging table. */
static int
leave_direct(struct derr *e, struct importer *im)
{
	struct copyw *w = im->copy;

	im->copy = NULL;
	im->direct = 0;
	bloom_free(im->bloom);
	im->bloom = NULL;
	if (copyw_end(e, w, &im->direct_rows) == -1)
		return -1;
	return stage_begin(e, im);
}

static int
copy_direct(struct derr *e, struct importer *im, const struct prospect *p,
    const char *fields)
{
	struct copyw *w = im->copy;

	if (copyw_str(e, w, im->customer) == -1 ||
	    copyw_str(e, w, im->campaign) == -1 ||
	    copyw_str(e, w, p->email) == -1 ||
	    copyw_str(e, w, p->first_name) == -1 ||
	    copyw_str(e, w, p->last_name) == -1 ||
	    copyw_str(e, w, p->company) == -1 ||
	    copyw_str(e, w, p->title) == -1 ||
	    copyw_str(e, w, p->timezone) == -1 ||
	    copyw_str(e, w, fields != NULL ? fields : "{}") == -1)
		return -1;
	return copyw_row(e, w);
}

static int
spool_direct(struct derr *e, struct importer *im, const struct prospect *p,
    const char *lower)
{
	char keys[SUPPRESS_KEYS_MAX];

	if (im->spool == NULL || !may_be_suppressed(im->entries, lower))
		return 0;
	/* COPY text for drip_import_keys: neither holds a tab, newline or '\\'. */
	if (suppress_keys(lower, keys, sizeof(keys)) == -1)
		return derr_set(e, EX_SOFTWARE, "%s: cannot make keys", p->email);
	if (fprintf(im->spool, "%s\t%s\n", lower, keys) < 0)
		return derr_set(e, EX_IOERR, "spool: %s", strerror(errno));
	return 0;
}

/* The most COPY text a direct row can take: every byte escaped. */
static size_t
direct_size(const struct importer *im, const struct prospect *p,
    const char *fields)
{
	const char *s[] = { im->customer, im->campaign, p->email, p->first_name,
	    p->last_name, p->company, p->title, p->timezone, fields };
	size_t i, n = 1;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		n += 3 + (s[i] != NULL ? 2 * strlen(s[i]) : 0);
	return n;
}

/*
 * A row while rows still go straight into the table. Its filter block
 * comes from memory while the row is written (a cache miss otherwise
 * waited for, on every row); in the rare case that its address may have
 * come before, the row is taken back and goes to the staging table.
 */
static int
add_direct(struct derr *e, struct importer *im, long line,
    const struct prospect *p, const char *fields)
{
	char lower[EMAIL_MAX + 1];
	unsigned char *block;
	uint64_t h2;
	size_t mark;
	int rc;

	strlcpy(lower, p->email, sizeof(lower));
	str_lower(lower);
	block = bloom_block(im->bloom, lower, &h2);
	if ((rc = copyw_reserve(e, im->copy, direct_size(im, p, fields), &mark)) == -1)
		return -1;
	if (rc == 1) {
		/* too long to take back: look first */
		if (!bloom_seen(block, h2))
			return copy_direct(e, im, p, fields) == -1 ? -1 :
			    spool_direct(e, im, p, lower);
	} else {
		if (copy_direct(e, im, p, fields) == -1)
			return -1;
		if (!bloom_seen(block, h2))
			return spool_direct(e, im, p, lower);
		copyw_undo(im->copy, mark);
	}
	if (leave_direct(e, im) == -1)
		return -1;
	return add_staged(e, im, line, p, fields);
}

static int
add_staged(struct derr *e, struct importer *im, long line,
    const struct prospect *p, const char *fields)
{
	struct copyw *w = im->copy;
	char keys[SUPPRESS_KEYS_MAX];

	if (copyw_int(e, w, line) == -1 ||
	    copyw_str(e, w, p->email) == -1 ||
	    copyw_str(e, w, p->first_name) == -1 ||
	    copyw_str(e, w, p->last_name) == -1 ||
	    copyw_str(e, w, p->company) == -1 ||
	    copyw_str(e, w, p->title) == -1 ||
	    copyw_str(e, w, p->timezone) == -1 ||
	    copyw_str(e, w, fields) == -1)
		return -1;
	if (im->keys) {
		if (suppress_keys(p->email, keys, sizeof(keys)) == -1)
			return derr_set(e, EX_SOFTWARE, "line %ld: cannot make keys", line);
		if (copyw_str(e, w, keys) == -1)
			return -1;
	} else if (copyw_null(e, w) == -1)
		return -1;
	return copyw_row(e, w);
}

int
import_add(struct derr *e, struct importer *im, long line,
    const struct prospect *p)
{
	const char *fields = NULL;

	if (im->cancelled)
		return 0;	/* rows are only being checked */
	if (p->fields_json != NULL)
		fields = p->fields_json;
	else if (p->fields != NULL && json_object_object_length(p->fields) > 0)
		fields = json_object_to_json_string_ext(p->fields,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	return im->direct ? add_direct(e, im, line, p, fields) :
	    add_staged(e, im, line, p, fields);
}

/* Stop sending rows: the import will not be committed. */
void
import_cancel(struct importer *im)
{
	copyw_abort(im->copy, "import cancelled");
	im->copy = NULL;
	im->cancelled = 1;
}

static int
count2(struct derr *e, PGconn *c, const char *sql, int n, const char *const *p,
    long long *a, long long *b)
{
	PGresult *r;
	const char *errstr;

	if ((r = db_exec(e, c, sql, n, p)) == NULL)
		return -1;
	*a = strtonum(PQgetvalue(r, 0, 0), 0, LLONG_MAX, &errstr);
	if (b != NULL)
		*b = strtonum(PQgetvalue(r, 0, 1), 0, LLONG_MAX, &errstr);
	PQclear(r);
	return 0;
}

/*
 * With --update, a prospect the campaign has gets the values of the first
 * row with its address; one whose values are the same is left alone (and
 * counted as a duplicate), so re-running an import changes nothing.
 */
static const char update_sql[] =
    "WITH s AS (SELECT DISTINCT ON (lower(email)) * FROM pg_temp.drip_import"
    " ORDER BY lower(email), line),"
    " u AS (UPDATE drip.email_campaign_prospect p SET"
    " first_name = s.first_name, last_name = s.last_name,"
    " company = s.company, title = s.title, timezone = s.timezone,"
    " fields = coalesce(s.fields, '{}')"
    " FROM s WHERE p.campaign_id = $1 AND lower(p.email) = lower(s.email)"
    " AND (p.first_name, p.last_name, p.company, p.title, p.timezone, p.fields)"
    " IS DISTINCT FROM"
    " (s.first_name, s.last_name, s.company, s.title, s.timezone,"
    " coalesce(s.fields, '{}'))"
    " RETURNING 1)"
    " SELECT count(*) FROM u";

/*
 * Rows go in input order, so of several rows with one address the first
 * is the one kept; the others, and addresses the campaign already has,
 * meet the unique index and are counted as duplicates. Input order needs
 * no ORDER BY (a sort of every row): the staging table was filled by one
 * COPY in this transaction and never changed, and a scan of a temporary
 * table reads its pages in order (no synchronized or parallel scans).
 */
#define INSERT_SQL(status, from) \
    "INSERT INTO drip.email_campaign_prospect AS p" \
    " (customer_id, campaign_id, email, first_name, last_name, company," \
    " title, timezone, fields, status)" \
    " SELECT ($2)::text, ($1)::bigint, s.email, s.first_name, s.last_name," \
    " s.company, s.title, s.timezone, coalesce(s.fields, '{}'), " status \
    " FROM " from \
    " ON CONFLICT (campaign_id, lower(email)) DO NOTHING"

/* The customer has no suppression entries: every new prospect is active. */
static const char insert_sql[] = INSERT_SQL("'active'", "pg_temp.drip_import s");

/*
 * Each prospect stored suppressed gets its event 'suppressed' (no step):
 * events(1) then says why it was never mailed. $1 campaign, $2 customer.
 */
#define IMPORT_SUPPRESSED_EVENTS_SQL(from) \
    SUPPRESSED_EVENTS_SQL("($2)::text", "($1)::bigint", from)

/*
 * Which rows are suppressed is one join of every row's keys with the
 * customer's entries (a hash join when both are large, index probes when
 * the import is small), not a probe per row. A join may return rows in
 * any order, so here input order is asked for (an in-memory sort).
 */
static const char insert_suppressed_sql[] =
    "WITH sup AS MATERIALIZED (SELECT DISTINCT s.line"
    " FROM pg_temp.drip_import s CROSS JOIN LATERAL unnest(s.keys) AS k(key)"
    " JOIN drip.suppression_entry e ON e.customer_id = ($2)::text"
    " AND e.value = k.key),"
    " ins AS (" INSERT_SQL(
    "CASE WHEN sup.line IS NULL THEN 'active' ELSE 'suppressed' END",
    "pg_temp.drip_import s LEFT JOIN sup ON sup.line = s.line ORDER BY s.line")
    " RETURNING p.id, p.status),"
    " ev AS (" IMPORT_SUPPRESSED_EVENTS_SQL("ins WHERE status = 'suppressed'") ")"
    " SELECT count(*), count(*) FILTER (WHERE status = 'suppressed') FROM ins";

static int
insert_rows(struct derr *e, struct importer *im, const char *const *p,
    struct import_counts *n)
{
	PGresult *r;
	const char *errstr;

	if (im->keys)
		return count2(e, im->conn, insert_suppressed_sql, 2, p,
		    &n->inserted, &n->suppressed);
	if ((r = db_exec(e, im->conn, insert_sql, 2, p)) == NULL)
		return -1;
	n->inserted = strtonum(PQcmdTuples(r), 0, LLONG_MAX, &errstr);
	PQclear(r);
	return 0;
}

/*
 * The rows that went in directly are active; those whose address or
 * domain the customer suppresses become suppressed, by one join of their
 * spooled keys with the entries.
 */
static const char direct_suppress_sql[] =
    "WITH sup AS (SELECT DISTINCT k.email"
    " FROM pg_temp.drip_import_keys k CROSS JOIN LATERAL unnest(k.keys) AS u(key)"
    " JOIN drip.suppression_entry e ON e.customer_id = ($2)::text"
    " AND e.value = u.key),"
    " u AS (UPDATE drip.email_campaign_prospect p SET status = 'suppressed'"
    " FROM sup WHERE p.campaign_id = ($1)::bigint AND lower(p.email) = sup.email"
    " AND p.status = 'active' RETURNING p.id),"
    " ev AS (" IMPORT_SUPPRESSED_EVENTS_SQL("u") ")"
    " SELECT count(*) FROM u";

static int
suppress_direct(struct derr *e, struct importer *im, const char *const *p,
    long long *n)
{
	struct copyw *w;
	char buf[65536];
	size_t len;

	if (fflush(im->spool) == EOF || fseek(im->spool, 0, SEEK_SET) == -1)
		return derr_set(e, EX_IOERR, "spool: %s", strerror(errno));
	if (db_cmd(e, im->conn, "CREATE TEMP TABLE drip_import_keys"
	    " (email text NOT NULL, keys text[] NOT NULL) ON COMMIT DROP", 0, NULL) == -1 ||
	    (w = copyw_start(e, im->conn, "COPY pg_temp.drip_import_keys FROM STDIN")) == NULL)
		return -1;
	while ((len = fread(buf, 1, sizeof(buf), im->spool)) > 0)
		if (copyw_raw(e, w, buf, len) == -1) {
			copyw_abort(w, "spool");
			return -1;
		}
	if (ferror(im->spool)) {
		copyw_abort(w, "spool");
		return derr_set(e, EX_IOERR, "spool: %s", strerror(errno));
	}
	if (copyw_end(e, w, NULL) == -1)
		return -1;
	return count2(e, im->conn, direct_suppress_sql, 2, p, n, NULL);
}

int
import_finish(struct derr *e, struct importer *im, time_t now,
    struct import_counts *n)
{
	const char *p[2] = { im->campaign, im->customer };
	long long rows = 0, staged, scheduled, suppressed;
	struct copyw *w = im->copy;

	im->copy = NULL;
	if (w == NULL)
		return derr_set(e, EX_SOFTWARE, "import: finished after cancel");
	if (copyw_end(e, w, &rows) == -1)
		return -1;
	if (im->direct)
		im->direct_rows = rows;
	staged = im->direct ? 0 : rows;
	n->updated = n->inserted = n->suppressed = n->scheduled = 0;
	if (staged > 0 && im->update &&
	    count2(e, im->conn, update_sql, 1, p, &n->updated, NULL) == -1)
		return -1;
	if (staged > 0 && insert_rows(e, im, p, n) == -1)
		return -1;
	n->duplicates = staged - n->inserted - n->updated;
	n->inserted += im->direct_rows;
	if (im->spool != NULL && im->direct_rows > 0) {
		if (suppress_direct(e, im, p, &suppressed) == -1)
			return -1;
		n->suppressed += suppressed;
	}
	if (im->running && n->inserted > n->suppressed) {
		if (schedule_first_steps(e, im->conn, im->campaign, now, &scheduled) == -1)
			return -1;
		n->scheduled = scheduled;
	}
	return 0;
}

void
import_free(struct importer *im)
{
	if (im == NULL)
		return;
	copyw_abort(im->copy, "import abandoned");
	bloom_free(im->bloom);
	if (im->spool != NULL)
		fclose(im->spool);
	free(im->entries);
	free(im->customer);
	free(im);
}
