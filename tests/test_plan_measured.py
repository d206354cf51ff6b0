"""The planner's per-rank memory against real training processes (CPU, 2 ranks, fp32).

Each case trains a ~32 M-parameter Llama for a few steps through the product's own path
(HF Trainer + DeepSpeed, or the pipeline engine) and measures the peak rise of each rank's
anonymous resident memory over its level before the model was loaded
(benchmarks/memory_worker.py). benchmarks/bench_layouts.py runs all five layouts on an
88 M model; this test runs one layout of each training path.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_layouts.py"
# ~32 M parameters: model states of ~0.5 GB per rank, far above allocator noise, cheap on 2 cores.
SMALL_SHAPE = dict(hidden_size=512, intermediate_size=1408, num_hidden_layers=8, num_attention_heads=8,
                   num_key_value_heads=4, vocab_size=8192)


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_layouts", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return load_bench()


@pytest.fixture(scope="module")
def model_dir(bench, tmp_path_factory):
    return bench.make_model_dir(tmp_path_factory.mktemp("plan-model") / "model", SMALL_SHAPE)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["zero2", "pp2"])
def test_planner_memory_is_within_15_percent_of_measured(bench, model_dir, tmp_path, name):
    layout, tp, pp, zero = bench.LAYOUTS[name]
    row = bench.compare(model_dir, name, layout, tp, pp, zero, tmp_path / name, seq=64, steps=3)
    print(row)
    planned = row["planner_gb"]
    states = planned["params"] + planned["grads"] + planned["optimizer"]
    # Model states dominate what was measured, so the comparison is about them.
    assert states > 0.6 * row["measured_gb"], row
    assert abs(row["planner_error"]) <= 0.15, row
