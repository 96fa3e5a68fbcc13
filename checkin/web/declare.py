"""Guests' health declaration pages (left for the health issue)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("declare", __name__, url_prefix="/declare")
