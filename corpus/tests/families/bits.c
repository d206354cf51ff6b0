/* Tests for corpus/generate.py's "bits" family (see arrays.c for the layout); BITS is the
   element width. */
#include <assert.h>
#include <stdint.h>

/* test: NAME_popcount */
int main(void)
{
    assert(NAME_popcount(0) == 0);
    assert(NAME_popcount(0xb5) == 5);
    assert(NAME_popcount((T)~(T)0) == BITS);
    return 0;
}

/* test: NAME_parity */
int main(void)
{
    assert(NAME_parity(0) == 0);
    assert(NAME_parity(0x07) == 1);
    assert(NAME_parity(0x81) == 0);
    return 0;
}

/* test: NAME_reverse_bits */
int main(void)
{
    assert(NAME_reverse_bits(1) == (T)((T)1 << (BITS - 1)));
    assert(NAME_reverse_bits(0) == 0);
    assert(NAME_reverse_bits(NAME_reverse_bits(0x5a)) == 0x5a);
    return 0;
}

/* test: NAME_rotl */
int main(void)
{
    assert(NAME_rotl(1, 3) == 8);
    assert(NAME_rotl(0x81, BITS) == 0x81);
    assert(NAME_rotl((T)((T)1 << (BITS - 1)), 1) == 1);
    return 0;
}

/* test: NAME_rotr */
int main(void)
{
    assert(NAME_rotr(8, 3) == 1);
    assert(NAME_rotr(1, 1) == (T)((T)1 << (BITS - 1)));
    assert(NAME_rotr(0x42, 0) == 0x42);
    return 0;
}

/* test: NAME_is_pow2 */
int main(void)
{
    assert(NAME_is_pow2(64) == 1);
    assert(NAME_is_pow2(0) == 0);
    assert(NAME_is_pow2(6) == 0);
    return 0;
}

/* test: NAME_next_pow2 */
int main(void)
{
    assert(NAME_next_pow2(5) == 8);
    assert(NAME_next_pow2(16) == 16);
    assert(NAME_next_pow2(0) == 1);
    return 0;
}

/* test: NAME_leading_zeros */
int main(void)
{
    assert(NAME_leading_zeros(1) == BITS - 1);
    assert(NAME_leading_zeros(0) == BITS);
    assert(NAME_leading_zeros(0x10) == BITS - 5);
    return 0;
}

/* test: NAME_trailing_zeros */
int main(void)
{
    assert(NAME_trailing_zeros(8) == 3);
    assert(NAME_trailing_zeros(0) == BITS);
    assert(NAME_trailing_zeros(0x50) == 4);
    return 0;
}

/* test: NAME_gray_encode */
int main(void)
{
    assert(NAME_gray_encode(0) == 0);
    assert(NAME_gray_encode(2) == 3);
    assert(NAME_gray_encode(7) == 4);
    return 0;
}

/* test: NAME_gray_decode */
int main(void)
{
    assert(NAME_gray_decode(3) == 2);
    assert(NAME_gray_decode(4) == 7);
    assert(NAME_gray_decode(0) == 0);
    return 0;
}

/* test: NAME_extract_field */
int main(void)
{
    assert(NAME_extract_field(0xb4, 2, 3) == 5);
    assert(NAME_extract_field(0xb4, 0, BITS) == 0xb4);
    return 0;
}

/* test: NAME_set_field */
int main(void)
{
    assert(NAME_set_field(0xff, 2, 3, 0) == 0xe3);
    assert(NAME_set_field(0, 4, 2, 3) == 0x30);
    return 0;
}
