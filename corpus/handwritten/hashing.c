/* Written for decomptune's sample corpus. SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

uint32_t hash_djb2(const char *s)
{
    uint32_t h = 5381;
    int c;
    while ((c = (unsigned char)*s++) != 0)
        h = h * 33 + (uint32_t)c;
    return h;
}

uint32_t hash_sdbm(const char *s)
{
    uint32_t h = 0;
    for (; *s; s++)
        h = (unsigned char)*s + (h << 6) + (h << 16) - h;
    return h;
}

uint32_t hash_fnv1a(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

uint64_t hash_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

uint32_t crc32_bitwise(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

uint16_t checksum_adler16(const unsigned char *p, size_t n)
{
    unsigned a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 251;
        b = (b + a) % 251;
    }
    return (uint16_t)((b << 8) | a);
}

uint32_t xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

struct hash_set {
    uint32_t *slots;
    size_t capacity;
    size_t used;
};

int hash_set_insert(struct hash_set *set, uint32_t key)
{
    if (key == 0 || set->used * 2 >= set->capacity)
        return -1;
    size_t i = key % set->capacity;
    while (set->slots[i] != 0) {
        if (set->slots[i] == key)
            return 0;
        i = (i + 1) % set->capacity;
    }
    set->slots[i] = key;
    set->used++;
    return 1;
}

int hash_set_contains(const struct hash_set *set, uint32_t key)
{
    size_t i = key % set->capacity;
    for (size_t probes = 0; probes < set->capacity; probes++) {
        if (set->slots[i] == key)
            return 1;
        if (set->slots[i] == 0)
            return 0;
        i = (i + 1) % set->capacity;
    }
    return 0;
}

struct kv_entry {
    char key[24];
    int value;
    struct kv_entry *next;
};

int kv_get(struct kv_entry *const *buckets, size_t nbuckets, const char *key, int fallback)
{
    const struct kv_entry *e = buckets[hash_djb2(key) % nbuckets];
    for (; e != NULL; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e->value;
    return fallback;
}

int kv_put(struct kv_entry **buckets, size_t nbuckets, const char *key, int value)
{
    size_t b = hash_djb2(key) % nbuckets;
    for (struct kv_entry *e = buckets[b]; e != NULL; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            e->value = value;
            return 0;
        }
    }
    struct kv_entry *e = calloc(1, sizeof *e);
    if (e == NULL)
        return -1;
    strncpy(e->key, key, sizeof e->key - 1);
    e->value = value;
    e->next = buckets[b];
    buckets[b] = e;
    return 1;
}

void bloom_add(uint8_t *bits, size_t nbits, const char *s)
{
    uint32_t h1 = hash_djb2(s), h2 = hash_sdbm(s);
    for (int k = 0; k < 3; k++) {
        size_t bit = (h1 + (uint32_t)k * h2) % nbits;
        bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
    }
}

int bloom_maybe_has(const uint8_t *bits, size_t nbits, const char *s)
{
    uint32_t h1 = hash_djb2(s), h2 = hash_sdbm(s);
    for (int k = 0; k < 3; k++) {
        size_t bit = (h1 + (uint32_t)k * h2) % nbits;
        if (!(bits[bit / 8] & (1u << (bit % 8))))
            return 0;
    }
    return 1;
}
