"""Feeding DeepSpeed's pipeline engine: which rows each step uses, and how they reach ranks.

Every rank computes the same deterministic step plan (seeded shuffle per epoch), so:
- all TP ranks of a stage, and the first and last stage of a pipeline, see the same
  micro-batches without any broadcast;
- each DP replica takes its own contiguous share of the step's rows;
- every rank knows the step's total number of target tokens up front, which is what
  the loss is normalised by (see models.llama.causal_lm_loss);
- resuming needs only the step number.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

IGNORE_INDEX = -100


def target_count(labels) -> int:
    """Tokens the loss is taken on: labels after the first position (a causal LM predicts
    token t from tokens < t) that are not masked out."""
    labels = torch.as_tensor(labels)
    return int((labels[1:] != IGNORE_INDEX).sum())


@dataclass(frozen=True)
class StepPlan:
    num_rows: int
    micro_batch_size: int
    micro_batches: int
    dp: int
    seed: int
    shuffle: bool = True

    @property
    def rows_per_step(self) -> int:
        return self.micro_batch_size * self.micro_batches * self.dp

    @property
    def steps_per_epoch(self) -> int:
        return self.num_rows // self.rows_per_step  # the incomplete tail batch is dropped

    def rows(self, step: int) -> list[int]:
        """Dataset rows of the whole step (all replicas, all micro-batches), in order."""
        if self.steps_per_epoch == 0:
            raise ValueError(f"{self.num_rows} training rows cannot fill one step of {self.rows_per_step} "
                             "(micro-batch size x micro-batches x data-parallel replicas); lower "
                             "per_device_train_batch_size or micro_batches, or add data")
        epoch, index = divmod(step, self.steps_per_epoch)
        if self.shuffle:
            order = torch.randperm(self.num_rows, generator=torch.Generator().manual_seed(self.seed + epoch))
        else:
            order = torch.arange(self.num_rows)
        start = index * self.rows_per_step
        return order[start:start + self.rows_per_step].tolist()

    def replica_rows(self, step: int, dp_rank: int) -> list[list[int]]:
        """The rows of each micro-batch that data-parallel replica `dp_rank` trains on."""
        rows = self.rows(step)
        per_replica = self.micro_batch_size * self.micro_batches
        mine = rows[dp_rank * per_replica:(dp_rank + 1) * per_replica]
        return [mine[i:i + self.micro_batch_size] for i in range(0, per_replica, self.micro_batch_size)]


def pipeline_inputs(batch: dict) -> tuple:
    """(input_ids, attention_mask, position_ids): what the first stage receives."""
    input_ids = batch["input_ids"]
    mask = batch.get("attention_mask")
    if mask is None:
        mask = torch.ones_like(input_ids)
    positions = batch.get("position_ids")
    if positions is None:
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0).expand_as(input_ids)
    return input_ids, mask.long(), positions.long().contiguous()


def micro_batch_stream(dataset, collator, plan: StepPlan, dp_rank: int, first_step: int = 0):
    """Yields ((input_ids, attention_mask, position_ids), (labels, scale)) per micro-batch,
    step after step, forever (the trainer decides when to stop)."""
    step = first_step
    while True:
        step_rows = plan.rows(step)
        targets = sum(target_count(dataset[i]["labels"]) for i in step_rows)
        # DeepSpeed averages micro-batch losses over micro-batches and DP replicas.
        scale = plan.micro_batches * plan.dp / targets if targets else 0.0
        scale = torch.tensor([scale], dtype=torch.float32)
        for rows in _grouped(plan.replica_rows(step, dp_rank), step_rows, dataset, plan, dp_rank):
            batch = collator([dataset[i] for i in rows])
            yield pipeline_inputs(batch), (batch["labels"], scale)
        step += 1


def _grouped(replica_rows: list[list[int]], step_rows: list[int], dataset, plan: StepPlan, dp_rank: int):
    """With a "length" column (--group_by_length), the step's rows sorted longest first before
    they are dealt to replicas and micro-batches, so each micro-batch pads little. The step
    holds the same rows either way, so its loss is unchanged."""
    if "length" not in getattr(dataset, "column_names", ()):
        return replica_rows
    lengths = dataset.select(step_rows)["length"]
    ordered = [row for _, row in sorted(zip(lengths, step_rows), key=lambda pair: -pair[0])]
    per_replica = plan.micro_batch_size * plan.micro_batches
    mine = ordered[dp_rank * per_replica:(dp_rank + 1) * per_replica]
    return [mine[i:i + plan.micro_batch_size] for i in range(0, per_replica, plan.micro_batch_size)]
