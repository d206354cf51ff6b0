/* Tests for corpus/generate.py's "ring" family (see arrays.c for the layout). The tests
   build the struct NAME_ring by hand, so each function is tested on its own. */
#include <assert.h>
#include <stdlib.h>

static struct NAME_ring ring_of(size_t capacity, size_t head, size_t count, const T *values)
{
    struct NAME_ring q = {calloc(capacity, sizeof(T)), head, count, capacity};
    for (size_t i = 0; i < count; i++)
        q.items[(head + i) % capacity] = values[i];
    return q;
}

/* test: NAME_init */
int main(void)
{
    struct NAME_ring q;
    assert(NAME_init(&q, 4) == 1);
    assert(q.items != NULL && q.head == 0 && q.count == 0 && q.capacity == 4);
    return 0;
}

/* test: NAME_push */
int main(void)
{
    T v[] = {1, 2};
    struct NAME_ring q = ring_of(3, 2, 2, v);
    assert(NAME_push(&q, 3) == 1);
    assert(q.count == 3 && q.items[1] == 3);
    assert(NAME_push(&q, 4) == 0 && q.count == 3);
    return 0;
}

/* test: NAME_pop */
int main(void)
{
    T v[] = {5, 6};
    struct NAME_ring q = ring_of(3, 2, 2, v);
    T out = 0;
    assert(NAME_pop(&q, &out) == 1 && out == 5 && q.head == 0 && q.count == 1);
    assert(NAME_pop(&q, &out) == 1 && out == 6 && q.count == 0);
    assert(NAME_pop(&q, &out) == 0);
    return 0;
}

/* test: NAME_peek */
int main(void)
{
    T v[] = {5, 6};
    struct NAME_ring q = ring_of(3, 1, 2, v);
    T out = 0;
    assert(NAME_peek(&q, &out) == 1 && out == 5 && q.count == 2 && q.head == 1);
    q.count = 0;
    assert(NAME_peek(&q, &out) == 0);
    return 0;
}

/* test: NAME_sum */
int main(void)
{
    T v[] = {1, 2, 3};
    struct NAME_ring q = ring_of(4, 3, 3, v);
    assert(NAME_sum(&q) == 6);
    return 0;
}

/* test: NAME_clear */
int main(void)
{
    T v[] = {1, 2};
    struct NAME_ring q = ring_of(4, 3, 2, v);
    NAME_clear(&q);
    assert(q.head == 0 && q.count == 0 && q.capacity == 4 && q.items != NULL);
    return 0;
}

/* test: NAME_destroy */
int main(void)
{
    T v[] = {1, 2};
    struct NAME_ring q = ring_of(4, 3, 2, v);
    NAME_destroy(&q);
    assert(q.items == NULL && q.head == 0 && q.count == 0 && q.capacity == 0);
    return 0;
}

/* test: NAME_push_overwrite */
int main(void)
{
    T v[] = {1, 2};
    struct NAME_ring q = ring_of(2, 0, 2, v);
    T out = 0;
    assert(NAME_push_overwrite(&q, 3) == 1);
    assert(q.count == 2 && NAME_pop(&q, &out) && out == 2);
    return 0;
}

/* test: NAME_grow */
int main(void)
{
    T v[] = {1, 2, 3};
    struct NAME_ring q = ring_of(3, 2, 3, v);
    assert(NAME_grow(&q, 5) == 1);
    assert(q.capacity == 5 && q.head == 0 && q.count == 3);
    assert(q.items[0] == 1 && q.items[1] == 2 && q.items[2] == 3);
    return 0;
}
