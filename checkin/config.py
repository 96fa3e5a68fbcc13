"""TOML configuration -> frozen dataclasses. Every error names the file and the key.

Paths in the file are relative to the file's folder. Unknown keys are refused, so a typo never
silently falls back to a default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from checkin.core.errors import ConfigError

ENV_CONFIG = "CHECKIN_CONFIG"
DEFAULT_NAME = "config.toml"


@dataclass(frozen=True)
class Deployment:
    """Who issues: the iss claim of every ticket and the default time zone."""

    id: str = "demo"
    name: str = "checkin"
    timezone: str = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True)
class Paths:
    """Where things live, relative to the config file."""

    keys_dir: str = "keys"
    database: str = "checkin.db"
    output_dir: str = "out"


@dataclass(frozen=True)
class Issuing:
    """Default validity of tickets around the event."""

    valid_before_event_hours: int = 24
    valid_after_event_hours: int = 6


@dataclass(frozen=True)
class QrSettings:
    """How codes are drawn."""

    scale: int = 8
    border: int = 4


@dataclass(frozen=True)
class BundleSettings:
    """How trust bundles for gates are made."""

    validity_hours: int = 72
    include_names: bool = False


@dataclass(frozen=True)
class PolicySettings:
    """The gate policy carried in bundles."""

    entries_per_credential: int = 0
    reentry_after_exit: bool = True
    clock_tolerance_seconds: int = 300
    stale_grace_hours: int = 24


@dataclass(frozen=True)
class MailSettings:
    """E-mail delivery of codes to guests over SMTP; an empty host turns it off.

    The password is never in the file: it comes from the environment variable MAIL_PASSWORD_ENV.
    """

    host: str = ""
    port: int = 587
    sender: str = ""
    starttls: bool = True
    username: str = ""
    timeout_seconds: int = 20
    # bulk invitations: at most this many messages a minute (0: no limit), under a provider's quota
    per_minute: int = 120

    @property
    def enabled(self) -> bool:
        """True when a server and a sender are set."""
        return bool(self.host.strip() and self.sender.strip())


@dataclass(frozen=True)
class QuestionSettings:
    """One declaration question of [[screening.questions]]."""

    id: str = ""
    vi: str = ""
    en: str = ""
    refer_if: str = "yes"  # the answer that sends the guest to the medical desk: "yes" or "no"


@dataclass(frozen=True)
class ScreeningSettings:
    """Health screening at the gates, carried to them in the signed bundle (issue 11); off by default."""

    enabled: bool = False
    temperature_limit: float = 37.5
    temperature_min: float = 34.0
    temperature_max: float = 42.5
    declaration_valid_hours: int = 24
    certificate_required: bool = False
    vaccination: bool = True
    vaccination_min_days: int = 14
    naat_test: bool = True
    naat_max_hours: int = 72
    rapid_test: bool = True
    rapid_max_hours: int = 24
    recovery: bool = True
    recovery_max_days: int = 180
    dcc_trust_list: tuple[str, ...] = ()  # certificate files (DER or PEM), relative to the config file
    on_failure: str = "refer"
    retention_days: int = 14
    questions: tuple[QuestionSettings, ...] = ()


@dataclass(frozen=True)
class ServiceSettings:
    """How the service is reached: `trusted_proxies` is how many reverse proxies (the TLS proxy the
    README asks for) stand in front of it; their X-Forwarded-For and X-Forwarded-Proto are then
    believed for that many hops, so login throttling sees the real client address. Leave it 0 when
    clients connect directly: a client could otherwise claim any address. With `tls_cert` and
    `tls_key` (PEM files, relative to the config file) `checkin serve` speaks HTTPS itself, for a
    venue without a proxy (gunicorn only)."""

    trusted_proxies: int = 0
    tls_cert: str = ""  # PEM certificate chain
    tls_key: str = ""  # its private key (PEM, unencrypted, readable by the service's user only)
    # the address guests open their invitation links at (https://checkin.example.vn); empty: the
    # address the registrar's browser used
    public_url: str = ""


MAIL_PASSWORD_ENV = "CHECKIN_MAIL_PASSWORD"  # noqa: S105 - the variable name, not a secret


@dataclass(frozen=True)
class Config:
    """The whole configuration; `root` is the folder relative paths start from."""

    root: Path = Path(".")
    source: str = "(defaults)"
    deployment: Deployment = field(default_factory=Deployment)
    paths: Paths = field(default_factory=Paths)
    issuing: Issuing = field(default_factory=Issuing)
    qr: QrSettings = field(default_factory=QrSettings)
    bundle: BundleSettings = field(default_factory=BundleSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    mail: MailSettings = field(default_factory=MailSettings)
    screening: ScreeningSettings = field(default_factory=ScreeningSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)

    @property
    def keys_dir(self) -> Path:
        """The keys folder."""
        return self.root / self.paths.keys_dir

    @property
    def output_dir(self) -> Path:
        """Where generated codes and sheets go by default."""
        return self.root / self.paths.output_dir

    @property
    def tls_files(self) -> tuple[Path, Path] | None:
        """(certificate, key) for HTTPS served by `checkin serve`, or None."""
        if not self.service.tls_cert:
            return None
        return self.root / self.service.tls_cert, self.root / self.service.tls_key

    @property
    def database_url(self) -> str:
        """An SQLAlchemy URL: a bare file name means SQLite in the config's folder."""
        db = self.paths.database
        if "://" in db:
            return db
        return f"sqlite:///{(self.root / db).resolve()}"


