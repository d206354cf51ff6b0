/* Written for decomptune's sample corpus. SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct point { int x, y; };
struct rect { struct point min, max; };
struct employee {
    char name[32];
    int age;
    double salary;
    int dept;
};

long rect_area(const struct rect *r)
{
    long w = r->max.x - r->min.x, h = r->max.y - r->min.y;
    return (w > 0 && h > 0) ? w * h : 0;
}

int rect_contains(const struct rect *r, struct point p)
{
    return p.x >= r->min.x && p.x < r->max.x && p.y >= r->min.y && p.y < r->max.y;
}

struct rect rect_union(struct rect a, struct rect b)
{
    struct rect u;
    u.min.x = a.min.x < b.min.x ? a.min.x : b.min.x;
    u.min.y = a.min.y < b.min.y ? a.min.y : b.min.y;
    u.max.x = a.max.x > b.max.x ? a.max.x : b.max.x;
    u.max.y = a.max.y > b.max.y ? a.max.y : b.max.y;
    return u;
}

int rect_intersects(const struct rect *a, const struct rect *b)
{
    return a->min.x < b->max.x && b->min.x < a->max.x && a->min.y < b->max.y && b->min.y < a->max.y;
}

long point_dist2(struct point a, struct point b)
{
    long dx = a.x - b.x, dy = a.y - b.y;
    return dx * dx + dy * dy;
}

struct rect bounding_box(const struct point *pts, size_t n)
{
    struct rect box = { pts[0], pts[0] };
    for (size_t i = 1; i < n; i++) {
        if (pts[i].x < box.min.x) box.min.x = pts[i].x;
        if (pts[i].y < box.min.y) box.min.y = pts[i].y;
        if (pts[i].x > box.max.x) box.max.x = pts[i].x;
        if (pts[i].y > box.max.y) box.max.y = pts[i].y;
    }
    return box;
}

double payroll_total(const struct employee *staff, size_t n, int dept)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        if (dept < 0 || staff[i].dept == dept)
            total += staff[i].salary;
    return total;
}

const struct employee *oldest_employee(const struct employee *staff, size_t n)
{
    const struct employee *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (best == NULL || staff[i].age > best->age)
            best = &staff[i];
    return best;
}

static int by_salary(const void *a, const void *b)
{
    double x = ((const struct employee *)a)->salary, y = ((const struct employee *)b)->salary;
    return (x > y) - (x < y);
}

void sort_by_salary(struct employee *staff, size_t n)
{
    qsort(staff, n, sizeof *staff, by_salary);
}

int employee_format(const struct employee *e, char *buf, size_t cap)
{
    return snprintf(buf, cap, "%s (%d), dept %d: %.2f", e->name, e->age, e->dept, e->salary);
}

struct employee *employee_new(const char *name, int age, double salary)
{
    struct employee *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    strncpy(e->name, name, sizeof e->name - 1);
    e->age = age;
    e->salary = salary;
    e->dept = -1;
    return e;
}

int raise_salaries(struct employee *staff, size_t n, int dept, double percent)
{
    int changed = 0;
    for (size_t i = 0; i < n; i++) {
        if (staff[i].dept == dept) {
            staff[i].salary *= 1.0 + percent / 100.0;
            changed++;
        }
    }
    return changed;
}

int print_points(FILE *out, const struct point *pts, size_t n)
{
    int written = 0;
    for (size_t i = 0; i < n; i++)
        written += fprintf(out, "(%d, %d)%s", pts[i].x, pts[i].y, i + 1 < n ? ", " : "\n");
    return written;
}
