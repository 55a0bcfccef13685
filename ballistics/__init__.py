"""Cartridge-case comparison: X3P and image input, preprocessing, registration, CMC, calibration, search.

This package is a library: it never imports Flask, SQLAlchemy or `qms`.
"""
from ballistics.surface import Surface

__all__ = ["Surface"]
