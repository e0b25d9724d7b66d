"""Errors of the worker process (daemon/worker/): the native work could not be done this time.

    WorkerError
     ├── WorkerFault         the worker died or hung serving a request; that request is lost, it is restarted
     │    ├── WorkerCrashed  it died (a signal such as SIGSEGV or SIGABRT, or an exit)
     │    └── WorkerHung     it did not answer within the deadline and was killed
     └── WorkerUnavailable   no worker is ready: still restarting, or its models would not load

None of these says anything about the patient, the card or the face: they are faults of this machine.
"""
from __future__ import annotations


class WorkerError(Exception):
    """Base of everything the worker layer raises."""


class WorkerFault(WorkerError):
    pass


class WorkerCrashed(WorkerFault):
    pass


class WorkerHung(WorkerFault):
    pass


class WorkerUnavailable(WorkerError):
    pass
