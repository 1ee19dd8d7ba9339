"""Settings, the model file, errors and atomic outputs: what every other part imports."""
