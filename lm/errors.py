"""User-facing errors.

An `LMError` is a problem with the user's input (a file, a column, a checkpoint, a flag)
that deserves one line naming what is wrong, not a traceback. The CLI prints it and
exits with status 2; everything else is a bug and keeps its traceback.
"""


class LMError(Exception):
    pass
