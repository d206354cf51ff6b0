/* Tests for corpus/generate.py's "floats" family (see arrays.c for the layout). Inputs are
   exact in float and double; results are compared within a small tolerance. */
#include <assert.h>
#include <math.h>

#define CLOSE(a, b) (fabs((double)(a) - (double)(b)) < 1e-4)

/* test: NAME_mean */
int main(void)
{
    T x[] = {1, 2, 3, 6};
    assert(CLOSE(NAME_mean(x, 4), 3));
    assert(NAME_mean(x, 0) == 0);
    return 0;
}

/* test: NAME_variance */
int main(void)
{
    T x[] = {2, 4, 4, 4, 5, 5, 7, 9};
    assert(CLOSE(NAME_variance(x, 8), 32.0 / 7));
    assert(NAME_variance(x, 1) == 0);
    return 0;
}

/* test: NAME_poly_eval */
int main(void)
{
    T c[] = {1, -2, 3}; /* 1 - 2x + 3x^2 */
    assert(CLOSE(NAME_poly_eval(c, 2, 2), 9));
    assert(CLOSE(NAME_poly_eval(c, 0, 5), 1));
    return 0;
}

/* test: NAME_clamp */
int main(void)
{
    assert(NAME_clamp(5, 0, 10) == 5);
    assert(NAME_clamp(-3, 0, 10) == 0);
    assert(NAME_clamp(12.5, 0, 10) == 10);
    return 0;
}

/* test: NAME_lerp */
int main(void)
{
    assert(CLOSE(NAME_lerp(2, 6, 0.25), 3));
    assert(CLOSE(NAME_lerp(2, 6, 1), 6));
    return 0;
}

/* test: NAME_norm2 */
int main(void)
{
    T v[] = {3, 4};
    assert(CLOSE(NAME_norm2(v, 2), 5));
    return 0;
}

/* test: NAME_newton_sqrt */
int main(void)
{
    assert(CLOSE(NAME_newton_sqrt(2), 1.41421356));
    assert(CLOSE(NAME_newton_sqrt(0.25), 0.5));
    assert(NAME_newton_sqrt(-1) == 0);
    return 0;
}

/* test: NAME_trapezoid */
int main(void)
{
    T y[] = {0, 1, 4, 9};
    assert(CLOSE(NAME_trapezoid(y, 4, 0.5), 0.5 * (4.5 + 5)));
    assert(NAME_trapezoid(y, 1, 1) == 0);
    return 0;
}

/* test: NAME_nearly_equal */
int main(void)
{
    assert(NAME_nearly_equal(1.0, 1.05, 0.1) == 1);
    assert(NAME_nearly_equal(1.0, 1.5, 0.1) == 0);
    assert(NAME_nearly_equal(1.5, 1.0, 0.1) == 0);
    return 0;
}

/* test: NAME_normalize */
int main(void)
{
    T v[] = {3, 4};
    NAME_normalize(v, 2);
    assert(CLOSE(v[0], 0.6) && CLOSE(v[1], 0.8));
    T z[] = {0, 0};
    NAME_normalize(z, 2);
    assert(z[0] == 0 && z[1] == 0);
    return 0;
}

/* test: NAME_celsius_to_fahrenheit */
int main(void)
{
    assert(CLOSE(NAME_celsius_to_fahrenheit(100), 212));
    assert(CLOSE(NAME_celsius_to_fahrenheit(-40), -40));
    return 0;
}

/* test: NAME_horner_derivative */
int main(void)
{
    T c[] = {1, -2, 3}; /* d/dx = -2 + 6x */
    assert(CLOSE(NAME_horner_derivative(c, 2, 2), 10));
    return 0;
}
