"""`decomptune plot RUN_DIR`: OUTPUT/loss.png from the run's logged metrics (metrics.jsonl):
training loss, in-training re-executability when it was measured, and the learning rate.
Training renders it once at the end; this command re-renders it at any time, even mid-run."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

PLOT_FILE = "loss.png"
FIGSIZE_IN = (8, 9)
DPI = 100  # -> 800 x 900 pixels, whatever the panels
EVAL_KEYS = {"eval/reexec_rate": "re-executable", "eval/compile_rate": "compiles"}


def series(rows: list[dict], key: str) -> tuple[list[int], list[float]]:
    points = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float)) and "step" in r]
    return [p[0] for p in points], [p[1] for p in points]


def render_loss_plot(run_dir: str | Path, out: str | Path | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display on clusters and CI
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from .train.reporting import METRICS_FILE, read_metrics

    run_dir = Path(run_dir)
    rows = read_metrics(run_dir)
    steps, losses = series(rows, "loss")
    if not steps:
        raise FileNotFoundError(f"{run_dir / METRICS_FILE} has no training loss rows to plot; is {run_dir} the "
                                "--output_dir of a run that logged at least once (see --logging_steps)?")
    evals = {label: series(rows, key) for key, label in EVAL_KEYS.items() if series(rows, key)[0]}
    lr_steps, lrs = series(rows, "learning_rate")

    panels = 2 + bool(evals)
    fig, axes = plt.subplots(panels, 1, figsize=FIGSIZE_IN, dpi=DPI, sharex=True)
    ax = axes[0]
    ax.plot(steps, losses, marker="o" if len(steps) < 30 else None, label="train loss")
    ax.set_ylabel("loss")
    ax.set_title(f"{run_dir.name}: training loss")
    ax.grid(alpha=0.3)
    if evals:
        ax = axes[1]
        for label, (xs, ys) in evals.items():
            ax.plot(xs, [100 * y for y in ys], marker="o", label=label)
        ax.set_ylabel("% of eval rows")
        ax.set_ylim(0, 100)
        ax.set_title("re-executability during training")
        ax.legend()
        ax.grid(alpha=0.3)
    ax = axes[-1]
    ax.plot(lr_steps, lrs, color="tab:green")
    ax.set_ylabel("learning rate")
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(out) if out else run_dir / PLOT_FILE
    fig.savefig(out, dpi=DPI)  # no bbox_inches="tight": the image keeps its stated size
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    from .errors import report_user_error

    p = argparse.ArgumentParser(prog="decomptune plot", description=__doc__)
    p.add_argument("run_dir", help="a training run's --output_dir (holds metrics.jsonl)")
    p.add_argument("--out", help=f"image to write (default RUN_DIR/{PLOT_FILE})")
    p.add_argument("--debug", action="store_true")
    ns = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        out = render_loss_plot(ns.run_dir, ns.out)
    except (FileNotFoundError, ValueError) as exc:
        return report_user_error(exc, ns.debug)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
