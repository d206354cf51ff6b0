/* Written for decomptune's sample corpus. SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

size_t str_length(const char *s)
{
    const char *p = s;
    while (*p)
        p++;
    return (size_t)(p - s);
}

void str_reverse(char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n / 2; i++) {
        char t = s[i];
        s[i] = s[n - 1 - i];
        s[n - 1 - i] = t;
    }
}

int str_is_palindrome(const char *s)
{
    size_t i = 0, j = strlen(s);
    while (i + 1 < j) {
        if (tolower((unsigned char)s[i]) != tolower((unsigned char)s[j - 1]))
            return 0;
        i++;
        j--;
    }
    return 1;
}

int str_count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        if (*s == c)
            n++;
    return n;
}

char *str_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    *end = '\0';
    return s;
}

int str_starts_with(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return 0;
    return 1;
}

int str_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return m <= n && memcmp(s + n - m, suffix, m) == 0;
}

void str_to_upper(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z')
            *s = (char)(*s - 'a' + 'A');
}

char *str_duplicate(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

int str_count_words(const char *s)
{
    int words = 0, inside = 0;
    for (; *s; s++) {
        if (isspace((unsigned char)*s))
            inside = 0;
        else if (!inside) {
            inside = 1;
            words++;
        }
    }
    return words;
}

void str_replace_char(char *s, char from, char to)
{
    while ((s = strchr(s, from)) != NULL)
        *s++ = to;
}

int str_compare_nocase(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = tolower((unsigned char)*a), cb = tolower((unsigned char)*b);
        if (ca != cb || ca == 0)
            return ca - cb;
    }
}

size_t str_remove_vowels(char *s)
{
    size_t w = 0;
    for (size_t r = 0; s[r]; r++)
        if (!strchr("aeiouAEIOU", s[r]))
            s[w++] = s[r];
    s[w] = '\0';
    return w;
}

char *str_concat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *r = malloc(na + nb + 1);
    if (r == NULL)
        return NULL;
    memcpy(r, a, na);
    memcpy(r + na, b, nb + 1);
    return r;
}

int str_find(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (int i = 0; hay[i]; i++)
        if (strncmp(hay + i, needle, n) == 0)
            return i;
    return -1;
}
