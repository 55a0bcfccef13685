"""Backup and restore time for a server with 1 GB of objects (SQLite, a fresh instance in /tmp).

    python bench/bench_backup.py                 # 1 GB in 64 objects of 16 MiB
    python bench/bench_backup.py --mib 256       # a smaller run

Prints the time of `backup`, of the archive check alone, of `restore` (check + write) and of the
proof (`--verify`: record counts, every object re-hashed, custody chains), with throughput.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=1024, help="object store size in MiB (default 1024)")
    args = parser.parse_args()
    from qms import create_app
    from qms.backup import services
    from qms.cli import upgrade_database
    from qms.storage import ObjectStore

    with tempfile.TemporaryDirectory(prefix="bench-backup-") as scratch:
        root = Path(scratch)
        source = create_app({"INSTANCE_PATH": str(root / "source"), "SECRET_KEY": "bench"})
        with source.app_context():
            upgrade_database()
            store = ObjectStore(source.config["OBJECT_STORE"])
            for _ in range(args.mib // 16):
                store.put(os.urandom(16 << 20))
            started = time.perf_counter()
            services.backup(root / "backup.tar")
            backup_s = time.perf_counter() - started
        size = (root / "backup.tar").stat().st_size
        target = create_app({"INSTANCE_PATH": str(root / "target"), "SECRET_KEY": "bench"})
        with target.app_context():
            started = time.perf_counter()
            services.check(root / "backup.tar")
            check_s = time.perf_counter() - started
            started = time.perf_counter()
            manifest = services.restore(root / "backup.tar")
            restore_s = time.perf_counter() - started
            started = time.perf_counter()
            proof = services.prove(manifest)
            prove_s = time.perf_counter() - started
        mib = size / (1 << 20)
        print(f"archive {mib:.0f} MiB ({len(manifest.files)} files); proof {'passed' if proof.ok else proof.problems}")
        for label, seconds in (("backup", backup_s), ("check only", check_s), ("restore (check + write)", restore_s),
                               ("verify (counts, hashes, custody)", prove_s)):
            print(f"  {label:<34} {seconds:6.1f} s  {mib / seconds:6.0f} MiB/s")


if __name__ == "__main__":
    main()
