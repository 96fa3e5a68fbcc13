"""Adversarial gate.toml: every bad value must be a ConfigError naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from checkin.core import chain
from checkin.core.errors import ConfigError, InputError
from scanner.datadir import GateData
from scanner.settings import CameraSettings, Settings, parse_settings
from tests.support.gatekit import run_gate

SOURCE = "gate-data/gate.toml"
GATE_FLOATS = ("banner_hold_seconds", "repeat_seconds", "checkpoint_minutes", "sync_interval_seconds")
GATE_INTS = ("checkpoint_rows", "batch_size")


def refused(text: str) -> str:
    """The detail of the ConfigError the text must raise."""
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, SOURCE)
    assert caught.value.code == "config_invalid"
    assert SOURCE in caught.value.detail
    return caught.value.detail


# ---- NaN, infinity, zero, huge numbers -----------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "+nan", "-nan", "inf", "+inf", "1e999"])
@pytest.mark.parametrize("key", ["fps", "focus"])
def test_nan_and_inf_camera_values_are_refused_naming_the_key(key: str, value: str) -> None:
    assert f"[camera].{key} must be from" in refused(f"[camera]\n{key} = {value}\n")


@pytest.mark.parametrize("value", ["nan", "-nan", "inf", "1e999"])
@pytest.mark.parametrize("key", GATE_FLOATS)
def test_nan_and_inf_gate_values_are_refused_naming_the_key(key: str, value: str) -> None:
    assert f"[gate].{key}" in refused(f"[gate]\n{key} = {value}\n")


@pytest.mark.parametrize("value", ["-0.0", "-0", "0", "0.0", "-inf", "-1e-300"])
@pytest.mark.parametrize("key", GATE_FLOATS)
def test_zero_negative_zero_and_negatives_are_refused_for_gate_floats(key: str, value: str) -> None:
    assert f"[gate].{key} must be above 0" in refused(f"[gate]\n{key} = {value}\n")


@pytest.mark.parametrize("value", ["0", "-0", "+0", "-1"])
@pytest.mark.parametrize("key", GATE_INTS)
def test_zero_and_negative_gate_ints_are_refused(key: str, value: str) -> None:
    assert f"[gate].{key} must be above 0" in refused(f"[gate]\n{key} = {value}\n")


def test_negative_zero_focus_is_a_focus_of_zero() -> None:
    camera = parse_settings("[camera]\nfocus = -0.0\n", SOURCE).camera
    assert (camera.focus, camera.autofocus) == (0.0, False)


@pytest.mark.parametrize(
    ("key", "low", "high"),
    [("width", 160, 7680), ("height", 120, 4320), ("fps", 1, 240), ("focus", 0, 10_000)],
)
def test_camera_bounds_are_inclusive(key: str, low: int, high: int) -> None:
    for good in (low, high):
        assert getattr(parse_settings(f"[camera]\n{key} = {good}\n", SOURCE).camera, key) == good
    for bad in (low - 1, high + 1, 10**30, -(10**30)):
        assert f"[camera].{key} must be from" in refused(f"[camera]\n{key} = {bad}\n")


def test_huge_ints_for_int_keys() -> None:
    assert "[camera].width must be from" in refused(f"[camera]\nwidth = {10**400}\n")
    assert parse_settings("[gate]\nbatch_size = 5000\n", SOURCE).batch_size == 5000
    # no larger than the service takes in one upload (chain.MAX_BATCH), or every upload is refused
    assert "[gate].batch_size must be above 0 and at most 5000" in refused(f"[gate]\nbatch_size = {2**63 - 1}\n")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"[gate]\nbanner_hold_seconds = {10**400}\n", id="gate-banner_hold_seconds"),
        pytest.param(f"[gate]\nsync_interval_seconds = {10**400}\n", id="gate-sync_interval_seconds"),
        pytest.param(f"[camera]\nfps = {10**400}\n", id="camera-fps"),
        pytest.param(f"[camera]\nfocus = {10**400}\n", id="camera-focus"),
    ],
)
def test_an_int_too_large_for_a_float_is_a_config_error(text: str) -> None:
    key = text.splitlines()[1].partition(" =")[0]
    assert f"].{key}" in refused(text)


@pytest.mark.parametrize("key", ["[gate]\nbatch_size", "[camera]\nwidth"])
def test_an_int_with_thousands_of_digits_is_a_config_error(key: str) -> None:
    refused(f"{key} = 1{'0' * 5000}\n")


@pytest.mark.parametrize("value", ["[" * 5000 + "]" * 5000, "{a=" * 5000 + "1" + "}" * 5000])
def test_deeply_nested_values_are_a_config_error(value: str) -> None:
    refused(f"[gate]\noperator = {value}\n")


def test_a_sync_interval_beyond_what_the_syncer_can_wait_is_refused() -> None:
    assert "[gate].sync_interval_seconds" in refused("[gate]\nsync_interval_seconds = 1e10\n")


# ---- types ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["[1]", "[]", "{a = 1}", "{}", "'5'", "1979-05-27", "07:32:00", "1979-05-27T07:32:00Z"]
)
@pytest.mark.parametrize(
    ("table", "key", "kind"),
    [
        ("gate", "banner_hold_seconds", "float"),
        ("gate", "batch_size", "int"),
        ("gate", "sound", "bool"),
        ("camera", "width", "int"),
        ("camera", "fps", "float"),
        ("camera", "autofocus", "bool"),
        ("camera", "focus", "float"),
        ("camera", "mjpeg", "bool"),
    ],
)
def test_arrays_tables_strings_and_dates_are_refused_naming_the_key(
    table: str, key: str, kind: str, value: str
) -> None:
    assert f"[{table}].{key} must be of type {kind}" in refused(f"[{table}]\n{key} = {value}\n")


@pytest.mark.parametrize("value", ["[1]", "{a = 1}", "1", "1.5", "true", "1979-05-27"])
@pytest.mark.parametrize("key", ["operator", "language"])
def test_non_strings_are_refused_for_string_keys(key: str, value: str) -> None:
    assert f"[gate].{key} must be of type str" in refused(f"[gate]\n{key} = {value}\n")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[gate]\nbatch_size = true\n", "[gate].batch_size must be of type int"),
        ("[gate]\ncheckpoint_rows = false\n", "[gate].checkpoint_rows must be of type int"),
        ("[gate]\nbanner_hold_seconds = true\n", "[gate].banner_hold_seconds must be of type float"),
        ("[camera]\nwidth = true\n", "[camera].width must be of type int"),
        ("[camera]\nfocus = false\n", "[camera].focus must be of type float"),
        ("[gate]\nsound = 0\n", "[gate].sound must be of type bool"),
        ("[camera]\nmjpeg = 1\n", "[camera].mjpeg must be of type bool"),
        ("[gate]\nbatch_size = 1e3\n", "[gate].batch_size must be of type int"),
        ("[gate]\nbatch_size = 500.0\n", "[gate].batch_size must be of type int"),
    ],
)
def test_booleans_and_numbers_do_not_stand_in_for_each_other(text: str, words: str) -> None:
    assert words in refused(text)


def test_hex_octal_binary_and_underscored_ints_are_ints() -> None:
    text = "[gate]\nbatch_size = 0x1f4\ncheckpoint_rows = 0o144\n[camera]\nwidth = 0b10100000000\nheight = 1_080\n"
    settings = parse_settings(text, SOURCE)
    assert (settings.batch_size, settings.checkpoint_rows, settings.camera.width, settings.camera.height) == (
        500,
        100,
        1280,
        1080,
    )


# ---- tables -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[camera.extra]\n", "[camera].extra is not a setting"),
        ("[camera.extra]\nx = 1\n", "[camera].extra is not a setting"),
        ("[gate.camera]\nwidth = 1280\n", "[gate].camera is not a setting"),
        ("gate.camera.width = 1280\n", "[gate].camera is not a setting"),
        ("[gate]\ncamera = {width = 1280}\n", "[gate].camera is not a setting"),
        ("[camera]\nbackend = 200\n", "[camera].backend is not a setting"),
        ("[gate]\n'' = 1\n", "[gate]. is not a setting"),
        ("[[camera]]\nwidth = 1280\n", "[camera] must be a table"),
        ("[[gate]]\n", "[gate] must be a table"),
        ("gate = []\n", "[gate] must be a table"),
        ("camera = 'usb'\n", "[camera] must be a table"),
        ("[Gate]\n", "unknown table(s) ['Gate']"),
        ("[gate]\n[camera]\n[server]\n", "unknown table(s) ['server']"),
        ("width = 1280\n", "unknown table(s) ['width']"),
    ],
)
def test_nested_unknown_and_misshapen_tables_are_refused(text: str, words: str) -> None:
    assert words in refused(text)


def test_dotted_keys_and_quoted_keys_reach_the_same_settings() -> None:
    text = 'camera.width = 1920\n"camera".height = 1080\n[gate]\n"batch_size" = 200\n'
    settings = parse_settings(text, SOURCE)
    assert (settings.camera.width, settings.camera.height, settings.batch_size) == (1920, 1080, 200)


def test_empty_tables_and_an_empty_file_are_the_defaults() -> None:
    assert parse_settings("", SOURCE) == Settings()
    assert parse_settings("# nothing\n[gate]\n[camera]\n", SOURCE) == Settings()


# ---- focus and autofocus --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "focus", "autofocus"),
    [
        ("[camera]\nfocus = 0\n", 0.0, False),
        ("[camera]\nfocus = 0\nautofocus = false\n", 0.0, False),
        ("[camera]\nautofocus = false\nfocus = 10000\n", 10_000.0, False),
        ("[camera]\nautofocus = false\n", None, False),
        ("[camera]\nautofocus = true\n", None, True),
        ("", None, True),
    ],
)
def test_focus_by_hand_turns_autofocus_off(text: str, focus: float | None, autofocus: bool) -> None:
    camera = parse_settings(text, SOURCE).camera
    assert (camera.focus, camera.autofocus) == (focus, autofocus)
    assert camera.backend == CameraSettings().backend


@pytest.mark.parametrize("order", ["focus = 0\nautofocus = true\n", "autofocus = true\nfocus = 0\n"])
def test_focus_with_autofocus_on_is_refused_in_either_order(order: str) -> None:
    assert "[camera].focus sets the focus by hand" in refused(f"[camera]\n{order}")


# ---- duplicates and syntax ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[gate]\nbatch_size = 1\nbatch_size = 2\n", 3),
        ("[gate]\nbatch_size = 1\n'batch_size' = 2\n", 3),
        ("[gate]\n[camera]\n[gate]\n", 3),
        ("[camera]\nwidth = 1280\n[camera]\nheight = 720\n", 3),
        ("camera.width = 1280\n[camera]\nwidth = 640\n", 2),
        ('[gate]\noperator = "\\ud800"\n', 2),
        ("[gate]\nbatch_size = \n", 2),
    ],
)
def test_duplicates_and_syntax_errors_are_config_errors_with_a_line(text: str, line: int) -> None:
    assert f"line {line}" in refused(text)


def test_a_duplicated_key_is_named_by_its_line() -> None:
    assert "line 3" in refused("[gate]\nbatch_size = 1\nbatch_size = 2\n")


def test_a_bom_is_a_config_error_naming_the_file() -> None:
    assert "line 1" in refused("\ufeff[gate]\nbatch_size = 5\n")


def test_a_gate_toml_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    data = GateData(tmp_path)
    data.create()
    data.path("gate.toml").write_bytes('[gate]\noperator = "Đoàn Văn"\n'.encode("cp1258"))
    with pytest.raises(ConfigError) as caught:
        data.settings()
    assert "gate.toml" in caught.value.detail


# ---- language and operator ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["VI", "En", " vi", "vi ", "", "vi-VN", "vie", "fr", "v\u0069\u0308"])
def test_only_vi_and_en_are_languages(value: str) -> None:
    assert "[gate].language must be vi or en" in refused(f"[gate]\nlanguage = {value!r}\n")


@pytest.mark.parametrize("value", ["vi", "en"])
def test_vi_and_en_are_languages(value: str) -> None:
    assert parse_settings(f"[gate]\nlanguage = '{value}'\n", SOURCE).language == value


def test_a_vietnamese_operator_name_comes_through() -> None:
    assert parse_settings("[gate]\noperator = 'Trần Thị Bình'\n", SOURCE).operator == "Trần Thị Bình"
    assert parse_settings("[gate]\noperator = ''\n", SOURCE).operator == ""


@pytest.mark.parametrize("escaped", ["\\u0000", "\\n", "\\r", "\\u001b[31m", "\\u202e", "\\u200b", "\\t"])
def test_operator_with_control_characters_is_refused(escaped: str) -> None:
    assert "[gate].operator" in refused(f'[gate]\noperator = "Bình{escaped}"\n')


def test_an_operator_longer_than_the_journal_accepts_is_refused() -> None:
    operator = "x" * (chain.MAX_TEXT + 1)
    row = chain.append(
        None, wall_ms=1, mono_ms=1, cti="", kid="", verdict="deny", reason="malformed", direction="in", zone="hall",
        operator=operator,
    )  # fmt: skip
    with pytest.raises(InputError, match="operator"):
        chain.row_from_json(row.to_json())
    assert "[gate].operator" in refused(f"[gate]\noperator = '{operator}'\n")


def test_the_operator_option_follows_the_same_rule(tmp_path: Path) -> None:
    for args in (("run", "--texts", "-", "--headless"), ("clock-ack",)):
        result = run_gate(tmp_path / "gate", *args, "--operator", "Bình\u202e")
        assert result.returncode == 2, result
        assert "--operator" in result.stderr and "control characters" in result.stderr
        result = run_gate(tmp_path / "gate", *args, "--operator", "x" * 65)
        assert result.returncode == 2 and "at most 64 characters" in result.stderr
