"""Serving: the BentoML service and its prediction log (imports no training code)."""
