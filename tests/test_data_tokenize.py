"""Tokenization and masking: labels are -100 over exactly the prompt's tokens, the target
(output + "\\n" + EOS) is never cut, over-long rows follow the policy and are counted."""
import json

import datasets
import pytest
from tokenizers import processors

from decomptune.config import DataArgs
from decomptune.data import IGNORE_INDEX, DataError, prepare_dataset
from decomptune.data.load import SAMPLE_DIR, load_split
from decomptune.data.tokenize import tokenize_rows
from decomptune.prompts import render_prompt
from decomptune.tokenizer import load_tokenizer

datasets.disable_progress_bars()
SHORT = {"instruction": "int f(void)\n{\n  return 1;\n}", "output": "int f() { return 1; }"}
LONG = {
    "instruction": "undefined8 func0(long param_1,int param_2)\n{\n  int local_c;\n  local_c = 0;\n"
                   "  while (local_c < param_2) {\n    *(int *)(param_1 + (long)local_c * 4) = local_c;\n"
                   "    local_c = local_c + 1;\n  }\n  return 0;\n}",
    "output": "int func0(int *a, int n) {\n    for (int i = 0; i < n; i++) a[i] = i;\n    return 0;\n}",
}


@pytest.fixture(autouse=True)
def private_datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(None)


