"""The process a run lives in: the run context (device, dtype, seed), torch threads, signals, guarded access
to private torch APIs."""
