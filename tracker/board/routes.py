"""The board's pages: the quarterly summary, its PDF board pack and CSV."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("board", __name__)
