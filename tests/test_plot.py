"""loss.png from metrics.jsonl: a real PNG of the stated size, re-rendered by `decomptune plot`."""
from __future__ import annotations

import json
import struct

from decomptune.cli import main as cli_main
from decomptune.plot import DPI, FIGSIZE_IN, render_loss_plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def write_metrics(run_dir, with_eval: bool) -> None:
    rows = [{"step": s, "loss": 4.0 / s, "learning_rate": 1e-3 * (1 - s / 10)} for s in range(1, 9)]
    if with_eval:
        rows += [{"step": 4, "eval/reexec_rate": 0.1, "eval/compile_rate": 0.5},
                 {"step": 8, "eval/reexec_rate": 0.3, "eval/compile_rate": 0.7}]
    rows.append({"step": 8, "train_runtime": 12.0, "train_loss": 1.2})
    run_dir.mkdir(exist_ok=True)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_loss_plot_is_a_png_of_the_stated_size_with_or_without_eval(tmp_path):
    expected = (FIGSIZE_IN[0] * DPI, FIGSIZE_IN[1] * DPI)
    sizes = {}
    for with_eval in (False, True):
        run = tmp_path / f"eval{with_eval}"
        write_metrics(run, with_eval)
        out = render_loss_plot(run)
        assert out == run / "loss.png"
        assert png_size(out) == expected
        sizes[with_eval] = out.stat().st_size
    assert min(sizes.values()) > 10_000, "a real chart, not an empty image"
    assert sizes[True] != sizes[False], "the eval panel changes the picture"


def test_plot_command_rerenders_from_the_logs(tmp_path, capsys):
    run = tmp_path / "run"
    write_metrics(run, with_eval=True)
    assert cli_main(["plot", str(run)]) == 0
    first = (run / "loss.png").read_bytes()
    with open(run / "metrics.jsonl", "a") as fh:  # the run went on
        fh.write(json.dumps({"step": 9, "loss": 0.2, "learning_rate": 1e-5}) + "\n")
    assert cli_main(["plot", str(run), "--out", str(tmp_path / "again.png")]) == 0
    assert png_size(tmp_path / "again.png") == png_size(run / "loss.png")
    assert (tmp_path / "again.png").read_bytes() != first
    assert "wrote" in capsys.readouterr().out


def test_plot_of_a_directory_without_losses_says_what_is_missing(tmp_path, capsys):
    assert cli_main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "metrics.jsonl has no training loss rows" in err and "--logging_steps" in err
