/* hash.c: MurmurHash3 x86_32 (Austin Appleby's public-domain algorithm) over the UTF-8
 * bytes of the key, and Unleash's normalisation of "groupId:id" to 1..N. */
#include "base/compat.h"
#include "flags/flags.h"

static uint32_t rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

uint32_t sl_flags_murmur3(const void *key, size_t n, uint32_t seed)
{
    const uint8_t *data = key;
    const uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
    uint32_t h = seed;
    size_t nblocks = n / 4;
    for (size_t i = 0; i < nblocks; i++) {
        uint32_t k;
        memcpy(&k, data + i * 4, 4); /* little-endian, as the reference on x86 */
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
        h = rotl32(h, 13);
        h = h * 5 + 0xe6546b64;
    }
    const uint8_t *tail = data + nblocks * 4;
    uint32_t k = 0;
    switch (n & 3) {
    case 3:
        k ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        k ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        k ^= tail[0];
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
    }
    h ^= (uint32_t)n;
    h ^= h >> 16;
    h *= 0x85ebca6b;
    h ^= h >> 13;
    h *= 0xc2b2ae35;
    h ^= h >> 16;
    return h;
}

uint32_t sl_flags_normalize(const char *group, const char *id, uint32_t normalizer, uint32_t seed)
{
    char small[512];
    size_t gl = strlen(group), il = strlen(id), n = gl + 1 + il;
    char *buf = n <= sizeof small ? small : malloc(n);
    if (!buf)
        abort();
    memcpy(buf, group, gl);
    buf[gl] = ':';
    memcpy(buf + gl + 1, id, il);
    uint32_t h = sl_flags_murmur3(buf, n, seed);
    if (buf != small)
        free(buf);
    return h % normalizer + 1;
}
