/* Tests for corpus/handwritten/strings.c, one main() per function after each "test:"
   marker. Written for decomptune. SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* test: str_length */
int main(void)
{
    assert(str_length("") == 0);
    assert(str_length("decomp") == 6);
    assert(str_length("abc") == 3);
    return 0;
}

/* test: str_reverse */
int main(void)
{
    char odd[] = "abcde", even[] = "abcd", empty[] = "";
    str_reverse(odd);
    str_reverse(even);
    str_reverse(empty);
    assert(strcmp(odd, "edcba") == 0 && strcmp(even, "dcba") == 0 && empty[0] == 0);
    return 0;
}

/* test: str_is_palindrome */
int main(void)
{
    assert(str_is_palindrome("Racecar") == 1);
    assert(str_is_palindrome("abca") == 0);
    assert(str_is_palindrome("") == 1);
    return 0;
}

/* test: str_count_char */
int main(void)
{
    assert(str_count_char("banana", 'a') == 3);
    assert(str_count_char("banana", 'z') == 0);
    return 0;
}

/* test: str_trim */
int main(void)
{
    char s[] = "  \thello world \n";
    char blank[] = "   ";
    assert(strcmp(str_trim(s), "hello world") == 0);
    assert(strcmp(str_trim(blank), "") == 0);
    return 0;
}

/* test: str_starts_with */
int main(void)
{
    assert(str_starts_with("decompile", "decomp") == 1);
    assert(str_starts_with("decompile", "") == 1);
    assert(str_starts_with("dec", "decomp") == 0);
    assert(str_starts_with("recompile", "decomp") == 0);
    return 0;
}

/* test: str_ends_with */
int main(void)
{
    assert(str_ends_with("file.c", ".c") == 1);
    assert(str_ends_with("file.h", ".c") == 0);
    assert(str_ends_with("c", "abc") == 0);
    return 0;
}

/* test: str_to_upper */
int main(void)
{
    char s[] = "Hello, world 42!";
    str_to_upper(s);
    assert(strcmp(s, "HELLO, WORLD 42!") == 0);
    return 0;
}

/* test: str_duplicate */
int main(void)
{
    const char *src = "copy me";
    char *d = str_duplicate(src);
    assert(d != NULL && d != src && strcmp(d, src) == 0);
    free(d);
    return 0;
}

/* test: str_count_words */
int main(void)
{
    assert(str_count_words("  the quick\tbrown  fox\n") == 4);
    assert(str_count_words("") == 0);
    assert(str_count_words("   ") == 0);
    assert(str_count_words("one") == 1);
    return 0;
}

/* test: str_replace_char */
int main(void)
{
    char s[] = "a-b-c";
    str_replace_char(s, '-', '+');
    assert(strcmp(s, "a+b+c") == 0);
    return 0;
}

/* test: str_compare_nocase */
int main(void)
{
    assert(str_compare_nocase("Hello", "hELLO") == 0);
    assert(str_compare_nocase("abc", "abd") < 0);
    assert(str_compare_nocase("b", "A") > 0);
    assert(str_compare_nocase("ab", "a") > 0);
    return 0;
}

/* test: str_remove_vowels */
int main(void)
{
    char s[] = "Education";
    assert(str_remove_vowels(s) == 4);
    assert(strcmp(s, "dctn") == 0);
    return 0;
}

/* test: str_concat */
int main(void)
{
    char *r = str_concat("foo", "bar");
    assert(r != NULL && strcmp(r, "foobar") == 0);
    free(r);
    return 0;
}

/* test: str_find */
int main(void)
{
    assert(str_find("hello world", "world") == 6);
    assert(str_find("hello", "xyz") == -1);
    assert(str_find("aaa", "") == 0);
    return 0;
}
