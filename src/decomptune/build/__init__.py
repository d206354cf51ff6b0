"""Build (Ghidra pseudo-C, C source) training pairs from C files: ``decomptune build-data``.

C file ─gcc -O0..O3─▶ linked x86-64 executable ─flatline (Ghidra's decompiler)─▶ core pseudo-C
─normalize─▶ Ghidra-export style ─filters, split─▶ rows (instruction, output, opt, function, …)

Modules: ``compile`` (gcc), ``elfimage`` (memory image, symbols, PLT names), ``worker`` (one
file, in any interpreter that has flatline), ``pool`` (which interpreter; parallel workers),
``normalize`` (the name/type mapping table), ``extract`` (function text via tree-sitter-c),
``filters``, ``builder`` (resumable orchestration), ``cli`` (``main(argv)``).

Python versions: flatline needs Python >= 3.13. If the current interpreter can import it,
workers use it; otherwise they run in ``.venv-decompiler`` (made by
``scripts/setup_decompiler.sh``), or in ``$DECOMPTUNE_DECOMPILER_PYTHON`` when set.
This package must stay importable there: no torch, no transformers at module level.
"""
