/*
 * suppress.c: a customer's suppression list.
 *
 * An entry is a lower-case address or a domain, which covers its
 * subdomains too. Whether an address is suppressed is answered by
 * drip.suppressed_by() (001_init.sql): one probe of the (customer_id,
 * value) index per key of the address, so a million entries cost what ten
 * do, and an entry of one customer never answers for another.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "drip.h"

int
suppress_value(const char *in, char out[EMAIL_MAX + 1], const char **kind,
    const char **why)
{
	const char *at = strchr(in, '@');

	if (at != NULL && at != in) {
		if (email_normalize(in, out, why) == -1)
			return -1;
		str_lower(out);		/* entries compare case-insensitively */
		*kind = "address";
	} else {
		if (domain_normalize(in, out, why) == -1)
			return -1;
		*kind = "domain";
	}
	return 0;
}

static long long
id_of(const PGresult *r, int row)
{
	const char *errstr;

	return strtonum(PQgetvalue(r, row, 0), 1, LLONG_MAX, &errstr);
}

/*
 * The keys an address is suppressed under, as a PostgreSQL array literal:
 * the address, lower-cased, and each suffix of its domain, exactly as
 * drip.suppression_keys() makes them ("a@x.example.com" gives
 * {"a@x.example.com","x.example.com","example.com","com"}). Made here,
 * they travel as a parameter and the lookup is a plain index probe; SQL's
 * function would be planned anew on every call. A domain of many short
 * labels has many suffixes: 127 one-letter labels make some 16 KB.
 */
int
suppress_keys(const char *addr, char *out, size_t len)
{
	char low[EMAIL_MAX + 1];
	const char *d;
	size_t n = 0, k;

	if (strlcpy(low, addr, sizeof(low)) >= sizeof(low))
		return -1;
	str_lower(low);
	if ((d = strrchr(low, '@')) == NULL || d[1] == '\0')
		return -1;
	d++;
	out[n++] = '{';
	for (k = 0; k == 0 || d != NULL; k++) {
		const char *key = k == 0 ? low : d;
		size_t kl = strlen(key);

		/* Valid addresses hold no '"' or '\\': quoting is enough. */
		if (strpbrk(key, "\"\\") != NULL || n + kl + 4 > len)
			return -1;
		if (k > 0)
			out[n++] = ',';
		out[n++] = '"';
		memcpy(out + n, key, kl);
		n += kl;
		out[n++] = '"';
		if (k > 0)
			d = strchr(d, '.') != NULL ? strchr(d, '.') + 1 : NULL;
	}
	out[n++] = '}';
	out[n] = '\0';
	return 0;
}

/*
 * drip.suppressed_by(customer, addr) with the keys made in C: the entry
 * for the address itself first, then the most specific domain.
 */
int
suppress_lookup(struct derr *e, PGconn *c, const char *customer,
    const char *addr, long long *entry_id)
{
	char keys[SUPPRESS_KEYS_MAX];
	const char *p[2] = { customer, keys };
	PGresult *r;
	int hit;

	if (suppress_keys(addr, keys, sizeof(keys)) == -1)
		return derr_set(e, EX_DATAERR, "suppress '%s': not an address", addr);
	r = db_exec(e, c, "SELECT s.id FROM drip.suppression_entry s"
	    " WHERE s.customer_id = $1 AND s.value = ANY (($2)::text[])"
	    " ORDER BY s.kind = 'domain', length(s.value) DESC LIMIT 1", 2, p);
	if (r == NULL)
		return -1;
	hit = PQntuples(r) > 0;
	if (entry_id != NULL)
		*entry_id = hit ? id_of(r, 0) : 0;
	PQclear(r);
	return hit;
}

int
suppress_add(struct derr *e, PGconn *c, const char *customer,
    const char *value, const char *reason, const char *source,
    long long *entry_id)
{
	char norm[EMAIL_MAX + 1];
	const char *kind, *why, *p[5];
	PGresult *r;
	int added;

	if (suppress_value(value, norm, &kind, &why) == -1)
		return derr_set(e, EX_DATAERR, "suppress '%s': %s", value, why);
	p[0] = customer, p[1] = norm, p[2] = kind, p[3] = reason, p[4] = source;
	/*
	 * An entry that is already there is kept as it is. If another
	 * transaction adds it meanwhile, ON CONFLICT waits for it and the
	 * statement's snapshot may not show it: the second query then does.
	 */
	r = db_exec(e, c,
	    "WITH ins AS (INSERT INTO drip.suppression_entry"
	    " (customer_id, value, kind, reason, source)"
	    " VALUES ($1, $2, $3, coalesce($4, 'manual'), coalesce($5, 'suppress'))"
	    " ON CONFLICT (customer_id, value) DO NOTHING RETURNING id)"
	    " SELECT id, true FROM ins UNION ALL"
	    " SELECT id, false FROM drip.suppression_entry"
	    " WHERE customer_id = $1 AND value = $2", 5, p);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		r = db_exec(e, c, "SELECT id, false FROM drip.suppression_entry"
		    " WHERE customer_id = $1 AND value = $2", 2, p);
		if (r == NULL)
			return -1;
		if (PQntuples(r) == 0) {
			PQclear(r);
			return derr_set(e, EX_TEMPFAIL,
			    "suppress '%s': removed while being added", value);
		}
	}
	added = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	if (entry_id != NULL)
		*entry_id = id_of(r, 0);
	PQclear(r);
	return added;
}

int
suppress_remove(struct derr *e, PGconn *c, const char *customer,
    const char *value, long long *entry_id)
{
	char norm[EMAIL_MAX + 1];
	const char *kind, *why, *p[2];
	PGresult *r;
	int removed;

	if (suppress_value(value, norm, &kind, &why) == -1)
		return derr_set(e, EX_DATAERR, "suppress '%s': %s", value, why);
	p[0] = customer, p[1] = norm;
	r = db_exec(e, c, "DELETE FROM drip.suppression_entry"
	    " WHERE customer_id = $1 AND value = $2 RETURNING id", 2, p);
	if (r == NULL)
		return -1;
	removed = PQntuples(r) > 0;
	if (entry_id != NULL)
		*entry_id = removed ? id_of(r, 0) : 0;
	PQclear(r);
	return removed;
}
