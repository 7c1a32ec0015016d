/*
 * crypt.c: OAuth tokens sealed at rest with AES-256-GCM (OpenSSL libcrypto).
 *
 * A sealed token is nonce (12 random bytes) || ciphertext || tag (16
 * bytes), and the additional data names the row and column it belongs to,
 * so a sealed token copied to another identity (or from refresh_token to
 * access_token) does not open. The key is a file of exactly 32 bytes that
 * only its owner can read, refused otherwise, as ssh refuses a private key.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "drip.h"

#define KEY_HOWTO "head -c 32 /dev/urandom > %s && chmod 600 %s"

static int
key_path(struct derr *e, const char *path, char *out, size_t outsz)
{
	const char *v;

	if (path == NULL && (v = getenv("DRIP_KEY_FILE")) != NULL && *v != '\0')
		path = v;
	if (path != NULL) {
		if (strlcpy(out, path, outsz) >= outsz)
			return derr_set(e, EX_USAGE, "DRIP_KEY_FILE: path too long");
		return 0;
	}
	if ((v = getenv("CREDENTIALS_DIRECTORY")) != NULL && *v != '\0') {
		if ((size_t)snprintf(out, outsz, "%s/drip.key", v) >= outsz)
			return derr_set(e, EX_USAGE, "CREDENTIALS_DIRECTORY: path too long");
		return 0;
	}
	return derr_set(e, EX_USAGE, "no key for the stored tokens: set DRIP_KEY_FILE "
	    "(a file of 32 random bytes, mode 600) or CREDENTIALS_DIRECTORY");
}

int
crypt_key_load(struct derr *e, const char *path, struct crypt_key *k)
{
	char p[PATH_MAX];
	unsigned char buf[CRYPT_KEY_LEN + 1];
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd;

	if (key_path(e, path, p, sizeof(p)) == -1)
		return -1;
	if ((fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT)
			return derr_set(e, EX_USAGE, "key file %s: no such file; make one: "
			    KEY_HOWTO, p, p, p);
		return derr_set(e, EX_USAGE, "key file %s: %s", p, strerror(errno));
	}
	if (fstat(fd, &st) == -1) {
		derr_set(e, EX_USAGE, "key file %s: %s", p, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		derr_set(e, EX_USAGE, "key file %s: not a regular file", p);
		goto fail;
	}
	if (st.st_mode & 077) {
		derr_set(e, EX_USAGE, "key file %s: readable by group or others "
		    "(mode %04o); chmod 600 it", p, (unsigned)(st.st_mode & 0777));
		goto fail;
	}
	while (got < sizeof(buf) &&
	    (n = read(fd, buf + got, sizeof(buf) - got)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			derr_set(e, EX_USAGE, "key file %s: %s", p, strerror(errno));
			goto fail;
		}
		got += (size_t)n;
	}
	if (got != CRYPT_KEY_LEN) {
		derr_set(e, EX_USAGE, "key file %s: %s than 32 bytes; make one: " KEY_HOWTO,
		    p, got < CRYPT_KEY_LEN ? "shorter" : "longer", p, p);
		goto fail;
	}
	memcpy(k->k, buf, CRYPT_KEY_LEN);
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return 0;
fail:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return -1;
}

void
crypt_key_wipe(struct crypt_key *k)
{
	explicit_bzero(k->k, sizeof(k->k));
}

/*
 * A name for the key that gives nothing of it away: the first 8 bytes of
 * SHA-256("drip key name" || key), in hex. Two installations (two keys)
 * name their marks on drafts apart.
 */
