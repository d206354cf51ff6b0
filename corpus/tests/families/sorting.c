/* Tests for corpus/generate.py's "sorting" family (see arrays.c for the layout). */
#include <assert.h>
#include <stddef.h>

static int sorted_is(const T *a, const T *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != want[i])
            return 0;
    return 1;
}

/* test: NAME_insertion_sort */
int main(void)
{
    T a[] = {5, 2, 9, 1, 5, 6};
    T want[] = {1, 2, 5, 5, 6, 9};
    NAME_insertion_sort(a, 6);
    assert(sorted_is(a, want, 6));
    return 0;
}

/* test: NAME_selection_sort */
int main(void)
{
    T a[] = {5, 2, 9, 1, 5, 6};
    T want[] = {1, 2, 5, 5, 6, 9};
    NAME_selection_sort(a, 6);
    assert(sorted_is(a, want, 6));
    return 0;
}

/* test: NAME_bubble_sort */
int main(void)
{
    T a[] = {5, 2, 9, 1, 5, 6};
    T want[] = {1, 2, 5, 5, 6, 9};
    NAME_bubble_sort(a, 6);
    assert(sorted_is(a, want, 6));
    return 0;
}

/* test: NAME_shell_sort */
int main(void)
{
    T a[] = {8, 3, 7, 1, 9, 2, 6, 4};
    T want[] = {1, 2, 3, 4, 6, 7, 8, 9};
    NAME_shell_sort(a, 8);
    assert(sorted_is(a, want, 8));
    return 0;
}

/* test: NAME_binary_search */
int main(void)
{
    T a[] = {1, 3, 5, 7, 9, 11};
    assert(NAME_binary_search(a, 6, 1) == 0);
    assert(NAME_binary_search(a, 6, 7) == 3);
    assert(NAME_binary_search(a, 6, 11) == 5);
    assert(NAME_binary_search(a, 6, 4) == -1);
    assert(NAME_binary_search(a, 0, 1) == -1);
    return 0;
}

/* test: NAME_lower_bound */
int main(void)
{
    T a[] = {1, 3, 3, 7};
    assert(NAME_lower_bound(a, 4, 3) == 1);
    assert(NAME_lower_bound(a, 4, 4) == 3);
    assert(NAME_lower_bound(a, 4, 9) == 4);
    return 0;
}

/* test: NAME_partition */
int main(void)
{
    T a[] = {7, 2, 9, 1, 5, 3};
    size_t k = NAME_partition(a, 6, 5);
    assert(k == 3);
    for (size_t i = 0; i < 6; i++)
        assert(i < k ? a[i] < 5 : a[i] >= 5);
    return 0;
}

/* test: NAME_merge */
int main(void)
{
    T a[] = {1, 4, 6};
    T b[] = {2, 3, 7, 8};
    T out[7];
    T want[] = {1, 2, 3, 4, 6, 7, 8};
    NAME_merge(a, 3, b, 4, out);
    assert(sorted_is(out, want, 7));
    return 0;
}

/* test: NAME_quick_sort */
int main(void)
{
    T a[] = {9, 4, 7, 1, 8, 2, 2, 6, 3};
    T want[] = {1, 2, 2, 3, 4, 6, 7, 8, 9};
    NAME_quick_sort(a, 0, 8);
    assert(sorted_is(a, want, 9));
    return 0;
}

/* test: NAME_kth_smallest */
int main(void)
{
    T a[] = {9, 4, 7, 1, 8};
    assert(NAME_kth_smallest(a, 5, 0) == 1);
    assert(NAME_kth_smallest(a, 5, 2) == 7);
    assert(NAME_kth_smallest(a, 5, 10) == 9);
    return 0;
}
