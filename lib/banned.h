/*
 * Functions drip does not use: each has a bounded or checked replacement.
 * Included last by drip.h, so any use is a compile error, as in git.
 */
#ifndef DRIP_BANNED_H
#define DRIP_BANNED_H

#define BANNED(func) sorry_##func##_is_banned_in_drip

#undef strcpy
#define strcpy(x, y)		BANNED(strcpy)		/* use strlcpy */
#undef strcat
#define strcat(x, y)		BANNED(strcat)		/* use strlcat */
#undef strncpy
#define strncpy(x, y, n)	BANNED(strncpy)		/* use strlcpy */
#undef strncat
#define strncat(x, y, n)	BANNED(strncat)		/* use strlcat */
#undef sprintf
#define sprintf(...)		BANNED(sprintf)		/* use snprintf */
#undef vsprintf
#define vsprintf(...)		BANNED(vsprintf)	/* use vsnprintf */
#undef strtok
#define strtok(x, y)		BANNED(strtok)		/* use strsep */
#undef strtok_r
#define strtok_r(x, y, z)	BANNED(strtok_r)	/* use strsep */
#undef atoi
#define atoi(x)			BANNED(atoi)		/* use strtonum */
#undef atol
#define atol(x)			BANNED(atol)		/* use strtonum */
#undef atoll
#define atoll(x)		BANNED(atoll)		/* use strtonum */
#undef gets
#define gets(x)			BANNED(gets)		/* use getline */
#undef gmtime
#define gmtime(x)		BANNED(gmtime)		/* use gmtime_r */
#undef localtime
#define localtime(x)		BANNED(localtime)	/* use localtime_r */

#endif
