/* Tests for corpus/generate.py's "lists" family (see arrays.c for the layout). The file's
   struct NAME_node reaches the test through the context (see corpus/tests/README.md). */
#include <assert.h>
#include <stdlib.h>

static struct NAME_node *make(const T *values, size_t n)
{
    struct NAME_node *head = NULL;
    for (size_t i = n; i-- > 0;) {
        struct NAME_node *node = malloc(sizeof *node);
        node->value = values[i];
        node->next = head;
        head = node;
    }
    return head;
}

/* test: NAME_push */
int main(void)
{
    struct NAME_node *head = NAME_push(NULL, 4);
    head = NAME_push(head, 7);
    assert(head != NULL && head->value == 7);
    assert(head->next != NULL && head->next->value == 4 && head->next->next == NULL);
    return 0;
}

/* test: NAME_length */
int main(void)
{
    T v[] = {1, 2, 3, 4};
    assert(NAME_length(make(v, 4)) == 4);
    assert(NAME_length(NULL) == 0);
    return 0;
}

/* test: NAME_total */
int main(void)
{
    T v[] = {1, 2, 3, 4};
    assert(NAME_total(make(v, 4)) == 10);
    assert(NAME_total(NULL) == 0);
    return 0;
}

/* test: NAME_reverse */
int main(void)
{
    T v[] = {1, 2, 3};
    struct NAME_node *r = NAME_reverse(make(v, 3));
    assert(r->value == 3 && r->next->value == 2 && r->next->next->value == 1);
    assert(r->next->next->next == NULL);
    assert(NAME_reverse(NULL) == NULL);
    return 0;
}

/* test: NAME_find */
int main(void)
{
    T v[] = {5, 6, 7};
    struct NAME_node *head = make(v, 3);
    assert(NAME_find(head, 6) == head->next);
    assert(NAME_find(head, 9) == NULL);
    return 0;
}

/* test: NAME_nth */
int main(void)
{
    T v[] = {5, 6, 7};
    struct NAME_node *head = make(v, 3);
    assert(NAME_nth(head, 0) == head);
    assert(NAME_nth(head, 2) == head->next->next);
    assert(NAME_nth(head, 3) == NULL);
    return 0;
}

/* test: NAME_remove */
int main(void)
{
    T v[] = {2, 1, 2, 3, 2};
    struct NAME_node *head = NAME_remove(make(v, 5), 2);
    assert(head != NULL && head->value == 1 && head->next->value == 3 && head->next->next == NULL);
    return 0;
}

/* test: NAME_insert_sorted */
int main(void)
{
    T v[] = {2, 4, 6};
    struct NAME_node *head = make(v, 3);
    T one = 1, five = 5, nine = 9;
    head = NAME_insert_sorted(head, make(&five, 1));
    head = NAME_insert_sorted(head, make(&one, 1));
    head = NAME_insert_sorted(head, make(&nine, 1));
    T want[] = {1, 2, 4, 5, 6, 9};
    for (int i = 0; i < 6; i++, head = head->next)
        assert(head != NULL && head->value == want[i]);
    assert(head == NULL);
    return 0;
}

/* test: NAME_has_cycle */
int main(void)
{
    T v[] = {1, 2, 3, 4};
    struct NAME_node *head = make(v, 4);
    assert(NAME_has_cycle(head) == 0);
    head->next->next->next->next = head->next;
    assert(NAME_has_cycle(head) == 1);
    return 0;
}

/* test: NAME_max_value */
int main(void)
{
    T v[] = {3, 8, 2};
    assert(NAME_max_value(make(v, 3), 1) == 8);
    assert(NAME_max_value(NULL, 5) == 5);
    return 0;
}
