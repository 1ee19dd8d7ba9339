"""Monitoring: the reference profile, drift, production checks, retrain branches."""
