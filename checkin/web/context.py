"""What a request reads from the app `create_app` built: the store, the configuration, the clock,
the issuing key and the bundle service. Blueprints import these instead of the app factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import cast

from flask import current_app

from checkin.config import Config
from checkin.core.errors import KeyStoreError, Reason
from checkin.services.bundles import BundleService
from checkin.services.issuing import Signer, usable_signer
from checkin.services.jobs import JobRunner
from checkin.store import Store

STORE = "checkin.store"
SIGNER = "checkin.signer"
BUNDLES = "checkin.bundles"
JOBS = "checkin.jobs"


def store() -> Store:
    """The current app's store."""
    return cast(Store, current_app.extensions[STORE])


def config() -> Config:
    """The current app's configuration."""
    return cast(Config, current_app.config["CHECKIN_CONFIG"])


def now() -> datetime:
    """The current time, from the app's clock."""
    clock = cast(Callable[[], datetime], current_app.config["CLOCK"])
    return clock()


def loaded_signer() -> Signer | KeyStoreError | None:
    """The issuing key as it loaded at start, or why it did not."""
    return cast(Signer | KeyStoreError | None, current_app.extensions.get(SIGNER))


def signer_problem() -> KeyStoreError | None:
    """Why codes cannot be issued now, or None when they can."""
    loaded = loaded_signer()
    return loaded if isinstance(loaded, KeyStoreError) else None


def signer() -> Signer:
    """The issuing key, if it may sign now (a KeyStoreError says why not)."""
    return usable_signer(loaded_signer(), config())


def bundles() -> BundleService:
    """The bundle service; SERVICE_UNAVAILABLE when the service started without its root key."""
    service = current_app.extensions.get(BUNDLES)
    if service is None:
        raise KeyStoreError("the service was started without its root key", Reason.SERVICE_UNAVAILABLE)
    return cast(BundleService, service)


def jobs() -> JobRunner:
    """The worker thread that runs this process's background jobs."""
    return cast(JobRunner, current_app.extensions[JOBS])
