"""Training and evaluation: the estimator, fit, metrics with intervals, sweeps."""
