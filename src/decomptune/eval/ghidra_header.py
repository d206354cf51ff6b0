"""Ghidra's type names and helper macros as plain C, for scoring decompiler output as-is.

Raw Ghidra output does not compile on its own (`undefined8`, `ulong`, `CONCAT44`, ...).
Prepending this header (`--ghidra-header`) gives the fair "decompiler alone" baseline a
model must beat. Sizes follow x86-64 Linux (LP64), the benchmark's target.
"""
from __future__ import annotations

from itertools import product


def _concat_macros() -> list[str]:
    # CONCATxy(hi, lo): an x-byte high part above a y-byte low part (only what fits 64 bits).
    lines = []
    for hi, lo in product(range(1, 8), repeat=2):
        if hi + lo <= 8:
            mask = f"0x{(1 << (8 * lo)) - 1:x}UL"
            lines.append(f"#define CONCAT{hi}{lo}(h, l) "
                         f"((((unsigned long)(h)) << {8 * lo}) | (((unsigned long)(l)) & {mask}))")
    return lines


GHIDRA_HEADER = "\n".join([
    "/* Ghidra types and helpers (decomptune --ghidra-header) */",
    "#include <stdbool.h>",
    "#include <math.h>",
    "typedef unsigned char undefined;",
    "typedef unsigned char undefined1;",
    "typedef unsigned short undefined2;",
    "typedef unsigned int undefined3;",
    "typedef unsigned int undefined4;",
    "typedef unsigned long undefined5;",
    "typedef unsigned long undefined6;",
    "typedef unsigned long undefined7;",
    "typedef unsigned long undefined8;",
    "typedef unsigned char byte;",
    "typedef unsigned char uchar;",
    "typedef unsigned short ushort;",
    "typedef unsigned short word;",
    "typedef unsigned int uint;",
    "typedef unsigned int dword;",
    "typedef unsigned long ulong;",
    "typedef unsigned long qword;",
    "typedef long long longlong;",
    "typedef unsigned long long ulonglong;",
    "typedef long code();",
    *_concat_macros(),
    "#define SUB41(x, n) ((unsigned char)((unsigned int)(x) >> ((n) * 8)))",
    "#define SUB42(x, n) ((unsigned short)((unsigned int)(x) >> ((n) * 8)))",
    "#define SUB81(x, n) ((unsigned char)((unsigned long)(x) >> ((n) * 8)))",
    "#define SUB82(x, n) ((unsigned short)((unsigned long)(x) >> ((n) * 8)))",
    "#define SUB84(x, n) ((unsigned int)((unsigned long)(x) >> ((n) * 8)))",
    "#define ZEXT48(x) ((unsigned long)(unsigned int)(x))",
    "#define SEXT48(x) ((long)(int)(x))",
    "#define CARRY1(a, b) ((unsigned char)((unsigned char)(a) + (unsigned char)(b)) < (unsigned char)(a))",
    "#define CARRY4(a, b) ((unsigned int)((unsigned int)(a) + (unsigned int)(b)) < (unsigned int)(a))",
    "#define CARRY8(a, b) ((unsigned long)((unsigned long)(a) + (unsigned long)(b)) < (unsigned long)(a))",
    "#define SBORROW4(a, b) __builtin_sub_overflow_p((int)(a), (int)(b), (int)0)",
    "#define SBORROW8(a, b) __builtin_sub_overflow_p((long)(a), (long)(b), (long)0)",
    "#define SCARRY4(a, b) __builtin_add_overflow_p((int)(a), (int)(b), (int)0)",
    "#define SCARRY8(a, b) __builtin_add_overflow_p((long)(a), (long)(b), (long)0)",
    "#define SQRT(x) sqrt(x)",
    "#define ABS(x) ((x) < 0 ? -(x) : (x))",
    "#define POPCOUNT(x) __builtin_popcountl((unsigned long)(x))",
    # Ghidra declares `long in_FS_OFFSET;` and reads the stack canary at in_FS_OFFSET + 0x28.
    # Left uninitialised that reads garbage and a row passes or crashes by chance; this makes
    # the declaration, and every use, evaluate to the real thread pointer (x86-64 %fs base).
    "#define in_FS_OFFSET in_FS_OFFSET = (long)__builtin_thread_pointer()",
    "",
])