def reference(tokenizer, row, template="decompiled"):
    """Prompt ids (with the tokenizer's own special tokens) and target ids, tokenized the plain way."""
    prompt = tokenizer(render_prompt(template, row["instruction"]))["input_ids"]
    target = tokenizer(row["output"] + "\n" + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    return prompt, target


def run(tokenizer, rows, max_length, policy):
    ds = datasets.Dataset.from_list(rows)
    return tokenize_rows(ds, tokenizer, template="decompiled", input_column="instruction",
                         output_column="output", max_length=max_length, policy=policy)


def masked(labels):
    return sum(1 for x in labels if x == IGNORE_INDEX)


def test_every_sample_row_is_prompt_then_target_with_exact_mask(tokenizer):
    ds, report = prepare_dataset(DataArgs(model_max_length=100_000), tokenizer)
    raw = [json.loads(line) for line in open(SAMPLE_DIR / "train.jsonl", encoding="utf-8")]
    assert len(ds) == len(raw) == report.kept
    for row, example in zip(raw, ds):
        prompt, target = reference(tokenizer, row)
        assert example["input_ids"] == prompt + target
        assert example["labels"] == [IGNORE_INDEX] * len(prompt) + target
    assert report.target_tokens == sum(len(e) - masked(e) for e in ds["labels"])
    assert report.total_tokens == sum(len(e) for e in ds["input_ids"])


@pytest.mark.parametrize("policy", ["drop", "truncate_prompt_left"])
def test_row_exactly_at_max_length_is_kept_whole(tokenizer, policy):
    prompt, target = reference(tokenizer, LONG)
    ds, counts = run(tokenizer, [SHORT, LONG], len(prompt) + len(target), policy)
    assert (counts.kept, counts.truncated, counts.dropped_too_long) == (2, 0, 0)
    assert ds[1]["input_ids"] == prompt + target
    assert masked(ds[1]["labels"]) == len(prompt)


def test_one_token_over_is_dropped_under_drop(tokenizer):
    prompt, target = reference(tokenizer, LONG)
    ds, counts = run(tokenizer, [SHORT, LONG], len(prompt) + len(target) - 1, "drop")
    assert (counts.kept, counts.dropped_too_long, counts.dropped_target_too_long) == (1, 1, 0)
    assert len(ds) == 1 and ds[0]["input_ids"] == sum(reference(tokenizer, SHORT), [])


def test_one_token_over_cuts_the_first_prompt_token_after_bos(tokenizer):
    prompt, target = reference(tokenizer, LONG)
    ds, counts = run(tokenizer, [SHORT, LONG], len(prompt) + len(target) - 1, "truncate_prompt_left")
    assert (counts.kept, counts.truncated, counts.prompt_tokens_cut) == (2, 1, 1)
    kept_prompt = [tokenizer.bos_token_id] + prompt[2:]
    assert ds[1]["input_ids"] == kept_prompt + target
    assert ds[1]["labels"] == [IGNORE_INDEX] * (len(prompt) - 1) + target


def test_prompt_cut_from_the_left_down_to_one_token(tokenizer):
    prompt, target = reference(tokenizer, LONG)
    ds, counts = run(tokenizer, [LONG], len(target) + 2, "truncate_prompt_left")  # BOS + 1 prompt token
    assert (counts.kept, counts.truncated) == (1, 1)
    assert counts.prompt_tokens_cut == len(prompt) - 2
    assert ds[0]["input_ids"] == [tokenizer.bos_token_id, prompt[-1]] + target
    assert masked(ds[0]["labels"]) == 2


@pytest.mark.parametrize("policy", ["drop", "truncate_prompt_left"])
@pytest.mark.parametrize("spare", [1, 0, -5])  # room for BOS only / target fills it / target longer
def test_target_that_does_not_fit_drops_the_row(tokenizer, policy, spare):
    _, target = reference(tokenizer, LONG)
    ds, counts = run(tokenizer, [LONG], len(target) + spare, policy)
    assert (counts.kept, counts.dropped_target_too_long, counts.dropped_too_long) == (0, 1, 0)
    assert len(ds) == 0 and counts.total_tokens == counts.target_tokens == 0


def test_tokenizer_without_bos_masks_exactly_the_bare_prompt(tokenizer):
    no_bos = load_tokenizer(None)
    no_bos.backend_tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    prompt, target = reference(no_bos, LONG)
    assert prompt[0] != no_bos.bos_token_id
    ds, _ = run(no_bos, [LONG], 10_000, "drop")
    assert ds[0]["input_ids"] == prompt + target and masked(ds[0]["labels"]) == len(prompt)
    ds, counts = run(no_bos, [LONG], len(target) + 1, "truncate_prompt_left")  # no BOS: room for 1
    assert counts.kept == 1 and ds[0]["input_ids"] == [prompt[-1]] + target


@pytest.mark.parametrize("policy", ["drop", "truncate_prompt_left"])
def test_overlong_counts_on_the_sample(tokenizer, policy):
    max_length = 160  # the sample's targets reach ~275 tokens: some rows, and some targets alone, don't fit
    _, report = prepare_dataset(DataArgs(model_max_length=max_length, overlong_policy=policy), tokenizer)
    raw, _ = load_split("sample", None, "train")
    lengths = [tuple(map(len, reference(tokenizer, row))) for row in raw]
    fits = [p + t <= max_length for p, t in lengths]
    target_too_long = [1 + 1 + t > max_length for _, t in lengths]  # BOS + one prompt token + target
    kept = [f or (policy != "drop" and not big) for f, big in zip(fits, target_too_long)]
    assert report.rows_loaded == len(raw)
    assert report.kept == sum(kept) and report.kept < len(raw)
    assert report.truncated == (0 if policy == "drop" else sum(k and not f for k, f in zip(kept, fits)))
    assert report.dropped_target_too_long == sum(target_too_long) > 0
    assert report.dropped_too_long == (sum(not f and not b for f, b in zip(fits, target_too_long))
                                       if policy == "drop" else 0)
    assert report.kept + report.dropped == len(raw)
    assert report.target_tokens == sum(t for (_, t), k in zip(lengths, kept) if k)
    assert report.total_tokens == sum(min(p + t, max_length) for (p, t), k in zip(lengths, kept) if k)
    assert f"{report.kept} kept" in report.summary()


def test_parallel_map_gives_the_same_rows(tokenizer):
    one, _ = prepare_dataset(DataArgs(max_rows=40, model_max_length=512, overlong_policy="truncate_prompt_left"), tokenizer)
    two, _ = prepare_dataset(DataArgs(max_rows=40, model_max_length=512, overlong_policy="truncate_prompt_left",
                                      num_proc=2), tokenizer)
    assert one.to_dict() == two.to_dict()


def test_unknown_overlong_policy_is_refused(tokenizer):
    with pytest.raises(DataError, match="overlong_policy must be one of"):
        prepare_dataset(DataArgs(overlong_policy="truncate"), tokenizer)
