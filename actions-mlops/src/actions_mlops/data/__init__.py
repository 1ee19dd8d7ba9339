"""Data and contract: ingest, the contract, table I/O, validation rules, split, features."""
