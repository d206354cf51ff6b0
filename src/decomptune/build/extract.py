"""Find every function defined in a C file and its exact source text, with tree-sitter-c.

A parser rather than regexes: definitions inside ``#ifdef`` blocks, pointer-returning
functions, K&R parameter lists and attributes all come out with exact byte ranges.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class SourceFunction:
    name: str
    text: str  # the definition exactly as written, from its specifiers to the closing brace
    line: int  # 1-based


@lru_cache(maxsize=1)
def _parser():
    import tree_sitter
    import tree_sitter_c

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))


def _declared_name(declarator) -> str | None:
    """Walk pointer/parenthesised declarators down to the function's identifier."""
    node = declarator
    while node is not None:
        if node.type == "identifier":
            return node.text.decode()
        if node.type == "function_declarator":
            inner = node.child_by_field_name("declarator")
            if inner is not None and inner.type == "identifier":
                return inner.text.decode()
            node = inner
        elif node.type in ("pointer_declarator", "parenthesized_declarator", "attributed_declarator"):
            node = node.child_by_field_name("declarator") or next(
                (c for c in node.named_children if c.type.endswith("declarator") or c.type == "identifier"), None)
        else:
            return None
    return None


def extract_functions(source: bytes) -> list[SourceFunction]:
    """Definitions in file order. A name defined twice (``#if``/``#else`` variants) is dropped:
    which one gcc compiled depends on the preprocessor, so neither text is a safe target."""
    tree = _parser().parse(source)
    found: list[SourceFunction] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            name = _declared_name(node.child_by_field_name("declarator"))
            if name and not node.has_error:
                found.append(SourceFunction(name, node.text.decode("utf-8", "replace"), node.start_point[0] + 1))
            continue
        stack.extend(reversed(node.children))
    counts: dict[str, int] = {}
    for fn in found:
        counts[fn.name] = counts.get(fn.name, 0) + 1
    return [fn for fn in found if counts[fn.name] == 1]
