/* tz.c: IANA time-zone names, checked against the system's tzdata */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drip.h"

static int
tz_name_ok(const char *name)
{
	const char *p;

	if (*name == '\0' || *name == '/' || strlen(name) > 64 ||
	    strstr(name, "..") != NULL)
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!(((unsigned)*p - 'a' < 26) || ((unsigned)*p - 'A' < 26) ||
		    ((unsigned)*p - '0' < 10) || strchr("/_+-", *p) != NULL))
			return 0;
	return 1;
}

/*
 * A name is valid when tzdata has a TZif file for it. PostgreSQL on Debian
 * uses the same system tzdata, so what passes here is a zone SQL knows.
 */
int
tz_valid(const char *name)
{
	const char *dir = getenv("TZDIR");
	char path[512], magic[4];
	struct stat st;
	int fd, ok;

	if (!tz_name_ok(name))
		return 0;
	if (dir == NULL || *dir == '\0')
		dir = "/usr/share/zoneinfo";
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
	close(fd);
	return ok;
}
