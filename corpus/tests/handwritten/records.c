/* Tests for corpus/handwritten/records.c (see strings.c for the layout); struct point,
   struct rect and struct employee come from the file's context. */
#include <assert.h>
#include <math.h>
#include <string.h>

/* test: rect_area */
int main(void)
{
    struct rect r = {{1, 2}, {4, 7}};
    assert(rect_area(&r) == 15);
    return 0;
}

/* test: rect_contains */
int main(void)
{
    struct rect r = {{0, 0}, {4, 3}};
    struct point in = {1, 2}, edge = {4, 1}, corner = {0, 0};
    assert(rect_contains(&r, in) == 1);
    assert(rect_contains(&r, edge) == 0);
    assert(rect_contains(&r, corner) == 1);
    return 0;
}

/* test: point_dist2 */
int main(void)
{
    struct point a = {1, 2}, b = {4, 6};
    assert(point_dist2(a, b) == 25);
    assert(point_dist2(b, a) == 25);
    assert(point_dist2(a, a) == 0);
    return 0;
}

/* test: bounding_box */
int main(void)
{
    struct point pts[] = {{3, 1}, {-2, 5}, {4, -1}};
    struct rect box = bounding_box(pts, 3);
    assert(box.min.x == -2 && box.min.y == -1 && box.max.x == 4 && box.max.y == 5);
    return 0;
}

/* test: payroll_total */
int main(void)
{
    struct employee staff[3] = {{"ann", 30, 100.0, 1}, {"bob", 40, 50.5, 2}, {"cy", 50, 25.0, 1}};
    assert(fabs(payroll_total(staff, 3, 1) - 125.0) < 1e-9);
    assert(payroll_total(staff, 3, 9) == 0);
    return 0;
}

/* test: oldest_employee */
int main(void)
{
    struct employee staff[3] = {{"ann", 30, 100.0, 1}, {"bob", 52, 50.5, 2}, {"cy", 50, 25.0, 1}};
    assert(oldest_employee(staff, 3) == &staff[1]);
    return 0;
}

/* test: rect_union */
int main(void)
{
    struct rect a = {{0, 0}, {2, 2}}, b = {{1, -1}, {5, 1}};
    struct rect u = rect_union(a, b);
    assert(u.min.x == 0 && u.min.y == -1 && u.max.x == 5 && u.max.y == 2);
    return 0;
}

/* test: rect_intersects */
int main(void)
{
    struct rect a = {{0, 0}, {2, 2}}, b = {{1, 1}, {3, 3}}, c = {{2, 0}, {4, 2}};
    assert(rect_intersects(&a, &b) == 1);
    assert(rect_intersects(&a, &c) == 0);
    return 0;
}

/* test: raise_salaries */
int main(void)
{
    struct employee staff[2] = {{"ann", 30, 100.0, 1}, {"bob", 40, 50.0, 2}};
    assert(raise_salaries(staff, 2, 1, 10.0) == 1);
    assert(fabs(staff[0].salary - 110.0) < 1e-9 && staff[1].salary == 50.0);
    return 0;
}
