"""The one exception type storage raises for conditions an operator must act on."""


class StoreError(Exception):
    """A database problem explained in one line: what is wrong and what to do about it."""
