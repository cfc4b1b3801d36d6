/*
 * hash: SHA-256 in lowercase hex (OpenSSL EVP), the one digest the project writes: the snapshot
 * a report was made from (snapshot_sha256) and each tree file (trees[].sha256).
 * Owns nothing; pure functions.
 */
#ifndef BENCHD_HASH_H
#define BENCHD_HASH_H

#include <stddef.h>

/* SHA-256 of n bytes as 64 lowercase hex characters plus NUL into hex[65]. Returns 0 or -1. */
int hash_sha256_hex(const void *p, size_t n, char hex[65]);

#endif
