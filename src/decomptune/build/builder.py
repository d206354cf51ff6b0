"""C sources -> (Ghidra pseudo-C, original function) pairs: find files, decompile, filter, split, write.

Resumable: every finished file (its rows and failures) is appended to a state file next to
the output, so a rerun after an interruption only processes what is missing or changed.
The output itself is written once at the end, atomically.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from decomptune.build.compile import DEFAULT_CFLAGS, OPT_LEVELS
from decomptune.build.extract import extract_functions
from decomptune.build.filters import apply_filters, function_key, split_rows
from decomptune.build.normalize import NORMALIZE_VERSION
from decomptune.build.pool import DecompilerPool

log = logging.getLogger(__name__)
DECOMPILER = "ghidra"
ROW_COLUMNS = ("instruction", "output", "opt", "function", "source_file", "source_sha256",
               "decompiler", "decompiler_version", "split")


@dataclass
class BuildOptions:
    sources: list[str]
    out: str
    opts: list[str] = field(default_factory=lambda: list(OPT_LEVELS))
    jobs: int = 1
    valid_fraction: float = 0.1
    max_tokens: int | None = None
    tokenizer: str | None = None
    dedup_levels: bool = False
    include_main: bool = False
    cflags: list[str] = field(default_factory=lambda: list(DEFAULT_CFLAGS))
    cc: str = "gcc"
    progress: bool = True

    def fingerprint(self) -> dict:
        """What makes a finished file's rows reusable on resume."""
        return {"opts": self.opts, "cflags": self.cflags, "cc": self.cc, "include_main": self.include_main,
                "normalize_version": NORMALIZE_VERSION}


@dataclass
class OutputPaths:
    rows: list[Path]  # one file (with a split column) or train.jsonl + valid.jsonl
    state: Path
    report: Path
    worker_log: Path

    @classmethod
    def for_out(cls, out: str) -> OutputPaths:
        path = Path(out)
        if path.suffix == ".jsonl":
            stem = path.with_suffix("")
            return cls([path], Path(f"{stem}.state.jsonl"), Path(f"{stem}.report.json"), Path(f"{stem}.worker.log"))
        return cls([path / "train.jsonl", path / "valid.jsonl"], path / ".build-state.jsonl",
                   path / "build-report.json", path / ".build-worker.log")


def find_c_files(sources: list[str], counts: Counter, problems: list[str]) -> list[tuple[Path, str]]:
    """(path, name for the rows) for every .c file; a missing path is reported, not fatal."""
    found: list[tuple[Path, str]] = []
    for src in sources:
        root = Path(src)
        if root.is_dir():
            for path in sorted(root.rglob("*.c")):
                found.append((path, str(path.relative_to(root.parent))))
        elif root.is_file():
            found.append((root, root.name))
        else:
            counts["unreadable_path"] += 1
            problems.append(f"{src}: no such file or directory")
    return found


def read_source(path: Path, counts: Counter, problems: list[str]) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        counts["unreadable_path"] += 1
        problems.append(f"{path}: cannot read ({exc.strerror})")
        return None
    if b"\0" in data:
        counts["not_c_text"] += 1
        problems.append(f"{path}: binary data, not C source")
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        counts["not_c_text"] += 1
        problems.append(f"{path}: not UTF-8 text")
        return None
    return data


def _load_state(paths: OutputPaths, fingerprint: dict) -> dict[str, dict]:
    if not paths.state.exists():
        return {}
    done: dict[str, dict] = {}
    with open(paths.state) as fh:
        lines = fh.read().splitlines()
    if not lines or json.loads(lines[0]).get("options") != fingerprint:
        log.warning("%s was made with other options; starting over", paths.state)
        paths.state.unlink()
        return {}
    for line in lines[1:]:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # the line being written when the build was interrupted
            continue
        done[entry["source_file"]] = entry
    return done


