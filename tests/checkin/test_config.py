"""config.toml: strict parsing into dataclasses, errors that name the file and the key, lookup order."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, fields, is_dataclass
from importlib import resources
from pathlib import Path

import pytest

from checkin import config
from checkin.core.errors import ConfigError, Reason

# every section of Config, as named in the file
SECTIONS = tuple(f.name for f in fields(config.Config) if f.name not in ("root", "source"))


def example_text() -> str:
    return resources.files("checkin").joinpath("config.example.toml").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _no_config_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(config.ENV_CONFIG, raising=False)
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---- the example ------------------------------------------------------------------------------


def as_toml(value: object) -> object:
    """A parsed setting as TOML reads it: tuples as lists, tables (dataclasses) as dicts."""
    if isinstance(value, tuple):
        return [as_toml(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def test_example_parses_to_its_values(tmp_path: Path) -> None:
    cfg = config.parse(example_text(), root=tmp_path, source="config.example.toml")
    raw = tomllib.loads(example_text())
    for section, values in raw.items():
        for key, value in values.items():
            assert as_toml(getattr(getattr(cfg, section), key)) == value, f"{section}.{key}"
    assert cfg.deployment.id == "hd-stttt"
    assert cfg.deployment.timezone == "Asia/Ho_Chi_Minh"
    assert cfg.qr.scale == 8
    assert cfg.qr.border == 4
    assert cfg.bundle.include_names is False
    assert cfg.source == "config.example.toml"


def test_example_documents_every_setting() -> None:
    raw = tomllib.loads(example_text())
    assert set(raw) == set(SECTIONS)
    cfg = config.Config()
    for section in SECTIONS:
        names = {f.name for f in fields(getattr(cfg, section))}
        assert set(raw[section]) == names, section


def test_missing_sections_take_defaults(tmp_path: Path) -> None:
    cfg = config.parse('[deployment]\nid = "x"\n', root=tmp_path, source="c.toml")
    assert cfg.deployment.id == "x"
    assert cfg.qr == config.QrSettings()
    assert cfg.policy == config.PolicySettings()
    assert config.parse("", root=tmp_path, source="c.toml").deployment == config.Deployment()


def test_load_of_the_example_file(tmp_path: Path) -> None:
    path = write(tmp_path / "site" / "config.toml", example_text())
    cfg = config.load(str(path))
    assert cfg.deployment.name == "Sở Thông tin và Truyền thông tỉnh Hải Dương"
    assert cfg.root == path.parent.resolve()
    assert cfg.source == str(path)


# ---- refusals ---------------------------------------------------------------------------------

BAD = [
    pytest.param('[deploymnet]\nid = "x"\n', "deploymnet", id="unknown-section"),
    pytest.param("[qr]\nscael = 8\n", "qr.scael", id="unknown-key"),
    pytest.param('[qr]\nscale = "8"\n', "qr.scale", id="string-for-int"),
    pytest.param("[qr]\nscale = 8.0\n", "qr.scale", id="float-for-int"),
    pytest.param("[qr]\nborder = true\n", "qr.border", id="bool-for-int"),
    pytest.param("[bundle]\ninclude_names = 1\n", "bundle.include_names", id="int-for-bool"),
    pytest.param('[policy]\nreentry_after_exit = "yes"\n', "policy.reentry_after_exit", id="string-for-bool"),
    pytest.param("[deployment]\nid = 5\n", "deployment.id", id="int-for-string"),
    pytest.param('[paths]\nkeys_dir = ["a"]\n', "paths.keys_dir", id="list-for-string"),
    pytest.param("[qr]\nborder = -1\n", "qr.border", id="negative-border"),
    pytest.param("[policy]\nclock_tolerance_seconds = -300\n", "policy.clock_tolerance_seconds", id="negative"),
    pytest.param("[issuing]\nvalid_before_event_hours = -24\n", "issuing.valid_before_event_hours", id="neg-hours"),
    pytest.param("[qr]\nscale = 0\n", "qr.scale", id="zero-scale"),
    pytest.param("[bundle]\nvalidity_hours = 0\n", "bundle.validity_hours", id="zero-validity"),
    pytest.param('[deployment]\ntimezone = "Asia/Hanoi_City"\n', "deployment.timezone", id="unknown-timezone"),
    pytest.param('[deployment]\ntimezone = "../../etc/passwd"\n', "deployment.timezone", id="path-timezone"),
    pytest.param('[deployment]\ntimezone = ""\n', "deployment.timezone", id="empty-timezone"),
    pytest.param('[deployment]\nid = "  "\n', "deployment.id", id="blank-id"),
    pytest.param("qr = 5\n", "qr", id="section-not-a-table"),
    pytest.param("[[qr]]\nscale = 8\n", "qr", id="array-of-tables"),
]


@pytest.mark.parametrize(("text", "key"), BAD)
def test_bad_value_names_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path / "conf" / "config.toml", text)
    with pytest.raises(ConfigError) as caught:
        config.load(str(path))
    error = caught.value
    assert error.reason is Reason.CONFIG_INVALID
    assert error.code == "config_invalid"
    assert str(path) in error.detail
    assert key in error.detail


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("[qr]\nscale = \n", 2, id="missing-value"),
        pytest.param('[deployment]\nid = "x"\nid = "y"\n', 3, id="duplicate-key"),
        pytest.param("[qr\nscale = 8\n", 1, id="broken-header"),
    ],
)
def test_bad_toml_names_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    path = write(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError) as caught:
        config.load(str(path))
    assert str(path) in caught.value.detail
    assert "TOML" in caught.value.detail
    assert f"line {line}" in caught.value.detail


def test_file_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes('[deployment]\nname = "Sở Thông tin"\n'.encode("utf-16"))
    with pytest.raises(ConfigError) as caught:
        config.load(str(path))
    assert str(path) in caught.value.detail


def test_error_line_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[qr]\nscale = \n")
    with pytest.raises(ConfigError) as caught:
        config.load(str(path))
    assert "\n" not in caught.value.text()


# ---- where the file is found --------------------------------------------------------------------


def test_find_uses_cwd_config_toml_last(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", "")
    assert config.find(None) == Path("config.toml")
    assert config.load().root == tmp_path.resolve()


def test_find_prefers_env_over_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config.toml", '[deployment]\nid = "cwd"\n')
    env_file = write(tmp_path / "env" / "site.toml", '[deployment]\nid = "env"\n')
    monkeypatch.setenv(config.ENV_CONFIG, str(env_file))
    assert config.find(None) == env_file
    assert config.load().deployment.id == "env"


def test_find_prefers_explicit_over_env_and_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config.toml", '[deployment]\nid = "cwd"\n')
    env_file = write(tmp_path / "env" / "site.toml", '[deployment]\nid = "env"\n')
    explicit = write(tmp_path / "cli" / "mine.toml", '[deployment]\nid = "cli"\n')
    monkeypatch.setenv(config.ENV_CONFIG, str(env_file))
    assert config.find(str(explicit)) == explicit
    assert config.load(str(explicit)).deployment.id == "cli"


def test_empty_env_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config.toml", "")
    monkeypatch.setenv(config.ENV_CONFIG, "")
    assert config.find(None) == Path("config.toml")


def test_missing_explicit_file_is_an_error_not_a_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config.toml", "")
    monkeypatch.setenv(config.ENV_CONFIG, str(write(tmp_path / "env.toml", "")))
    with pytest.raises(ConfigError) as caught:
        config.find("nope.toml")
    assert "nope.toml" in caught.value.detail
    assert "--config" in caught.value.detail


def test_missing_env_file_is_an_error_naming_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config.toml", "")
    monkeypatch.setenv(config.ENV_CONFIG, str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError) as caught:
        config.find(None)
    assert "gone.toml" in caught.value.detail
    assert config.ENV_CONFIG in caught.value.detail


def test_no_config_anywhere(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load()
    assert "config.toml" in caught.value.detail
    assert caught.value.reason is Reason.CONFIG_INVALID


def test_a_folder_is_not_a_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").mkdir()
    with pytest.raises(ConfigError):
        config.find(None)


# ---- relative paths ---------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    write(
        site / "config.toml",
        '[paths]\nkeys_dir = "secret/keys"\ndatabase = "db/checkin.db"\noutput_dir = "../printed"\n',
    )
    elsewhere = tmp_path / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    for how in ("explicit", "env"):
        if how == "env":
            monkeypatch.setenv(config.ENV_CONFIG, "../../site/config.toml")
            cfg = config.load()
        else:
            cfg = config.load("../../site/config.toml")
        assert cfg.keys_dir.resolve() == (site / "secret" / "keys").resolve(), how
        assert cfg.output_dir.resolve() == (tmp_path / "printed").resolve(), how
        assert cfg.database_url == f"sqlite:///{(site / 'db' / 'checkin.db').resolve()}", how
        assert cfg.keys_dir.is_absolute(), "a later chdir must not move the keys"


def test_absolute_paths_and_urls_are_kept(tmp_path: Path) -> None:
    keys = tmp_path / "abs-keys"
    text = f'[paths]\nkeys_dir = "{keys}"\ndatabase = "postgresql+psycopg://checkin@127.0.0.1:5432/checkin"\n'
    cfg = config.load(str(write(tmp_path / "site" / "config.toml", text)))
    assert cfg.keys_dir == keys
    assert cfg.database_url == "postgresql+psycopg://checkin@127.0.0.1:5432/checkin"
