"""Release: fingerprint, gate, report, registry (GTO tags), promote, package, serve."""
