"""Benchmarks of the template and of the project it generates (issue 9): `make bench`."""
