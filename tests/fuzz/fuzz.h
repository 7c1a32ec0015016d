/*
 * fuzz.h: what the libFuzzer harnesses share. Each harness is one file,
 * fuzz-<target>.c, linked against the library built with the same
 * sanitizers; tests/fuzz/run builds and runs them.
 */
#ifndef DRIP_FUZZ_H
#define DRIP_FUZZ_H

#include <sys/mman.h>

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "drip.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A file descriptor that reads the input, as standard input would. */
static inline int
fuzz_fd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	size_t off = 0;
	ssize_t n;

	if (fd == -1)
		abort();
	while (off < size) {
		if ((n = write(fd, data + off, size - off)) <= 0)
			abort();
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) == -1)
		abort();
	return fd;
}

/* The input as a C string (a NUL in it ends it, as in the tools). */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* An invariant the code under test promises: break loudly if not. */
#define FUZZ_ASSERT(c) do { if (!(c)) { \
	fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); \
	abort(); } } while (0)

#endif
