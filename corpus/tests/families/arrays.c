/* Tests for corpus/generate.py's "arrays" family, one main() per function after each
   "test:" marker; T and NAME_ are filled in per element type. Values stay small and
   positive so they are exact in every element type (char, float, unsigned...). */
#include <assert.h>
#include <stdlib.h>

/* test: NAME_sum */
int main(void)
{
    T a[] = {1, 2, 3, 4, 5};
    assert(NAME_sum(a, 5) == 15);
    assert(NAME_sum(a, 0) == 0);
    return 0;
}

/* test: NAME_max */
int main(void)
{
    T a[] = {3, 9, 2, 9, 4};
    assert(NAME_max(a, 5) == 9);
    assert(NAME_max(a, 1) == 3);
    return 0;
}

/* test: NAME_argmin */
int main(void)
{
    T a[] = {5, 2, 7, 2, 8};
    assert(NAME_argmin(a, 5) == 1);
    assert(NAME_argmin(a, 0) == -1);
    return 0;
}

/* test: NAME_count_above */
int main(void)
{
    T a[] = {1, 6, 3, 8, 5};
    assert(NAME_count_above(a, 5, 4) == 3);
    assert(NAME_count_above(a, 5, 9) == 0);
    return 0;
}

/* test: NAME_reverse */
int main(void)
{
    T a[] = {1, 2, 3, 4, 5};
    NAME_reverse(a, 5);
    assert(a[0] == 5 && a[1] == 4 && a[2] == 3 && a[3] == 2 && a[4] == 1);
    NAME_reverse(a, 4);
    assert(a[0] == 2 && a[1] == 3 && a[2] == 4 && a[3] == 5 && a[4] == 1);
    NAME_reverse(a, 2);
    assert(a[0] == 3 && a[1] == 2 && a[2] == 4);
    NAME_reverse(a, 1);
    assert(a[0] == 3);
    return 0;
}

/* test: NAME_prefix_sums */
int main(void)
{
    T in[] = {1, 2, 3, 4};
    T out[4] = {0};
    NAME_prefix_sums(in, out, 4);
    assert(out[0] == 1 && out[1] == 3 && out[2] == 6 && out[3] == 10);
    return 0;
}

/* test: NAME_is_sorted */
int main(void)
{
    T up[] = {1, 2, 2, 5};
    T down[] = {1, 3, 2};
    assert(NAME_is_sorted(up, 4) == 1);
    assert(NAME_is_sorted(down, 3) == 0);
    assert(NAME_is_sorted(down, 2) == 1);
    return 0;
}

/* test: NAME_find */
int main(void)
{
    T a[] = {4, 7, 1, 7};
    assert(NAME_find(a, 4, 7) == 1);
    assert(NAME_find(a, 4, 1) == 2);
    assert(NAME_find(a, 4, 9) == -1);
    return 0;
}

/* test: NAME_copy */
int main(void)
{
    T a[] = {3, 1, 4, 1, 5};
    T *b = NAME_copy(a, 5);
    assert(b != NULL && b != a);
    for (int i = 0; i < 5; i++)
        assert(b[i] == a[i]);
    free(b);
    return 0;
}

/* test: NAME_scale */
int main(void)
{
    T a[] = {1, 2, 3};
    NAME_scale(a, 3, 3);
    assert(a[0] == 3 && a[1] == 6 && a[2] == 9);
    return 0;
}

/* test: NAME_unique */
int main(void)
{
    T a[] = {1, 1, 2, 3, 3, 3, 1};
    assert(NAME_unique(a, 7) == 4);
    assert(a[0] == 1 && a[1] == 2 && a[2] == 3 && a[3] == 1);
    return 0;
}

/* test: NAME_dot */
int main(void)
{
    T a[] = {1, 2, 3};
    T b[] = {4, 5, 6};
    assert(NAME_dot(a, b, 3) == 32);
    return 0;
}
