"""Running the slow claims' fine-tuning jobs on several workers: what to run, where, and how long it takes.

    plan.py          the units of work (planned jobs, a teacher folded into its DistilBERT (D) job), longest first
    makespan.py      the modelled GPU seconds of a job, and longest-first scheduling on N workers
    ray_executor.py  the units as Ray tasks (local Ray or a cluster); results stored in the driver's cache
    transfer.py      a cache entry's files as bytes and back (workers without the driver's disk)
    progress.py      the progress line: jobs done, failures, an estimate of the time left
pytest-xdist needs no executor of ours: harness.plugin.distributed turns the units into test items.
"""
