"""The CJK font every sealed PDF embeds, so Chinese renders on a machine with no CJK fonts.

The font comes from PyPI (``justmytype-intl-cjk`` ships Google's Noto Sans SC, SIL OFL) as
one variable TrueType file whose default instance is Thin. WeasyPrint would instantiate the
variable font on every render (seconds each), so static Regular and Bold instances are made
once, atomically, into a cache directory and referenced by ``@font-face`` file URLs; WeasyPrint
then subsets and embeds only the glyphs a document uses.

Making them takes half a minute of CPU, so nobody waits for it up front: ``courtlink serve``
makes them in a separate process as it starts (``prepare_aside``, a one-off job of its
supervisor) and ``make fonts`` at install time. Whoever makes them holds a lock file in the
cache directory, so a document rendered before they are ready waits for that process, and
only then, instead of making them a second time.

The instances carry their own names (family "Noto Sans SC", Regular and Bold, PostScript
``NotoSansSC-Regular``/``-Bold``), not the variable font's default-instance "Noto Sans SC
Thin". It is the only font a document uses: the renderer gives WeasyPrint a font
configuration holding these files and nothing else (``weasy.ProductFonts``), and the hash line
sets its digest in this font's own half-width Latin (the ``hwid`` feature: 500 units each,
i.e. monospaced) rather than a system ``monospace``.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import hashlib
import os
import sys
import threading
from importlib.resources import files
from pathlib import Path

# The CSS family is the font's own name, so a PDF's font list says "Noto Sans SC".
FAMILY = "Noto Sans SC"
WEIGHTS = (400, 700)
# Part of the cache file name: an instance made by older code (named "Thin") is not reused.
_NAMES_VERSION = 2
_lock = threading.Lock()


class FontMissing(RuntimeError):
    pass


def source_font() -> Path:
    """The variable Noto Sans SC shipped by the installed package."""
    try:
        root = Path(str(files("justmytype_intl_cjk"))) / "fonts" / "ofl" / "notosanssc"
    except ModuleNotFoundError as exc:
        raise FontMissing("install justmytype-intl-cjk (pip install -e .)") from exc
    found = sorted(root.glob("NotoSansSC*.ttf"))
    if not found:
        raise FontMissing(f"no NotoSansSC font under {root}")
    return found[0]


def _stamp(path: Path) -> str:
    """The source font's part of the instances' names: its content, so the same package
    installed elsewhere or again (another path, another time) finds them made, and another
    font never takes them for its own."""
    st = path.stat()
    return _digest(path, st.st_size, st.st_mtime_ns)


@functools.cache
def _digest(path: Path, size: int, mtime_ns: int) -> str:
    # Keyed by size and time as well, so a file changed in place is read again; reading the
    # 17 MB font takes ~30 ms, once per process.
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()[:12]


def _instance(src: Path, weight: int, dest: Path) -> None:
    from fontTools.ttLib import TTFont
    from fontTools.varLib.instancer import instantiateVariableFont

    font = TTFont(str(src))
    # updateFontNames rewrites the name table from the font's STAT/fvar for this weight: family
    # "Noto Sans SC", subfamily "Regular"/"Bold", full name and PostScript name to match.
    static = instantiateVariableFont(font, {"wght": weight}, updateFontNames=True)
    tmp = dest.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    static.save(str(tmp))
    os.replace(tmp, dest)  # atomic: a reader never sees half a font


def _paths(src: Path, cache_dir: Path) -> dict[int, Path]:
    stamp = _stamp(src)
    return {w: cache_dir / f"NotoSansSC-{w}-n{_NAMES_VERSION}-{stamp}.ttf" for w in WEIGHTS}


def prepare(cache_dir: Path) -> dict[int, Path]:
    """Static instances per weight under ``cache_dir`` (made on first use, then reused);
    waits for another thread or process that is making them."""
    src = source_font()
    out = _paths(src, cache_dir)
    if all(p.exists() for p in out.values()):
        return out
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _lock, (cache_dir / ".lock").open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes
        for weight, dest in out.items():
            if not dest.exists():
                _instance(src, weight, dest)
    return out


def is_prepared(cache_dir: Path) -> bool:
    return all(p.exists() for p in _paths(source_font(), cache_dir).values())


async def prepare_aside(cache_dir: Path) -> None:
    """``prepare`` in a child process at the lowest CPU priority (its CPU then never holds
    up this process's event loop or its threads); returns at once when the instances are
    there."""
    # Off the loop: naming the instances reads the whole 17 MB font once (its digest), and
    # the server is already answering requests while this runs.
    if await asyncio.to_thread(is_prepared, cache_dir):
        return
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.agreements.fonts", str(cache_dir)
    )
    try:
        code = await child.wait()
    finally:
        if child.returncode is None:  # stopped with the server: no orphan keeps working
            child.kill()
            await child.wait()
    if code != 0:
        raise RuntimeError(f"preparing the document fonts failed (exit {code})")


def font_css(paths: dict[int, Path]) -> str:
    faces = "\n".join(
        f"@font-face {{ font-family: '{FAMILY}'; src: url('{p.resolve().as_uri()}'); "
        f"font-weight: {w}; font-style: normal; }}"
        for w, p in sorted(paths.items())
    )
    return f"{faces}\nhtml, body {{ font-family: '{FAMILY}'; }}\n"


def _as_background_child() -> None:
    # The lowest CPU priority, so the server's own work (and anything else on the machine)
    # goes first; and gone with the server that started it, even one killed outright.
    os.nice(19)
    if sys.platform == "linux":
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the server died before the line above
        sys.exit(1)


if __name__ == "__main__":
    _as_background_child()
    prepare(Path(sys.argv[1]))
