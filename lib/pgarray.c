/*
 * pgarray.c: PostgreSQL array literals, so a batch of values travels as one
 * text parameter ('{1,2,3}', '{"a","b\"c",NULL}') instead of one statement
 * per row.
 */
#include <stdlib.h>
#include <string.h>

#include "drip.h"

struct buf {
	char	*s;
	size_t	 len, cap;
	int	 oom;
};

static void
put(struct buf *b, const char *s, size_t n)
{
	char *p;
	size_t cap;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->s, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static char *
finish(struct buf *b)
{
	put(b, "}", 1);
	if (b->oom) {
		free(b->s);
		return NULL;
	}
	return b->s;
}

char *
pgarray_ids(const long long *v, size_t n)
{
	struct buf b = { 0 };
	char num[32];
	size_t i;

	put(&b, "{", 1);
	for (i = 0; i < n; i++) {
		int len = snprintf(num, sizeof(num), "%s%lld", i ? "," : "", v[i]);

		put(&b, num, (size_t)len);
	}
	return finish(&b);
}

/* NULL elements become SQL NULLs; others are quoted and escaped. */
char *
pgarray_text(const char *const *v, size_t n)
{
	struct buf b = { 0 };
	const char *p;
	size_t i;

	put(&b, "{", 1);
	for (i = 0; i < n; i++) {
		if (i)
			put(&b, ",", 1);
		if (v[i] == NULL) {
			put(&b, "NULL", 4);
			continue;
		}
		put(&b, "\"", 1);
		for (p = v[i]; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				put(&b, "\\", 1);
			put(&b, p, 1);
		}
		put(&b, "\"", 1);
	}
	return finish(&b);
}

char *
pgarray_times(const time_t *v, size_t n)
{
	char (*tmp)[RFC3339_LEN];
	const char **ptr;
	char *s = NULL;
	size_t i;

	tmp = reallocarray(NULL, n ? n : 1, sizeof(*tmp));
	ptr = reallocarray(NULL, n ? n : 1, sizeof(*ptr));
	if (tmp != NULL && ptr != NULL) {
		for (i = 0; i < n; i++) {
			rfc3339(tmp[i], v[i]);
			ptr[i] = tmp[i];
		}
		s = pgarray_text(ptr, n);
	}
	free(tmp);
	free(ptr);
	return s;
}
