"""Model-family knowledge: configs, loading, and (models/llama.py) pipeline/TP splits."""
