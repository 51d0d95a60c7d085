"""What the subcommands share: the error for a bad option or input named on the command line."""
from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(ValueError):
    """A bad option, option combination or input file given on the command line.

    ``pyskl``'s entry point prints it as one ``error: ...`` line and exits with status 2, like every
    exception class pyskl defines; the message names the option or file and what to do.
    """
