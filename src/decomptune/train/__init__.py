"""Training: path 1 (zero.py, HF Trainer + DeepSpeed ZeRO/AutoTP) and path 2 (pipeline.py)."""
