"""What translation costs a page: the dashboard and an audit's checklist page in English (the source:
no catalogue lookup finds anything) and in a translated language, median of N requests at concurrency 1.

A fresh instance seeded by `qms demo --no-serve` (every domain's demo data), the app in this process
(Flask's test client: the request, the views, the templates and the database, no network), logged in
as the demo auditor. The languages are measured in turns, page by page, so a slow moment of the
machine falls on both alike. Prints a table; the overhead is the translated median over the English.

    python bench/bench_translation.py                  # mk and sq against en, 200 requests per page
    python bench/bench_translation.py --requests 50 --languages ro
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchapp import bench_app  # noqa: E402

USERNAME = "auditor"


def _seed(instance: Path) -> dict[str, str]:
    """`qms demo --no-serve` in the instance; the accounts it prints (username -> password)."""
    qms = Path(sys.executable).with_name("qms")
    env = {key: value for key, value in os.environ.items() if not key.startswith("QMS_")}
    env["QMS_INSTANCE_PATH"] = str(instance)
    done = subprocess.run([str(qms), "demo", "--no-serve"], env=env, cwd=instance, capture_output=True, text=True,
                          check=True)
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "Demo accounts:") + 1
    accounts = {}
    for line in lines[start:]:
        if not line.startswith(" ") or len(line.split()) < 2:
            break
        accounts[line.split()[0]] = line.split()[1]
    return accounts


def _client(app, password: str, language: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    answer = client.post("/login", data={"username": USERNAME, "password": password,
                                          "csrf_token": _token(client.get("/login").get_data(as_text=True))})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    token = _token(client.get("/").get_data(as_text=True))
    assert client.post("/account/language", data={"csrf_token": token, "language": language}).status_code == 302
    assert f'lang="{language.replace("_", "-")}"' in client.get("/").get_data(as_text=True)
    return client


def _token(page: str) -> str:
    field = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page).group(0)  # type: ignore[union-attr]
    return re.search(r'value="([^"]+)"', field).group(1)  # type: ignore[union-attr]


def _time(client, path: str) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    answer = client.get(path)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, (path, answer.status_code)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--languages", nargs="+", default=["mk", "sq"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-translation-") as folder:
        instance = Path(folder)
        accounts = _seed(instance)
        app = bench_app(instance, DATABASE_URL=f"sqlite:///{instance / 'qms.sqlite3'}")
        with app.app_context():
            from sqlalchemy import text

            from qms.extensions import db

            audit_id = db.session.execute(text("SELECT id FROM audit WHERE status = 'reported' ORDER BY id")).scalar()
        pages = {"dashboard": "/", "checklist": f"/audits/{audit_id}"}
        languages = ["en", *args.languages]
        clients = {language: _client(app, accounts[USERNAME], language) for language in languages}
        times: dict[tuple[str, str], list[float]] = {(p, lang): [] for p in pages for lang in languages}
        for page, path in pages.items():
            for client in clients.values():  # warm up: templates compiled, catalogues loaded
                for _ in range(5):
                    _time(client, path)
            for _ in range(args.requests):
                for language, client in clients.items():
                    times[(page, language)].append(_time(client, path))
        print(f"{'page':<10} {'language':<9} {'median ms':>10} {'p95 ms':>8} {'vs en':>8}")
        for page in pages:
            base = statistics.median(times[(page, "en")])
            for language in languages:
                values = sorted(times[(page, language)])
                median = statistics.median(values)
                p95 = values[int(0.95 * (len(values) - 1))]
                print(f"{page:<10} {language:<9} {median * 1000:>10.2f} {p95 * 1000:>8.2f} {median / base - 1:>+8.1%}")
        print(f"{args.requests} requests per page and language, concurrency 1, in turns")


if __name__ == "__main__":
    main()
