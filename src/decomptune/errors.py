"""User-facing errors: one clear message, no traceback unless --debug."""
from __future__ import annotations

import sys
import traceback


class UserError(Exception):
    """Something the user can fix; the message says what and how."""


def report_user_error(exc: BaseException, debug: bool) -> int:
    if debug:
        traceback.print_exception(exc)
    print(f"error: {exc}", file=sys.stderr)
    return 2
