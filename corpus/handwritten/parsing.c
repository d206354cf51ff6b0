/* Written for decomptune's sample corpus. SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long parse_decimal(const char *s, int *ok)
{
    long v = 0;
    int sign = 1;
    *ok = 0;
    while (*s == ' ')
        s++;
    if (*s == '-' || *s == '+') {
        sign = (*s == '-') ? -1 : 1;
        s++;
    }
    if (!isdigit((unsigned char)*s))
        return 0;
    while (isdigit((unsigned char)*s))
        v = v * 10 + (*s++ - '0');
    *ok = (*s == '\0');
    return sign * v;
}

unsigned long parse_hex(const char *s)
{
    unsigned long v = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    for (;; s++) {
        int d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F')
            d = *s - 'A' + 10;
        else
            break;
        v = (v << 4) | (unsigned long)d;
    }
    return v;
}

int count_csv_fields(const char *line)
{
    int fields = 1, quoted = 0;
    for (; *line && *line != '\n'; line++) {
        if (*line == '"')
            quoted = !quoted;
        else if (*line == ',' && !quoted)
            fields++;
    }
    return fields;
}

enum token_kind { TOK_END, TOK_NUMBER, TOK_IDENT, TOK_PUNCT };

enum token_kind next_token(const char **cursor, char *text, size_t cap)
{
    const char *p = *cursor;
    size_t n = 0;
    enum token_kind kind;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0') {
        kind = TOK_END;
    } else if (isdigit((unsigned char)*p)) {
        kind = TOK_NUMBER;
        while (isdigit((unsigned char)*p) && n + 1 < cap)
            text[n++] = *p++;
    } else if (isalpha((unsigned char)*p) || *p == '_') {
        kind = TOK_IDENT;
        while ((isalnum((unsigned char)*p) || *p == '_') && n + 1 < cap)
            text[n++] = *p++;
    } else {
        kind = TOK_PUNCT;
        text[n++] = *p++;
    }
    text[n] = '\0';
    *cursor = p;
    return kind;
}

int balanced_brackets(const char *s)
{
    char stack[128];
    int top = 0;
    for (; *s; s++) {
        char c = *s;
        if (c == '(' || c == '[' || c == '{') {
            if (top == (int)sizeof stack)
                return 0;
            stack[top++] = c;
        } else if (c == ')' || c == ']' || c == '}') {
            char open = c == ')' ? '(' : (c == ']' ? '[' : '{');
            if (top == 0 || stack[--top] != open)
                return 0;
        }
    }
    return top == 0;
}

size_t rle_encode(const char *in, char *out, size_t cap)
{
    size_t w = 0;
    while (*in) {
        char c = *in;
        int run = 0;
        while (*in == c && run < 9) {
            in++;
            run++;
        }
        if (w + 2 >= cap)
            break;
        out[w++] = (char)('0' + run);
        out[w++] = c;
    }
    out[w] = '\0';
    return w;
}

size_t rle_decode(const char *in, char *out, size_t cap)
{
    size_t w = 0;
    while (in[0] >= '1' && in[0] <= '9' && in[1]) {
        for (int k = 0; k < in[0] - '0' && w + 1 < cap; k++)
            out[w++] = in[1];
        in += 2;
    }
    out[w] = '\0';
    return w;
}

int eval_rpn(const char *expr, long *result)
{
    long stack[32];
    int sp = 0;
    char *end;
    while (*expr) {
        if (isspace((unsigned char)*expr)) {
            expr++;
        } else if (isdigit((unsigned char)*expr)) {
            if (sp == 32)
                return 0;
            stack[sp++] = strtol(expr, &end, 10);
            expr = end;
        } else {
            if (sp < 2)
                return 0;
            long b = stack[--sp], a = stack[--sp];
            switch (*expr++) {
            case '+': stack[sp++] = a + b; break;
            case '-': stack[sp++] = a - b; break;
            case '*': stack[sp++] = a * b; break;
            case '/':
                if (b == 0)
                    return 0;
                stack[sp++] = a / b;
                break;
            default:
                return 0;
            }
        }
    }
    if (sp != 1)
        return 0;
    *result = stack[0];
    return 1;
}

int parse_ipv4(const char *s, unsigned char out[4])
{
    for (int i = 0; i < 4; i++) {
        int v = 0, digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 3) {
            v = v * 10 + (*s++ - '0');
            digits++;
        }
        if (digits == 0 || v > 255)
            return 0;
        out[i] = (unsigned char)v;
        if (i < 3 && *s++ != '.')
            return 0;
    }
    return *s == '\0';
}

int format_duration(char *buf, size_t cap, long seconds)
{
    long h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60;
    if (h > 0)
        return snprintf(buf, cap, "%ldh%02ldm%02lds", h, m, s);
    if (m > 0)
        return snprintf(buf, cap, "%ldm%02lds", m, s);
    return snprintf(buf, cap, "%lds", s);
}

enum door_state { DOOR_CLOSED, DOOR_OPEN, DOOR_LOCKED };

enum door_state door_step(enum door_state st, char event)
{
    switch (st) {
    case DOOR_CLOSED:
        if (event == 'o') return DOOR_OPEN;
        if (event == 'l') return DOOR_LOCKED;
        return st;
    case DOOR_OPEN:
        return event == 'c' ? DOOR_CLOSED : st;
    case DOOR_LOCKED:
        return event == 'u' ? DOOR_CLOSED : st;
    }
    return st;
}

int match_glob(const char *pat, const char *s)
{
    if (*pat == '\0')
        return *s == '\0';
    if (*pat == '*')
        return match_glob(pat + 1, s) || (*s && match_glob(pat, s + 1));
    if (*s && (*pat == '?' || *pat == *s))
        return match_glob(pat + 1, s + 1);
    return 0;
}
