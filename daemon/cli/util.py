"""What every command module shares: the one exception a command raises to fail, and the exit codes.

A command returns an exit code or raises ``CliFail``; ``__main__.main`` is the one place that turns failures
(``CliFail`` and the known errors of the lower layers) into a line on stderr and an exit code. The codes are
listed in README.md ("Exit codes").
"""
from __future__ import annotations

OK = 0            # done; the answer is yes
NO = 1            # done, and the answer is no: faces differ, wrong PIN, an uncertain read, an operation refused
CANNOT = 2        # could not run as asked: usage, configuration, a file, a reader or card that cannot be reached
BLOCKED = 3       # the card's PIN is blocked
REFUSED = 4       # refused to protect the card: nothing was sent (e.g. the last PIN try)
INTERNAL = 70     # a bug in mynareader (EX_SOFTWARE); run with -v to see the traceback
INTERRUPTED = 130


class CliFail(Exception):
    """A command's failure, worded for the person at the terminal; ``status`` is the exit code."""

    def __init__(self, message: str, status: int = NO):
        super().__init__(message)
        self.status = status
