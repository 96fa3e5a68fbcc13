"""The JSON API for gates, versioned under /api/v1/: enrolment, bundles, journal upload."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
