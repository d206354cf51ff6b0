"""`python -m decomptune.train ...` (what torchrun and `deepspeed -m` launch)."""
import sys

from .run import main

sys.exit(main())