def _append_state(paths: OutputPaths, entry: dict, fingerprint: dict) -> None:
    new = not paths.state.exists()
    with open(paths.state, "a") as fh:
        if new:
            fh.write(json.dumps({"options": fingerprint}) + "\n")
        fh.write(json.dumps(entry) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _write_atomic(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        for row in rows:
            fh.write(json.dumps({k: row[k] for k in ROW_COLUMNS}, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def build(options: BuildOptions) -> dict:
    """Run the whole build; returns the report (counts, problems, outputs)."""
    counts: Counter = Counter()
    problems: list[str] = []
    paths = OutputPaths.for_out(options.out)
    paths.report.parent.mkdir(parents=True, exist_ok=True)
    fingerprint = options.fingerprint()
    done = _load_state(paths, fingerprint)

    pending: list[dict] = []
    sources: dict[str, dict] = {}
    for path, name in find_c_files(options.sources, counts, problems):
        counts["files_seen"] += 1
        data = read_source(path, counts, problems)
        if data is None:
            continue
        sha = hashlib.sha256(data).hexdigest()
        functions = {f.name: f.text for f in extract_functions(data)
                     if options.include_main or f.name != "main"}
        if not functions:
            counts["no_functions"] += 1
            problems.append(f"{path}: no function definitions found")
            continue
        sources[name] = {"sha256": sha, "functions": functions}
        if name in done and done[name]["source_sha256"] == sha:
            counts["files_resumed"] += 1
            continue
        pending.append({"path": str(path), "source_file": name, "functions": list(functions),
                        "opts": options.opts, "cflags": options.cflags, "cc": options.cc})

    version = done and next(iter(done.values())).get("decompiler_version")
    if pending:
        with DecompilerPool(options.jobs, paths.worker_log) as pool:
            version = pool.version
            bar = tqdm(total=len(pending), unit="file", desc="build-data", disable=not options.progress)
            by_path = {job["path"]: job for job in pending}
            for result in pool.imap_unordered(pending):
                job = by_path[result["path"]]
                entry = {"source_file": job["source_file"], "source_sha256": sources[job["source_file"]]["sha256"],
                         "decompiler_version": version, "rows": result.get("rows", []),
                         "failures": result.get("failures", {})}
                _append_state(paths, entry, fingerprint)
                done[job["source_file"]] = entry
                bar.update(1)
            bar.close()

    rows = _collect_rows(done, sources, counts, problems)
    rows = apply_filters(rows, counts, dedup_levels=options.dedup_levels, max_tokens=options.max_tokens,
                         count_tokens=_token_counter(options) if options.max_tokens else None)
    rows = split_rows(rows, options.valid_fraction, counts)
    _write_outputs(paths, rows)
    report = {"counts": dict(sorted(counts.items())), "rows_written": len(rows),
              "outputs": [str(p) for p in paths.rows], "decompiler_version": version,
              "options": asdict(options), "problems": problems}
    with open(paths.report.with_name(paths.report.name + ".tmp"), "w") as fh:
        json.dump(report, fh, indent=2)
    os.replace(paths.report.with_name(paths.report.name + ".tmp"), paths.report)
    return report


def _collect_rows(done: dict[str, dict], sources: dict[str, dict], counts: Counter, problems: list[str]) -> list[dict]:
    rows: list[dict] = []
    level_order = {lvl: i for i, lvl in enumerate(OPT_LEVELS)}
    for name in sorted(sources):
        entry = done.get(name)
        if entry is None:
            continue
        counts["files_built"] += 1
        failures = entry["failures"]
        for kind in ("compile", "decompile", "not_in_binary"):
            counts[{"compile": "compile_failed", "decompile": "decompile_failed",
                    "not_in_binary": "function_not_in_binary"}[kind]] += len(failures.get(kind, []))
        problems.extend(failures.get("compile", []) + failures.get("decompile", []))
        if failures.get("compile") and not entry["rows"]:
            counts["files_not_compiled"] += 1
        texts = sources[name]["functions"]
        order = {fn: i for i, fn in enumerate(texts)}
        for row in sorted(entry["rows"], key=lambda r: (order.get(r["function"], 0), level_order[r["opt"]])):
            text = texts.get(row["function"])
            if text is None:
                continue
            counts["pairs_decompiled"] += 1
            rows.append({**row, "output": text, "source_file": name, "source_sha256": entry["source_sha256"],
                         "decompiler": DECOMPILER, "decompiler_version": entry["decompiler_version"],
                         "_key": function_key(text)})
    return rows


def _token_counter(options: BuildOptions):
    try:
        from decomptune.tokenizer import load_tokenizer

        tokenizer = load_tokenizer(options.tokenizer)
        tokenizer.model_max_length = 1 << 30  # we only count; silence the "too long" warning
    except ImportError:  # a decompiler-only environment without transformers
        return None
    return lambda texts: [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def _write_outputs(paths: OutputPaths, rows: list[dict]) -> None:
    if len(paths.rows) == 1:
        _write_atomic(paths.rows[0], rows)
        return
    paths.rows[0].parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(paths.rows[0], [r for r in rows if r["split"] == "train"])
    _write_atomic(paths.rows[1], [r for r in rows if r["split"] == "valid"])
