/* Tests for corpus/generate.py's "matrix" family (see arrays.c for the layout); matrices
   are row-major. */
#include <assert.h>
#include <stddef.h>

static int same(const T *a, const T *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* test: NAME_identity */
int main(void)
{
    T m[9];
    T want[] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    NAME_identity(m, 3);
    assert(same(m, want, 9));
    return 0;
}

/* test: NAME_transpose */
int main(void)
{
    T a[] = {1, 2, 3, 4, 5, 6}; /* 2 x 3 */
    T out[6];
    T want[] = {1, 4, 2, 5, 3, 6};
    NAME_transpose(a, out, 2, 3);
    assert(same(out, want, 6));
    return 0;
}

/* test: NAME_multiply */
int main(void)
{
    T a[] = {1, 2, 3, 4, 5, 6}; /* 2 x 3 */
    T b[] = {1, 2, 0, 1, 1, 0}; /* 3 x 2 */
    T out[4];
    T want[] = {4, 4, 10, 13};
    NAME_multiply(a, b, out, 2, 3, 2);
    assert(same(out, want, 4));
    return 0;
}

/* test: NAME_trace */
int main(void)
{
    T m[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    assert(NAME_trace(m, 3) == 15);
    return 0;
}

/* test: NAME_is_symmetric */
int main(void)
{
    T s[] = {1, 2, 3, 2, 5, 6, 3, 6, 9};
    T n[] = {1, 2, 3, 4};
    assert(NAME_is_symmetric(s, 3) == 1);
    assert(NAME_is_symmetric(n, 2) == 0);
    return 0;
}

/* test: NAME_add */
int main(void)
{
    T a[] = {1, 2, 3};
    T b[] = {4, 5, 6};
    T out[3];
    T want[] = {5, 7, 9};
    NAME_add(a, b, out, 3);
    assert(same(out, want, 3));
    return 0;
}

/* test: NAME_row_max_sum */
int main(void)
{
    T m[] = {1, 2, 3, 9, 0, 1, 2, 2, 2}; /* rows sum to 6, 10, 6 */
    assert(NAME_row_max_sum(m, 3, 3) == 10);
    return 0;
}

/* test: NAME_fill_diagonal */
int main(void)
{
    T m[9] = {0};
    T want[] = {7, 0, 0, 0, 7, 0, 0, 0, 7};
    NAME_fill_diagonal(m, 3, 7);
    assert(same(m, want, 9));
    return 0;
}

/* test: NAME_count_zero */
int main(void)
{
    T m[] = {0, 1, 0, 2, 0, 3};
    assert(NAME_count_zero(m, 6) == 3);
    assert(NAME_count_zero(m + 1, 1) == 0);
    return 0;
}

/* test: NAME_rotate90 */
int main(void)
{
    T a[] = {1, 2, 3, 4}; /* [[1 2] [3 4]] -> [[3 1] [4 2]] */
    T out[4];
    T want[] = {3, 1, 4, 2};
    NAME_rotate90(a, out, 2);
    assert(same(out, want, 4));
    return 0;
}
