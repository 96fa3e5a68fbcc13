"""`checkin-gate verify`, driven as a gate operator drives it: real console scripts in subprocesses.

One deployment is made once with the `checkin` command (keys, event, three tickets, one bundle);
every test then runs the gate program against it. Time is given with --now / --at.
"""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from checkin.core import cose, credential, trust
from checkin.core.credential import Credential
from checkin.keystore import KeyStore
from tests.support.images import bomb_png, peak_kib

BIN = Path(sys.executable).parent
CHECKIN = str(BIN / "checkin")
GATE = str(BIN / "checkin-gate")
PASSPHRASE = "correct horse battery staple"
EVENT_DAY = "2022-03-26T09:00"

Result = subprocess.CompletedProcess[str]


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    env["CHECKIN_KEY_PASSPHRASE"] = PASSPHRASE
    return env


def run(program: str, *args: str | Path, cwd: Path, stdin: str = "") -> Result:
    return subprocess.run(
        [program, *map(str, args)],
        cwd=cwd,
        env=base_env(),
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def ok(result: Result) -> Result:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def clean_failure(result: Result, code: str, exit_code: int) -> str:
    """Assert one `error [code]: ...` line (and its Vietnamese twin), no traceback, no verdicts."""
    assert result.returncode == exit_code, f"{result.args}\nexit {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    english = [line for line in lines if line.startswith("error [")]
    assert len(english) == 1, result.stderr
    assert all(line.startswith(("error [", "lỗi [")) for line in lines), result.stderr
    assert english[0].startswith(f"error [{code}]: "), english[0]
    assert result.stdout == "", "no verdict may be printed without a trusted bundle"
    return english[0]


def records(result: Result) -> list[dict]:
    return [json.loads(line) for line in ok(result).stdout.splitlines()]


@dataclass
class Site:
    home: Path
    texts: dict[str, str] = field(default_factory=dict)

    @property
    def bundle(self) -> Path:
        return self.home / "gate" / "cds2022.ckb"

    @property
    def root_pub(self) -> Path:
        return self.home / "gate" / "root.pub"

    def checkin(self, *args: str | Path, now: str) -> Result:
        return run(CHECKIN, "--config", self.home / "D" / "config.toml", "--now", now, *args, cwd=self.home)

    def gate(
        self, *inputs: str | Path, lines: tuple[str, ...] = (), at: str = EVENT_DAY, zone: str | None = None, **paths
    ) -> Result:
        """Run `checkin-gate verify` on INPUT arguments, then on `lines` given on stdin (with `-`).

        Texts mostly go through stdin: the gate first tries an argument as a file name, which
        fails on some CK1 texts (see test_ticket_text_given_as_an_argument_is_verified).
        """
        bundle = paths.get("bundle", self.bundle)
        root = paths.get("root", self.root_pub)
        extra = ["--zone", zone] if zone else []
        args = ["verify", "--bundle", bundle, "--root-key", root, "--at", at, *extra, *inputs]
        if lines:
            args.append("-")
        return run(GATE, *args, cwd=self.home, stdin="".join(f"{line}\n" for line in lines))


def longest_path_part(text: str) -> int:
    """The longest run between slashes, in bytes: a file name longer than 255 bytes is refused by the OS."""
    return max(len(part.encode()) for part in text.split("/"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    home = tmp_path_factory.mktemp("site")
    s = Site(home)
    ok(run(CHECKIN, "init", "--dir", "D", cwd=home))
    ok(s.checkin("keys", "init", now="2022-03-20T09:00"))
    ok(
        s.checkin(
            *("event", "create", "--id", "cds2022", "--name", "Ngày Chuyển đổi số tỉnh Hải Dương 2022"),
            *("--start", "2022-03-26T07:30", "--end", "2022-03-26T17:30", "--zones", "hall,vip,press"),
            now="2022-03-20T09:00",
        )
    )
    tickets = {
        "A": ("Nguyễn Văn An", "hall,vip", "--png", home / "A.png"),
        "B": ("Trần Thị Bình", "hall"),
        "E": ("Lê Thị Em", "hall", "--valid-until", "2022-12-31T00:00"),  # outlives the bundle
    }

    def issue(label: str) -> None:
        name, zones, *extra = tickets[label]
        # A is also given as an argument, which the gate first looks up as a file name: keep A to a
        # text it can look up, and leave the other texts to their own test
        for _attempt in range(20):
            result = ok(
                s.checkin(
                    "issue", "--event", "cds2022", "--name", name, "--zones", zones, *extra, now="2022-03-20T09:30"
                )
            )
            s.texts[label] = result.stdout.splitlines()[-1]
            if label != "A" or longest_path_part(s.texts[label]) <= 255:
                break

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(issue, tickets))
    ok(s.checkin("bundle", "export", "--event", "cds2022", "--out", s.bundle, now="2022-03-26T06:00"))
    return s


def ticket_with_long_path_part(site: Site) -> str:
    """A valid ticket, signed with the deployment's own key, with more than 255 bytes between slashes."""
    store = KeyStore(site.home / "D" / "keys")
    info = store.active_issuing()
    key = store.load_private(info, PASSPHRASE.encode())
    letters = random.Random(2022)
    for _attempt in range(5000):  # about one in ten qualifies: cti and signature are random, the name varies
        name = "Khách " + "".join(letters.choice(string.ascii_letters) for _ in range(letters.randint(24, 40)))
        cred = Credential.create(
            issuer="hd-stttt",
            event_id="cds2022",
            name=name,
            zones=("hall",),
            not_before=datetime(2022, 3, 25, 0, 30, tzinfo=UTC),
            expires_at=datetime(2022, 3, 26, 16, 30, tzinfo=UTC),
            issued_at=datetime(2022, 3, 20, 2, 30, tzinfo=UTC),
        )
        text = credential.sign(cred, key, info.kid_bytes)
        if longest_path_part(text) > 255:
            return text
    raise AssertionError("no ticket with a long slash-free run in 5000 tries")


@pytest.fixture(scope="module")
def outcomes(site: Site, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Every gate run the tests look at, side by side: each is independent of the others."""
    s = site
    files = tmp_path_factory.mktemp("files")
    texts = s.texts
    # a white image without a code, and a file that is no image at all
    Image.new("L", (200, 200), 255).save(files / "blank.png")
    (files / "notes.png").write_text("not an image", encoding="utf-8")
    # another deployment: its own root key signs a bundle for an event of the same id
    other_root = Ed25519PrivateKey.generate()
    (files / "other-root.pub").write_bytes(
        other_root.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    ours = trust.verify_bundle(
        s.bundle.read_bytes(), trust.root_key_from_pem((s.home / "D" / "keys" / "root.pub").read_bytes())
    )
    other_issuing = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    theirs = replace(
        ours,
        issuer="other-deployment",
        keys=(
            trust.BundleKey(
                kid=cose.kid_of(other_issuing),
                public_key=other_issuing,
                not_before=ours.issued_at - timedelta(days=30),
                not_after=None,
                status=trust.KeyStatus.ACTIVE,
            ),
        ),
    )
    (files / "other.ckb").write_bytes(trust.sign_bundle(theirs, other_root))
    data = s.bundle.read_bytes()
    (files / "truncated.ckb").write_bytes(data[: len(data) // 2])
    (files / "junk.ckb").write_bytes(os.urandom(300))
    tampered = texts["A"][:60] + ("A" if texts["A"][60] != "A" else "B") + texts["A"][61:]
    long_ticket = ticket_with_long_path_part(s)
    a = (texts["A"],)

    jobs: dict[str, Callable[[], Result]] = {
        "mixed": lambda: s.gate(texts["A"], s.home / "A.png", lines=(texts["B"], "", "garbage"), zone="vip"),
        "no-zone": lambda: s.gate(lines=(texts["B"], texts["A"])),
        "before": lambda: s.gate(lines=a, at="2022-03-24T09:00"),
        "after": lambda: s.gate(lines=(texts["A"], texts["E"]), at="2022-03-27T09:00"),
        "bundle-expired": lambda: s.gate(lines=(texts["E"],), at="2022-03-29T12:00"),
        "bundle-stale": lambda: s.gate(lines=(texts["E"],), at="2022-04-05T09:00"),
        "tampered": lambda: s.gate(lines=(tampered, "HC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDE")),
        "images": lambda: s.gate(files / "blank.png", files / "notes.png", lines=(texts["B"],)),
        "wrong-root": lambda: s.gate(lines=a, root=files / "other-root.pub"),
        "foreign-bundle": lambda: s.gate(lines=a, bundle=files / "other.ckb"),
        "foreign-bundle-own-root": lambda: s.gate(lines=a, bundle=files / "other.ckb", root=files / "other-root.pub"),
        "missing-bundle": lambda: s.gate(lines=a, bundle=files / "nowhere.ckb"),
        "missing-root": lambda: s.gate(lines=a, root=files / "nowhere.pub"),
        "root-not-a-key": lambda: s.gate(lines=a, root=s.bundle),
        "truncated-bundle": lambda: s.gate(lines=a, bundle=files / "truncated.ckb"),
        "junk-bundle": lambda: s.gate(lines=a, bundle=files / "junk.ckb"),
        "bad-at": lambda: s.gate(lines=a, at="26/03/2022 09:00"),
        "long-argument": lambda: s.gate(long_ticket),
        "long-junk-argument": lambda: s.gate("CK1:" + "A" * 300),
    }
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


# ---- verdicts -----------------------------------------------------------------------------------


def test_one_json_object_per_input_in_order(site: Site, outcomes: dict[str, Result]) -> None:
    result = outcomes["mixed"]
    assert result.stderr == ""
    out = records(result)
    assert [(r["verdict"], r["reason"]) for r in out] == [
        ("admit", "admitted"),
        ("admit", "admitted"),
        ("deny", "zone_not_allowed"),
        ("deny", "unsupported_format"),
    ]
    for record in out:
        assert {"verdict", "reason", "message", "credential"} <= set(record)
    assert out[0]["message"] == "Mời vào"
    assert out[0]["input"] == site.texts["A"]
    assert out[0]["credential"]["name"] == "Nguyễn Văn An"
    assert out[0]["credential"]["zones"] == ["hall", "vip"]
    assert out[0]["credential"]["event"] == "cds2022"
    assert out[1]["input"] == str(site.home / "A.png")
    assert out[1]["text"] == site.texts["A"]
    assert out[1]["credential"]["id"] == out[0]["credential"]["id"]
    assert out[2]["credential"]["name"] == "Trần Thị Bình", "a zone refusal still says whose ticket it is"
    assert out[2]["message"] != out[0]["message"]
    assert out[3]["input"] == "garbage"
    assert out[3]["credential"] is None


def test_without_a_zone_every_valid_ticket_is_admitted(outcomes: dict[str, Result]) -> None:
    assert [r["reason"] for r in records(outcomes["no-zone"])] == ["admitted", "admitted"]


def test_time_window(outcomes: dict[str, Result]) -> None:
    assert [r["reason"] for r in records(outcomes["before"])] == ["not_yet_valid"]
    assert [r["reason"] for r in records(outcomes["after"])] == ["expired", "admitted"]


def test_bundle_freshness(outcomes: dict[str, Result]) -> None:
    (expired,) = records(outcomes["bundle-expired"])
    assert (expired["verdict"], expired["reason"]) == ("admit", "admitted")
    assert expired["warning"]
    (stale,) = records(outcomes["bundle-stale"])
    assert (stale["verdict"], stale["reason"]) == ("deny", "bundle_stale")


def test_forged_and_foreign_codes_are_denied(outcomes: dict[str, Result]) -> None:
    tampered, dcc = records(outcomes["tampered"])
    assert tampered["verdict"] == "deny"
    assert tampered["reason"] in ("bad_signature", "malformed")
    assert tampered["credential"] is None
    assert (dcc["verdict"], dcc["reason"]) == ("deny", "unsupported_format")


def test_images_without_a_code_are_verdicts_not_errors(site: Site, outcomes: dict[str, Result]) -> None:
    blank, notes, text = records(outcomes["images"])
    assert (blank["verdict"], blank["reason"]) == ("deny", "no_code_found")
    assert (notes["verdict"], notes["reason"]) == ("deny", "image_unreadable")
    assert text["reason"] == "admitted"


def test_bundle_of_another_deployment_with_its_own_root_knows_none_of_our_keys(outcomes: dict[str, Result]) -> None:
    (record,) = records(outcomes["foreign-bundle-own-root"])
    assert (record["verdict"], record["reason"]) == ("deny", "unknown_key")


# ---- trust failures: exit 2, one clear line ----------------------------------------------------


def test_bundle_signed_by_another_root_is_refused(outcomes: dict[str, Result]) -> None:
    clean_failure(outcomes["foreign-bundle"], "wrong_root", 2)
    clean_failure(outcomes["wrong-root"], "wrong_root", 2)


def test_missing_bundle_file(outcomes: dict[str, Result]) -> None:
    assert "nowhere.ckb" in clean_failure(outcomes["missing-bundle"], "bundle_invalid", 2)


def test_missing_or_bad_root_key(outcomes: dict[str, Result]) -> None:
    assert "nowhere.pub" in clean_failure(outcomes["missing-root"], "key_file_invalid", 2)
    clean_failure(outcomes["root-not-a-key"], "key_file_invalid", 2)


@pytest.mark.parametrize("name", ["truncated-bundle", "junk-bundle"])
def test_damaged_bundle(outcomes: dict[str, Result], name: str) -> None:
    assert ".ckb" in clean_failure(outcomes[name], "bundle_invalid", 2)


def test_bad_at_time_is_an_input_error_naming_at(outcomes: dict[str, Result]) -> None:
    result = outcomes["bad-at"]
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error [")]
    assert line.startswith("error [invalid_input]: ")
    assert "--at" in line, "the message must name the option the user gave"


# ---- texts as arguments -------------------------------------------------------------------------


def test_ticket_text_given_as_an_argument_is_verified(outcomes: dict[str, Result]) -> None:
    """CK1 texts contain '/', so an argument looks like a path; a long slash-free run must not crash."""
    (record,) = records(outcomes["long-argument"])
    assert (record["verdict"], record["reason"]) == ("admit", "admitted")
    assert record["credential"]["name"].startswith("Khách ")


def test_long_junk_argument_is_a_verdict(outcomes: dict[str, Result]) -> None:
    (record,) = records(outcomes["long-junk-argument"])
    assert (record["verdict"], record["reason"]) == ("deny", "malformed")


# ---- image bombs (security review, flaw 11) ---------------------------------------------------------------

TIME = "/usr/bin/time"


@pytest.mark.skipif(not Path(TIME).exists(), reason="needs GNU time (Debian package time) to measure the peak")
@pytest.mark.parametrize(("width", "height"), [(30000, 30000), (8000, 6000)])
def test_an_image_bomb_is_refused_from_its_header(site: Site, width: int, height: int) -> None:
    """A 110 KB PNG of 900 MP took 7 s and 2 GB; now it is image_too_large at once, beside a ticket
    that still verifies. 8000x6000 (48 MP) is under Pillow's own cap: ours refuses it."""
    bomb = site.home / f"bomb-{width}.png"
    bomb.write_bytes(bomb_png(width, height))
    args = [
        "verify",
        "--bundle",
        site.bundle,
        "--root-key",
        site.root_pub,
        "--at",
        EVENT_DAY,
        bomb,
        site.home / "A.png",
    ]
    result = run(TIME, "-v", GATE, *args, cwd=site.home)
    refused, admitted = records(result)
    assert (refused["input"], refused["verdict"], refused["reason"]) == (str(bomb), "deny", "image_too_large")
    assert refused["message"] == "Ảnh có quá nhiều điểm ảnh để giải mã"
    assert admitted["verdict"] == "admit" and admitted["text"] == site.texts["A"]
    assert peak_kib(result.stderr) < 300 * 1024  # decoding it took 1.8 GB


@pytest.mark.skipif(not Path(TIME).exists(), reason="needs GNU time (Debian package time) to measure the peak")
def test_decode_refuses_an_image_bomb_and_a_video_of_huge_frames(site: Site) -> None:
    import cv2
    import numpy as np

    bomb = site.home / "bomb.png"
    bomb.write_bytes(bomb_png(30000, 30000))
    video = site.home / "huge.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (4400, 2200))
    for _ in range(2):
        writer.write(np.full((2200, 4400, 3), 255, np.uint8))
    writer.release()
    result = run(TIME, "-v", GATE, "decode", bomb, video, site.home / "A.png", cwd=site.home)
    bombed, huge, fine = records(result)
    assert (bombed["input"], bombed["error"]) == (str(bomb), "image_too_large")
    assert (huge["input"], huge["error"]) == (str(video), "image_too_large")
    assert "4400x2200" in huge["detail"]
    assert fine["texts"] == [site.texts["A"]]
    assert peak_kib(result.stderr) < 300 * 1024
