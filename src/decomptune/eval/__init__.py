"""Evaluation: generate ▶ score (gcc + sandbox, LLM4Decompile's re-executability) ▶ report.

Entry points: `decomptune eval` (eval/cli.py), `decomptune decompile` (eval/decompile_cli.py),
and EvalCallback (eval/in_training.py) for evaluation during training.
"""
