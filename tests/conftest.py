import sys
from pathlib import Path

# Test helper modules (tests/distributed.py) import as top-level names.
sys.path.insert(0, str(Path(__file__).parent))
