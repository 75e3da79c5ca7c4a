"""Check that a Raspberry Pi never compiles at install time: `python scripts/check_wheels.py
[LOCK ...]` (default requirements.lock).

For every `name==version` pinned in the lock files, asks PyPI's JSON API for the files of
that release and looks for a wheel that pip would install on 64-bit Raspberry Pi OS, for
each Python the device may run: 12 (bookworm, CPython 3.11, glibc 2.36) and 13 (trixie,
CPython 3.13, glibc 2.41). The wheel's sha256 must also be among the lock's hashes for
that pin, since `pip install --require-hashes` refuses any other file.

One line per package, `ok` or `missing` with the Pythons it lacks. Exit 0 when every pin
has its wheels, 1 when any is missing, 2 when PyPI cannot be asked (distinct, so a
network outage is not mistaken for a bad lock).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

INDEX = "https://pypi.org/pypi"
TIMEOUT_S = 15
MAX_RESPONSE = 32 * 1024 * 1024  # a project's JSON, every release, is a few MB; bound it
WORKERS = 6                      # a few requests at a time: quick, and polite to PyPI


@dataclass(frozen=True)
class Target:
    """A Python on 64-bit Raspberry Pi OS; glibc bounds the manylinux wheels it takes."""

    name: str
    python: tuple[int, int]
    glibc: tuple[int, int]
    system: str


TARGETS = (Target("cp311", (3, 11), (2, 36), "Raspberry Pi OS 12 (bookworm)"),
           Target("cp313", (3, 13), (2, 41), "Raspberry Pi OS 13 (trixie)"))


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: frozenset[str]


class Unreachable(Exception):
    """PyPI did not answer; nothing can be said about the lock."""


def platforms(target: Target) -> list[str]:
    """The aarch64 platform tags pip accepts under the target's glibc, newest first.

    Only manylinux: musllinux needs musl, and a bare linux_aarch64 wheel promises
    nothing about the glibc it was built against."""
    major, newest = target.glibc
    tags = [f"manylinux_{major}_{minor}_aarch64" for minor in range(newest, 16, -1)]
    return [*tags, "manylinux2014_aarch64"]   # the legacy name of manylinux_2_17


def supported_tags(target: Target) -> frozenset[Tag]:
    """Every tag CPython on the target installs, built as pip builds its own list."""
    plats = platforms(target)
    abi = f"cp{target.python[0]}{target.python[1]}"
    return frozenset([*cpython_tags(target.python, [abi], plats),
                      *compatible_tags(target.python, abi, plats)])


def installable(filename: str, tags: frozenset[Tag]) -> bool:
    """Whether a file is a wheel carrying one of `tags` (an sdist never is)."""
    if not filename.endswith(".whl"):
        return False
    try:
        wheel_tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return False
    return not wheel_tags.isdisjoint(tags)


def find_wheel(pin: Pin, files: list[dict], target: Target) -> tuple[str | None, str]:
    """The wheel the target would install, or None with the reason there is none."""
    tags = supported_tags(target)
    wheels = [f for f in files if installable(f.get("filename", ""), tags)]
    if not wheels:
        sdists = all(not f.get("filename", "").endswith(".whl") for f in files)
        python = ".".join(map(str, target.python))
        glibc = ".".join(map(str, target.glibc))
        return None, ("sdist only" if sdists else
                      f"no wheel for CPython {python} on aarch64 with glibc <= {glibc}, "
                      f"{target.system}")
    for wheel in wheels:
        if wheel.get("digests", {}).get("sha256") in pin.hashes:
            return wheel["filename"], ""
    return None, f"{wheels[0]['filename']} is on PyPI but its hash is not in the lock"


def read_lock(path: Path) -> list[Pin]:
    """The pins of a pip-compile lock: `name==version \\` then `--hash=sha256:...` lines."""
    pins, current = [], None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip().rstrip("\\").strip()
        if not line:
            continue
        if raw[:1].isspace() and line.startswith("--hash=sha256:") and current:
            current[2].add(line.removeprefix("--hash=sha256:"))
            continue
        found = re.fullmatch(r"([A-Za-z0-9_.-]+)==([A-Za-z0-9_.!+-]+)", line)
        if not found:
            raise SystemExit(f"{path}:{number}: not a hashed pin: {raw.strip()}")
        current = (found[1], found[2], set())
        pins.append(current)
    return [Pin(canonicalize_name(n), v, frozenset(h)) for n, v, h in pins]


def _get(url: str) -> dict | None:
    """PyPI's JSON answer for `url`; None for a 404."""
    request = urllib.request.Request(url, headers={"User-Agent": "checkpoint-check-wheels"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            body = response.read(MAX_RESPONSE + 1)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise Unreachable(f"{url}: HTTP {error.code}") from error
    except (urllib.error.URLError, OSError) as error:   # refused, DNS, timeout
        raise Unreachable(f"{url}: {getattr(error, 'reason', error)}") from error
    if len(body) > MAX_RESPONSE:
        raise Unreachable(f"{url}: the answer is over {MAX_RESPONSE} bytes")
    try:
        answer = json.loads(body)
    except ValueError as error:
        raise Unreachable(f"{url}: not JSON ({error})") from error
    if not isinstance(answer, dict):
        raise Unreachable(f"{url}: not a JSON object")
    return answer


def release_files(pin: Pin, index: str = INDEX) -> list[dict] | None:
    """The files PyPI has for the pinned release; None when it has no such release.

    The release's own page is small; a mirror without it still has the project's page,
    which lists every release."""
    release = _get(f"{index}/{pin.name}/{pin.version}/json")
    if release is not None:
        files = release.get("urls")
    else:
        project = _get(f"{index}/{pin.name}/json") or {}
        files = (project.get("releases") or {}).get(pin.version)
        if files is None:
            return None
    if not isinstance(files, list):
        raise Unreachable(f"{index}: no file list for {pin.name}=={pin.version}")
    return [f for f in files if isinstance(f, dict)]


def verdict(pin: Pin, files: list[dict] | None) -> tuple[bool, str]:
    """(ok, the line to print) for one pin."""
    label = f"{pin.name}=={pin.version}"
    if files is None:
        return False, f"missing  {label}: no such release on PyPI"
    found = {t.name: find_wheel(pin, files, t) for t in TARGETS}
    lacking = [f"{name} ({reason})" for name, (wheel, reason) in found.items() if not wheel]
    if lacking:
        return False, f"missing  {label}: " + "; ".join(lacking)
    shown = sorted({wheel for wheel, _ in found.values()})
    return True, f"ok       {label}: " + ", ".join(shown)


def check(pins: list[Pin], index: str = INDEX) -> tuple[bool, list[str]]:
    with ThreadPoolExecutor(WORKERS) as pool:
        answers = list(pool.map(lambda pin: release_files(pin, index), pins))
    verdicts = [verdict(pin, files) for pin, files in zip(pins, answers, strict=True)]
    return all(ok for ok, _ in verdicts), [line for _, line in verdicts]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("locks", nargs="*", type=Path, default=[Path("requirements.lock")])
    parser.add_argument("--index", default=INDEX, help="PyPI's JSON API (default %(default)s)")
    args = parser.parse_args(argv)
    pins = {pin for lock in args.locks for pin in read_lock(lock)}   # each lock's hashes
    try:
        ok, lines = check(sorted(pins, key=lambda p: (p.name, p.version)), args.index)
    except Unreachable as error:
        print(f"check_wheels: cannot ask PyPI: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    targets = ", ".join(f"{t.name} on {t.system}" for t in TARGETS)
    print(f"{'every' if ok else 'NOT every'} locked package has an aarch64 wheel for {targets}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
