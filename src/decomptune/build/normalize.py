"""Rewrite Ghidra decompiler-core output into the style Ghidra's GUI and headless exports show.

flatline runs the decompiler core without Ghidra's Java side, so its text uses the core's
internal names (``int4``, ``xunknown8``, ``func_0x00101030``, ``iStack_c``, ``code_r0x…``).
The reference datasets (LLM4Decompile's decompile-ghidra, HumanEval-Decompile) are headless
exports: ``int``, ``undefined8``, ``strlen``, ``local_c``, ``LAB_…``. Everything that differs
is in the tables and functions below, so a reader can check one place.

Pure Python on purpose: it runs inside the decompiler's helper interpreter too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# Bump when the rewriting changes, so resumed builds redo files made with older rules.
NORMALIZE_VERSION = 1

# Decompiler-core type name -> the name Ghidra's data type manager prints (x86-64 gcc).
GHIDRA_TYPE_NAMES: dict[str, str] = {
    "int1": "char",
    "uint1": "byte",
    "int2": "short",
    "uint2": "ushort",
    "int4": "int",
    "uint4": "uint",
    "int8": "long",
    "uint8": "ulong",
    "int16": "int16",
    "uint16": "uint16",
    "xunknown1": "undefined",
    "xunknown2": "undefined2",
    "xunknown4": "undefined4",
    "xunknown8": "undefined8",
    "xunknown16": "undefined1 [16]",
    "float4": "float",
    "float8": "double",
    "float10": "float10",
    "float16": "float16",
    "wchar2": "wchar16",
    "wchar4": "wchar32",
}
_PRINTABLE = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}
_ESCAPES = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}
# A pointer to a one-byte unknown prints as ``undefined1 *`` in exports (a scalar is ``undefined``).
POINTER_TYPE_NAMES: dict[str, str] = {"xunknown1": "undefined1"}
# Internal names that must never reach a training row (used by tests and the final check).
INTERNAL_TYPE_RE = re.compile(r"\b(?:u?int(?:1|2|4|8)|xunknown\d+|float(?:4|8)|wchar[24])\b")

_TYPE_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, GHIDRA_TYPE_NAMES), key=len, reverse=True)) + r")\b")
# "xunknown1 *" / "xunknown1 **": the pointer spelling differs from the scalar one.
_PTR_TYPE_RE = re.compile(r"\b(" + "|".join(map(re.escape, POINTER_TYPE_NAMES)) + r")(?= \*)")
# Local declarations as the core prints them: "  int8 *piStack_20;", "  xunknown1 axStack_48 [40];".
_DECL_RE = re.compile(r"^  ([A-Za-z_]\w*) (\**)([a-z]*(?:Var|Stack)\w*?)(?: \[(\d+)\])?;$", re.M)
_VAR_RE = re.compile(r"^([a-z]*)(Var\d+|Stack_[0-9a-f]+)$")
_FUNC_CALL_RE = re.compile(r"\bfunc_0x([0-9a-f]+)\b")
_SELF_NAME_RE = re.compile(r"\bfunc_([0-9a-f]+)\b")
_LABEL_RE = re.compile(r"\bcode_r0x([0-9a-f]+)\b")
_RAM_RE = re.compile(r"\b[a-z]*Ram([0-9a-f]{16})\b")
_HEX_RE = re.compile(r"(?<![\w.])0x([0-9a-f]+)\b")
# A call followed by the hlt the worker places after the function: the callee does not return.
_NORETURN_RE = re.compile(
    r"^( *)((?:[\w.]+ = )?)([\w]+\(.*\);)\n *do \{\n *"
    r"/\* WARNING: Do nothing block with infinite loop \*/\n *\} while\( true \);\n", re.M)
NORETURN_COMMENT = " " * 20 + "/* WARNING: Subroutine does not return */"
# libc functions Ghidra's signature database marks noreturn; the core alone does not know them.
NORETURN_FUNCTIONS = frozenset({
    "__stack_chk_fail", "exit", "_exit", "_Exit", "quick_exit", "abort", "__assert_fail", "err", "errx",
    "verr", "verrx", "longjmp", "siglongjmp", "__longjmp_chk", "pthread_exit", "__fortify_fail", "__chk_fail"})
_NORETURN_CALL_RE = re.compile(
    r"^( *)(?:\w+ = )?(" + "|".join(sorted(NORETURN_FUNCTIONS)) + r")(\(.*\);)$", re.M)
# A tail call through a PLT stub: Ghidra knows the stub is a function, the core does not.
_PLT_JUMP_WARNINGS_RE = re.compile(
    r"^ */\* WARNING: Could not recover jumptable at [A-Za-z_]\w*\. Too many branches \*/\n"
    r" */\* WARNING: Treating indirect jump as call \*/\n", re.M)
_INDIRECT_NAMED_CALL_RE = re.compile(r"\(\*([A-Za-z_]\w*)\)\(")


@dataclass
class BinaryNames:
    """What the binary tells us about addresses, already shifted to the decompiler's image base."""

    functions: dict[int, str] = field(default_factory=dict)  # defined functions and PLT stubs
    data: dict[int, str] = field(default_factory=dict)  # defined objects (globals, statics)
    got_slots: dict[int, str] = field(default_factory=dict)  # GOT slot -> imported function
    rodata_start: int = 0
    rodata: bytes = b""  # read-only data, where string literals live

    def string_at(self, addr: int) -> str | None:
        """The C literal Ghidra shows for a pointer to a NUL-terminated printable string."""
        off = addr - self.rodata_start
        if not self.rodata or not 0 <= off < len(self.rodata):
            return None
        end = self.rodata.find(b"\0", off)
        raw = self.rodata[off:end]
        if end < 0 or not raw or any(b not in _PRINTABLE for b in raw):
            return None
        return '"' + "".join(_ESCAPES.get(b, chr(b)) for b in raw) + '"'


