"""Fine-tuning jobs: the Job and its key (job), its training (training, distill), what pins it (identity), the result
cache (cache) with its stored per-example predictions (predictions), whether a run is a measurement (validity), scores
recomputed from stored predictions (rescore), and running or reading back a job (run)."""
