"""Render the demo's arrival video: guests showing their badges and phones to the gate camera.

Usage: demo_video.py INDEX_CSV OUT.avi. Reads the codes from `checkin issue --csv`'s index.csv and
films: printed badges (moving, turned, tilted, a little blurred), two phone screens, two people at
once, a forged code, a revoked code, and one guest who comes back without having left.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from scanner.scenes import Presentation, render_video


def forge(text: str) -> str:
    """The same code with one character changed: what a photocopied-and-edited badge looks like."""
    i = len(text) // 2
    return text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1 :]


def main() -> None:
    index, out = Path(sys.argv[1]), Path(sys.argv[2])
    with index.open(encoding="utf-8-sig", newline="") as handle:
        code = {row["name"]: row["code"] for row in csv.DictReader(handle)}
    shows = [
        Presentation((code["Nguyễn Thị Ánh"],), angle=8),
        Presentation((code["Trần Văn Bình"],), angle=-28, tilt=0.07),  # badge held at an angle
        Presentation((code["Lê Thị Cẩm Tú"],), angle=4, phone=True),  # on her phone
        Presentation((code["Phạm Đức Dũng"],), angle=14, blur=1.2, motion=5),  # walking fast
        Presentation((code["Hoàng Minh Đức"], code["Vũ Thị Hồng Nhung"]), angle=-8),  # two at once
        Presentation((code["Đặng Quốc Huy"],), angle=-6, noise=9),  # the dim side door
        Presentation((forge(code["Bùi Thị Lan Hương"]),), angle=3),  # a forged badge
        Presentation((code["Cao Thị Thảo"],), angle=-10),  # the badge reported lost: revoked
        Presentation((code["Đỗ Văn Khải"],), angle=10, phone=True),
        Presentation((code["Nguyễn Thị Ánh"],), angle=-15),  # back again without leaving
    ]
    frames = render_video(out, shows)
    print(f"{out}: {frames} frames, {len(shows)} arrivals")


if __name__ == "__main__":
    main()
