/*
 * test-graph-crypt: tokens sealed with AES-256-GCM open only with the same
 * key and the same row; key files that are missing, short, long or readable
 * by others are refused, as ssh refuses such a private key.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "drip.h"
#include "tap.h"

static char dir[] = "/tmp/test-graph-crypt.XXXXXX";

static const char *
key_file(const char *name, size_t len, mode_t mode)
{
	static char path[512];
	unsigned char b[64];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	arc4random_buf(b, sizeof(b));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, b, len) != (ssize_t)len)
		printf("# cannot write %s\n", path);
	close(fd);
	chmod(path, mode);
	return path;
}

static int
refused(const char *path, const char *msgpart)
{
	struct crypt_key k;
	struct derr e = { 0 };
	int rc = crypt_key_load(&e, path, &k);

	if (rc == 0 || strstr(e.msg, msgpart) == NULL || e.code != EX_USAGE) {
		printf("# rc %d, code %d, message: %s\n", rc, e.code, e.msg);
		return 0;
	}
	return 1;
}

int
main(void)
{
	static const char token[] = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.secret-token-text";
	struct crypt_key k, k2;
	struct derr e = { 0 };
	unsigned char *s1, *s2, *bad, *raw;
	size_t n1, n2, n, rawlen;
	char *plain, *hex, path[512];

	plan(26);
	if (mkdtemp(dir) == NULL)
		return 1;

	ok(crypt_key_load(&e, key_file("good", 32, 0600), &k) == 0, "a 32-byte key of mode 600 loads");
	ok(crypt_key_load(&e, key_file("ro", 32, 0400), &k2) == 0, "mode 400 (systemd credentials) loads");
	ok(refused(key_file("group", 32, 0640), "readable by group or others (mode 0640); chmod 600 it"),
	    "a group-readable key is refused, saying chmod 600");
	ok(refused(key_file("world", 32, 0604), "chmod 600 it"), "a world-readable key is refused");
	ok(refused(key_file("short", 31, 0600), "shorter than 32 bytes"), "a 31-byte key is refused");
	ok(refused(key_file("long", 33, 0600), "longer than 32 bytes"), "a 33-byte key is refused");
	ok(refused(key_file("empty", 0, 0600), "shorter than 32 bytes"), "an empty key is refused");
	snprintf(path, sizeof(path), "%s/missing", dir);
	ok(refused(path, "no such file; make one: head -c 32 /dev/urandom"),
	    "a missing key is refused with the command that makes one");
	ok(refused(dir, "not a regular file"), "a directory is refused");

	/* Where the key comes from when no path is given. */
	setenv("DRIP_KEY_FILE", key_file("env", 32, 0600), 1);
	ok(crypt_key_load(&e, NULL, &k2) == 0, "DRIP_KEY_FILE names the key");
	unsetenv("DRIP_KEY_FILE");
	key_file("drip.key", 32, 0600);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	ok(crypt_key_load(&e, NULL, &k2) == 0, "else $CREDENTIALS_DIRECTORY/drip.key");
	unsetenv("CREDENTIALS_DIRECTORY");
	ok(crypt_key_load(&e, NULL, &k2) == -1 && e.code == EX_USAGE &&
	    strstr(e.msg, "DRIP_KEY_FILE") != NULL, "with neither, a usage error naming DRIP_KEY_FILE");

	/* Seal and open. */
	crypt_seal(&e, &k, "drip.email_identity:7:access_token", token, strlen(token), &s1, &n1);
	crypt_seal(&e, &k, "drip.email_identity:7:access_token", token, strlen(token), &s2, &n2);
	ok(n1 == CRYPT_NONCE_LEN + strlen(token) + CRYPT_TAG_LEN,
	    "sealed: nonce, ciphertext and tag (%zu bytes)", n1);
	ok(memmem(s1, n1, "secret-token-text", 17) == NULL, "the sealed bytes hold no token text");
	ok(n1 == n2 && memcmp(s1, s2, n1) != 0, "two seals of one token differ (random nonce)");
	ok(crypt_open(&e, &k, "drip.email_identity:7:access_token", s1, n1, &plain, &n) == 0 &&
	    n == strlen(token) && strcmp(plain, token) == 0, "it opens to the token");
	secret_free(plain);
	ok(crypt_open(&e, &k, "drip.email_identity:8:access_token", s1, n1, &plain, &n) == -1,
	    "it does not open as another identity's token");
	ok(crypt_open(&e, &k, "drip.email_identity:7:refresh_token", s1, n1, &plain, &n) == -1,
	    "nor as the refresh token");
	ok(crypt_open(&e, &k2, "drip.email_identity:7:access_token", s1, n1, &plain, &n) == -1 &&
	    e.code == EX_NOPERM, "nor with another key (77: connect again)");
	bad = malloc(n1);
	memcpy(bad, s1, n1);
	bad[CRYPT_NONCE_LEN + 3] ^= 1;
	ok(crypt_open(&e, &k, "drip.email_identity:7:access_token", bad, n1, &plain, &n) == -1,
	    "a flipped ciphertext bit is detected");
	ok(crypt_open(&e, &k, "drip.email_identity:7:access_token", s1, n1 - 1, &plain, &n) == -1,
	    "a cut tag is detected");
	ok(crypt_open(&e, &k, "drip.email_identity:7:access_token", s1, 20, &plain, &n) == -1,
	    "a stump is refused");
	ok(strstr(e.msg, "secret") == NULL, "no token text in the error");

	hex = hex_encode(s1, n1);
	ok(hex != NULL && strncmp(hex, "\\x", 2) == 0 && hex_decode(hex, &raw, &rawlen) == 0 &&
	    rawlen == n1 && memcmp(raw, s1, n1) == 0, "bytea hex round trip");
	free(raw);
	free(hex);
	free(bad);
	free(s1);
	free(s2);
	{
		char a[CRYPT_NAME_LEN + 1], b[CRYPT_NAME_LEN + 1], c[CRYPT_NAME_LEN + 1];
		struct crypt_key other = k;

		other.k[0] ^= 1;
		ok(crypt_key_name(&k, a) == 0 && crypt_key_name(&k, b) == 0 &&
		    strcmp(a, b) == 0 && strlen(a) == CRYPT_NAME_LEN &&
		    strspn(a, "0123456789abcdef") == CRYPT_NAME_LEN,
		    "a key's name: the same each time, %d hex digits", CRYPT_NAME_LEN);
		ok(crypt_key_name(&other, c) == 0 && strcmp(a, c) != 0,
		    "another key (one bit apart), another name");
		crypt_key_wipe(&other);
	}
	crypt_key_wipe(&k);
	crypt_key_wipe(&k2);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		printf("# could not remove %s\n", dir);
	return done();
}
