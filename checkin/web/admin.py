"""Admin pages: events, guests, issuing, revocation, keys, gates, users."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
