"""Inference speed: the speed claims (runner), the timed STS-B inputs (inputs), and the interleaved timing (timing)."""
