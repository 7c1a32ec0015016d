/* err.c: errors and validation lists handed back to the tool */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "drip.h"

int
derr_set(struct derr *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void
derr_clear(struct derr *e)
{
	e->code = 0;
	e->msg[0] = '\0';
}

void
vlist_add(struct vlist *v, const char *fmt, ...)
{
	va_list ap;
	char *s;

	v->total++;
	if (v->n >= VLIST_KEEP)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s != NULL)
		v->msg[v->n++] = s;
}

void
vlist_free(struct vlist *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		free(v->msg[i]);
	v->n = v->total = 0;
}
