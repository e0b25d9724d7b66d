"""The reader as a process: compose.py builds every part from the configuration, serve.py is the loop systemd
runs, inprocess.py runs the same service on a thread with the bench devices (demo, benchmarks, tests),
systemd_integration.py speaks sd_notify, socket activation and the journal."""
