"""Security headers, set in one place for every response."""
from __future__ import annotations

from flask import Flask, Response, abort, current_app, request

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",  # no inline script anywhere
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def set_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if current_app.config["ENV"] == "production":
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if request.endpoint != "static" and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"  # records must not linger in shared caches
    return response


def refuse_nul_characters() -> None:
    """No field of ours may hold a NUL character; PostgreSQL cannot store one in text."""
    values = [*request.args.values(), *request.form.values()]
    if any("\x00" in value for value in values) or (request.is_json and b"\\u0000" in request.get_data()):
        abort(400, description="The input contains a NUL character, which no field accepts.")


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul_characters)
    app.after_request(set_security_headers)