int
crypt_key_name(const struct crypt_key *k, char out[CRYPT_NAME_LEN + 1])
{
	static const char label[] = "drip key name";
	unsigned char buf[sizeof(label) - 1 + CRYPT_KEY_LEN], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int ok;

	memcpy(buf, label, sizeof(label) - 1);
	memcpy(buf + sizeof(label) - 1, k->k, CRYPT_KEY_LEN);
	ok = EVP_Digest(buf, sizeof(buf), md, &mdlen, EVP_sha256(), NULL) == 1 &&
	    mdlen >= CRYPT_NAME_LEN / 2;
	explicit_bzero(buf, sizeof(buf));
	if (!ok)
		return -1;
	for (unsigned int i = 0; i < CRYPT_NAME_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

void
secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

int
crypt_seal(struct derr *e, const struct crypt_key *k, const char *aad,
    const void *plain, size_t len, unsigned char **out, size_t *outlen)
{
	EVP_CIPHER_CTX *c = NULL;
	unsigned char *b;
	int n, total;

	*out = NULL;
	if (len > INT_MAX - 64)
		return derr_set(e, EX_SOFTWARE, "seal: too long");
	if ((b = malloc(CRYPT_NONCE_LEN + len + CRYPT_TAG_LEN)) == NULL)
		return derr_set(e, EX_OSERR, "out of memory");
	if (RAND_bytes(b, CRYPT_NONCE_LEN) != 1 || (c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, CRYPT_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(c, NULL, NULL, k->k, b) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    EVP_EncryptUpdate(c, b + CRYPT_NONCE_LEN, &n, plain, (int)len) != 1)
		goto fail;
	total = n;
	if (EVP_EncryptFinal_ex(c, b + CRYPT_NONCE_LEN + total, &n) != 1)
		goto fail;
	total += n;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CRYPT_TAG_LEN,
	    b + CRYPT_NONCE_LEN + total) != 1)
		goto fail;
	EVP_CIPHER_CTX_free(c);
	*out = b;
	*outlen = CRYPT_NONCE_LEN + (size_t)total + CRYPT_TAG_LEN;
	return 0;
fail:
	EVP_CIPHER_CTX_free(c);
	free(b);
	return derr_set(e, EX_SOFTWARE, "seal: libcrypto failed");
}

int
crypt_open(struct derr *e, const struct crypt_key *k, const char *aad,
    const unsigned char *in, size_t len, char **out, size_t *outlen)
{
	EVP_CIPHER_CTX *c = NULL;
	unsigned char tag[CRYPT_TAG_LEN];
	char *p;
	size_t clen;
	int n, total;

	*out = NULL;
	if (len < CRYPT_NONCE_LEN + CRYPT_TAG_LEN || len > INT_MAX)
		return derr_set(e, EX_NOPERM, "stored token: not a sealed token");
	clen = len - CRYPT_NONCE_LEN - CRYPT_TAG_LEN;
	if ((p = malloc(clen + 1)) == NULL)
		return derr_set(e, EX_OSERR, "out of memory");
	memcpy(tag, in + len - CRYPT_TAG_LEN, CRYPT_TAG_LEN);
	if ((c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, CRYPT_NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(c, NULL, NULL, k->k, in) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    EVP_DecryptUpdate(c, (unsigned char *)p, &n, in + CRYPT_NONCE_LEN, (int)clen) != 1)
		goto fail;
	total = n;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CRYPT_TAG_LEN, tag) != 1 ||
	    EVP_DecryptFinal_ex(c, (unsigned char *)p + total, &n) != 1)
		goto fail;
	total += n;
	EVP_CIPHER_CTX_free(c);
	p[total] = '\0';
	*out = p;
	*outlen = (size_t)total;
	return 0;
fail:
	EVP_CIPHER_CTX_free(c);
	explicit_bzero(p, clen + 1);
	free(p);
	return derr_set(e, EX_NOPERM, "stored token does not open: another key, or "
	    "altered or moved data; connect the mailbox again");
}

char *
hex_encode(const unsigned char *b, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *s;
	size_t i;

	if ((s = malloc(2 * len + 3)) == NULL)
		return NULL;
	s[0] = '\\';
	s[1] = 'x';
	for (i = 0; i < len; i++) {
		s[2 + 2 * i] = hex[b[i] >> 4];
		s[3 + 2 * i] = hex[b[i] & 15];
	}
	s[2 + 2 * len] = '\0';
	return s;
}

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* PostgreSQL's bytea hex output ("\x0a1b...") or bare hex. */
int
hex_decode(const char *s, unsigned char **out, size_t *outlen)
{
	size_t n, i;
	unsigned char *b;
	int hi, lo;

	if (s[0] == '\\' && s[1] == 'x')
		s += 2;
	n = strlen(s);
	if (n % 2 != 0 || (b = malloc(n / 2 + 1)) == NULL)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if ((hi = nibble(s[2 * i])) < 0 || (lo = nibble(s[2 * i + 1])) < 0) {
			free(b);
			return -1;
		}
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	*out = b;
	*outlen = n / 2;
	return 0;
}
