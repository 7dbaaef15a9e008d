"""The static font instances are named for the source font's content, not for where it is
installed: a fresh clone, another virtual environment or a reinstall of the same package
(another path, another modification time) finds the instances already made, half a minute of
CPU each time, and another font never takes them for its own."""

from __future__ import annotations

import os
from pathlib import Path

from server.agreements import fonts


def _names(src: Path, cache: Path) -> list[str]:
    return [p.name for p in fonts._paths(src, cache).values()]


def test_the_same_font_elsewhere_finds_the_same_instances(tmp_path: Path) -> None:
    one = tmp_path / "venv-a" / "NotoSansSC[wght].ttf"
    two = tmp_path / "venv-b" / "NotoSansSC[wght].ttf"
    for path in (one, two):
        path.parent.mkdir()
        path.write_bytes(b"the same font program" * 1000)
    os.utime(two, ns=(1_000_000_000, 1_000_000_000))  # installed at another time
    cache = tmp_path / "cache"
    assert _names(one, cache) == _names(two, cache)


def test_another_font_gets_other_instances(tmp_path: Path) -> None:
    one, two = tmp_path / "a.ttf", tmp_path / "b.ttf"
    one.write_bytes(b"one font program" * 1000)
    two.write_bytes(b"another program!" * 1000)  # the same size, other bytes
    stat = one.stat()
    os.utime(two, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    cache = tmp_path / "cache"
    assert set(_names(one, cache)).isdisjoint(_names(two, cache))
