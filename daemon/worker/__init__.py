"""The heavy native work in a worker process: the face pipeline (detect, landmarks, descriptor, liveness mesh) and
the card-face OCR, behind one interface (``Worker`` in interface.py).

    engine.py     what the worker holds and does: the models, loaded once, and the requests they answer; the
                  bench-only fault hooks
    host.py       the worker process's loop: requests from a pipe, frames from shared memory
    process.py    ProcessWorker, the parent's side: starts the process (spawn), passes frames through shared
                  memory, ends a request that outlives its deadline, restarts a dead worker with backoff
    inthread.py   ThreadWorker: the same interface on the caller's thread (unit tests, ``bench liveness``)
    errors.py     WorkerFault (crashed, hung) and WorkerUnavailable

A crash (SIGSEGV, abort, SIGKILL) or a hang in native code costs the request it was serving, never the daemon: the
caller turns WorkerFault into a device fault that spends none of the patient's tries (docs/architecture.md).
"""
