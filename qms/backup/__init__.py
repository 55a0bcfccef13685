"""Backup and restore: one archive of the whole server (database, objects, keys, checkpoints, logs).

`qms backup OUT` writes it; `qms restore ARCHIVE` checks every byte of it before it writes anything
into an empty instance, and `--verify` proves the result. See `archive.py` for the format.
"""
