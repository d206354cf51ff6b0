"""The one error type the data pipeline raises for bad input (files, rows, settings)."""
from decomptune.errors import UserError


class DataError(UserError, ValueError):
    """Bad training data or data settings. The message names the file/row/column and the fix.

    A UserError, so the CLI prints the message without a traceback."""