def ghidra_type(core_name: str) -> str:
    return GHIDRA_TYPE_NAMES.get(core_name, core_name)


def name_prefix(type_name: str, stars: int, is_array: bool) -> str:
    """Ghidra names a variable by its type: 'p' per pointer level, 'a' for arrays, then the
    first letter of the printed base type (``long`` -> l, ``undefined8`` -> u, ``double`` -> d)."""
    base = ghidra_type(type_name).split()[0]
    return "a" * is_array + "p" * stars + base[0].lower()


def addr_label(addr: int) -> str:
    return f"{addr:08x}"


def normalize(c_code: str, names: BinaryNames, func_name: str) -> str:
    """Return ``c_code`` in Ghidra's exported style; ``func_name`` names the decompiled function."""
    text = c_code.strip("\n") + "\n"
    text = _rename_variables(text)
    text = _LABEL_RE.sub(lambda m: "LAB_" + addr_label(int(m.group(1), 16)), text)
    text = _FUNC_CALL_RE.sub(lambda m: _callee(int(m.group(1), 16), names), text)
    text = _SELF_NAME_RE.sub(func_name, text, count=1)
    text = _RAM_RE.sub(lambda m: _data_ref(int(m.group(1), 16), names), text)
    text = _INDIRECT_NAMED_CALL_RE.sub(lambda m: m.group(1) + "(" if m.group(1) in names.functions.values() else m.group(0), text)
    text = _HEX_RE.sub(lambda m: _constant(m.group(0), int(m.group(1), 16), names), text)
    text = _NORETURN_RE.sub(lambda m: f"{NORETURN_COMMENT}\n{m.group(1)}{m.group(3)}\n", text)
    text = _NORETURN_CALL_RE.sub(_noreturn_call, text)
    text = _PLT_JUMP_WARNINGS_RE.sub("", text)
    text = _PTR_TYPE_RE.sub(lambda m: POINTER_TYPE_NAMES[m.group(1)], text)
    text = _TYPE_RE.sub(lambda m: GHIDRA_TYPE_NAMES[m.group(1)], text)
    # "undefined1 [16] auVar1;" is how the core would print it; exports put the brackets last.
    text = re.sub(r"undefined1 \[16\] (\**\w+)", r"undefined1 \1 [16]", text)
    return text


def _noreturn_call(m: re.Match) -> str:
    """``uVar2 = __stack_chk_fail();`` -> Ghidra's comment and a bare call (no value comes back)."""
    start = m.string.rfind("\n", 0, max(m.start() - 1, 0)) + 1
    if m.string[start:m.start()].strip() == NORETURN_COMMENT.strip():
        return f"{m.group(1)}{m.group(2)}{m.group(3)}"
    return f"{NORETURN_COMMENT}\n{m.group(1)}{m.group(2)}{m.group(3)}"


def _rename_variables(text: str) -> str:
    """Rename core variable names to the exported ones, by each variable's declared type."""
    renames: dict[str, str] = {}
    taken: set[str] = set()
    for type_name, stars, var, array_len in _DECL_RE.findall(text):
        m = _VAR_RE.match(var)
        if not m or var in renames:
            continue
        suffix = m.group(2)
        if suffix.startswith("Stack_"):
            # Ghidra's stack analysis commits stack slots as local_<offset>, same offset.
            new = "local_" + suffix[len("Stack_"):]
        else:
            new = name_prefix(type_name, len(stars), bool(array_len)) + suffix
        if new in taken:  # two core names would collide; keep the second one as printed
            continue
        renames[var] = new
        taken.add(new)
    if not renames:
        return text
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(renames, key=len, reverse=True))) + r")\b")
    return pattern.sub(lambda m: renames[m.group(1)], text)


def _callee(addr: int, names: BinaryNames) -> str:
    return names.functions.get(addr) or "FUN_" + addr_label(addr)


def _data_ref(addr: int, names: BinaryNames) -> str:
    return names.got_slots.get(addr) or names.data.get(addr) or "DAT_" + addr_label(addr)


def _constant(literal: str, value: int, names: BinaryNames) -> str:
    """Pointer constants become what Ghidra prints for them; plain numbers stay."""
    literal_text = names.string_at(value)
    if literal_text is not None:
        return literal_text
    if value in names.data:
        return "&" + names.data[value]
    if value in names.functions:
        return names.functions[value]
    return literal
