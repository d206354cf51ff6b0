/* Tests for corpus/generate.py's "math" family (see arrays.c for the layout). Values fit
   every element type, short included. */
#include <assert.h>

/* test: NAME_gcd */
int main(void)
{
    assert(NAME_gcd(12, 18) == 6);
    assert(NAME_gcd(7, 0) == 7);
    assert(NAME_gcd(17, 5) == 1);
    return 0;
}

/* test: NAME_lcm */
int main(void)
{
    assert(NAME_lcm(4, 6) == 12);
    assert(NAME_lcm(0, 5) == 0);
    assert(NAME_lcm(7, 3) == 21);
    return 0;
}

/* test: NAME_pow_mod */
int main(void)
{
    assert(NAME_pow_mod(3, 4, 7) == 4);
    assert(NAME_pow_mod(2, 10, 1000) == 24);
    assert(NAME_pow_mod(5, 0, 1) == 0);
    return 0;
}

/* test: NAME_isqrt */
int main(void)
{
    assert(NAME_isqrt(17) == 4);
    assert(NAME_isqrt(16) == 4);
    assert(NAME_isqrt(0) == 0);
    assert(NAME_isqrt(1) == 1);
    return 0;
}

/* test: NAME_is_prime */
int main(void)
{
    assert(NAME_is_prime(13) == 1);
    assert(NAME_is_prime(2) == 1);
    assert(NAME_is_prime(15) == 0);
    assert(NAME_is_prime(1) == 0);
    assert(NAME_is_prime(49) == 0);
    return 0;
}

/* test: NAME_fib */
int main(void)
{
    assert(NAME_fib(0) == 0);
    assert(NAME_fib(1) == 1);
    assert(NAME_fib(10) == 55);
    return 0;
}

/* test: NAME_factorial */
int main(void)
{
    assert(NAME_factorial(0) == 1);
    assert(NAME_factorial(5) == 120);
    return 0;
}

/* test: NAME_binomial */
int main(void)
{
    assert(NAME_binomial(5, 2) == 10);
    assert(NAME_binomial(6, 6) == 1);
    assert(NAME_binomial(3, 5) == 0);
    return 0;
}

/* test: NAME_digit_sum */
int main(void)
{
    assert(NAME_digit_sum(1234) == 10);
    assert(NAME_digit_sum(0) == 0);
    return 0;
}

/* test: NAME_reverse_digits */
int main(void)
{
    assert(NAME_reverse_digits(1234) == 4321);
    assert(NAME_reverse_digits(120) == 21);
    return 0;
}

/* test: NAME_collatz_steps */
int main(void)
{
    assert(NAME_collatz_steps(6) == 8);
    assert(NAME_collatz_steps(1) == 0);
    assert(NAME_collatz_steps(27) == 111);
    return 0;
}

/* test: NAME_sum_divisors */
int main(void)
{
    assert(NAME_sum_divisors(12) == 28);
    assert(NAME_sum_divisors(1) == 1);
    assert(NAME_sum_divisors(9) == 13);
    return 0;
}