_SECTIONS = {
    "deployment": Deployment,
    "paths": Paths,
    "issuing": Issuing,
    "qr": QrSettings,
    "bundle": BundleSettings,
    "policy": PolicySettings,
    "mail": MailSettings,
    "screening": ScreeningSettings,
    "service": ServiceSettings,
}
_POSITIVE = {"scale", "validity_hours", "port", "timeout_seconds", "declaration_valid_hours", "retention_days"}


def _section(source: str, name: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{source}: unknown key {name}.{key} (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for key, given in raw.items():
        expected = hints[key]
        if expected in _NESTED:
            values[key] = _NESTED[expected](source, f"{name}.{key}", given)
            continue
        value = float(given) if expected is float and type(given) is int else given  # TOML writes 38 for 38.0
        ok = type(value) is expected if expected in (int, bool, float) else isinstance(value, expected)
        if not ok:
            raise ConfigError(f"{source}: {name}.{key} must be {expected.__name__}, not {type(value).__name__}")
        if expected is int and (value < 0 or (key in _POSITIVE and value == 0)):
            raise ConfigError(f"{source}: {name}.{key} must be {'positive' if key in _POSITIVE else '0 or more'}")
        values[key] = value
    return cls(**values)


def _texts(source: str, where: str, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise ConfigError(f"{source}: {where} must be a list of texts")
    return tuple(raw)


def _questions(source: str, where: str, raw: Any) -> tuple[QuestionSettings, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: {where} must be a list of tables ([[{where}]])")
    questions = tuple(_section(source, f"{where}[{i}]", QuestionSettings, item) for i, item in enumerate(raw))
    seen: set[str] = set()
    for i, q in enumerate(questions):
        if not (q.id.strip() and q.vi.strip() and q.en.strip()):
            raise ConfigError(f"{source}: {where}[{i}] needs an id and its text in vi and en")
        if q.refer_if not in ("yes", "no"):
            raise ConfigError(f'{source}: {where}[{i}].refer_if must be "yes" or "no"')
        if q.id in seen:
            raise ConfigError(f"{source}: {where}: question id {q.id!r} is used twice")
        seen.add(q.id)
    return questions


_NESTED: dict[Any, Any] = {
    tuple[str, ...]: _texts,
    tuple[QuestionSettings, ...]: _questions,
}


def _check_screening(source: str, scr: ScreeningSettings) -> None:
    low, limit, high = scr.temperature_min, scr.temperature_limit, scr.temperature_max
    if not 30.0 <= low < limit <= high <= 45.0:
        raise ConfigError(
            f"{source}: screening temperatures must satisfy 30 <= temperature_min < temperature_limit"
            f" <= temperature_max <= 45 (°C), not {low}, {limit}, {high}"
        )
    if scr.on_failure != "refer":
        raise ConfigError(f'{source}: screening.on_failure must be "refer" (send to the medical desk)')


def parse(text: str, *, root: Path, source: str) -> Config:
    """Parse configuration text; `source` names the file in errors."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    for name in raw:
        if name not in _SECTIONS:
            raise ConfigError(f"{source}: unknown section [{name}] (known: {', '.join(_SECTIONS)})")
    sections = {name: _section(source, name, cls, raw.get(name, {})) for name, cls in _SECTIONS.items()}
    config = Config(root=root, source=source, **sections)
    try:
        ZoneInfo(config.deployment.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{source}: deployment.timezone {config.deployment.timezone!r} is not a time zone") from None
    if not config.deployment.id.strip():
        raise ConfigError(f"{source}: deployment.id must not be empty")
    if config.mail.port > 65535:
        raise ConfigError(f"{source}: mail.port must be a TCP port (1 to 65535)")
    if bool(config.service.tls_cert) != bool(config.service.tls_key):
        raise ConfigError(f"{source}: service.tls_cert and service.tls_key go together: give both or neither")
    if config.service.public_url and not config.service.public_url.startswith(("https://", "http://")):
        raise ConfigError(f"{source}: service.public_url must start with https:// (or http://)")
    if config.mail.host.strip() and "@" not in config.mail.sender:
        raise ConfigError(f"{source}: mail.sender must be an e-mail address when mail.host is set")
    _check_screening(source, config.screening)
    return config


def find(explicit: str | None) -> Path:
    """The config file: --config, then $CHECKIN_CONFIG, then ./config.toml."""
    for candidate in (explicit, os.environ.get(ENV_CONFIG), DEFAULT_NAME):
        if candidate:
            path = Path(candidate)
            if not path.is_file():
                how = "--config" if candidate == explicit else ENV_CONFIG if candidate != DEFAULT_NAME else "./"
                raise ConfigError(f"{path}: no such config file (from {how}); run `checkin init` first")
            return path
    raise ConfigError("no config file")  # unreachable: DEFAULT_NAME is always a candidate


def load(explicit: str | None = None) -> Config:
    """Find and load the configuration."""
    path = find(explicit)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    return parse(text, root=path.resolve().parent, source=str(path))
