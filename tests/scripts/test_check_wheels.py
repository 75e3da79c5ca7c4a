"""The wheel check finds, for each locked pin, the wheel a 64-bit Raspberry Pi OS would
install on CPython 3.11 and 3.13, and refuses a pin that would make the Pi compile."""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import json
import socket
import subprocess
import sys
import threading

import pytest

from tests.support.paths import REPO

SCRIPT = REPO / "scripts" / "check_wheels.py"


@pytest.fixture(scope="module")
def cw():
    spec = importlib.util.spec_from_file_location("check_wheels", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def sha(filename: str) -> str:
    return hashlib.sha256(filename.encode()).hexdigest()


def files(*names: str) -> list[dict]:
    """PyPI's file entries for `names`, each with a made-up but distinct sha256."""
    return [{"filename": name, "digests": {"sha256": sha(name)}} for name in names]


def pin_of(cw, *names: str, unhashed: tuple[str, ...] = ()):
    """A pin whose lock lists the hashes of `names` except those in `unhashed`."""
    return cw.Pin("pkg", "1.0", frozenset(sha(n) for n in names if n not in unhashed))


def verdict(cw, *names: str, unhashed: tuple[str, ...] = ()):
    return cw.verdict(pin_of(cw, *names, unhashed=unhashed), files(*names))


def test_a_pure_python_wheel_serves_both_pythons(cw):
    ok, line = verdict(cw, "pkg-1.0.tar.gz", "pkg-1.0-py3-none-any.whl")
    assert ok, line
    assert line == "ok       pkg==1.0: pkg-1.0-py3-none-any.whl"


def test_only_x86_64_wheels_fail_on_both_pythons(cw):
    ok, line = verdict(cw, "pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
                       "pkg-1.0-cp313-cp313-manylinux_2_17_x86_64.whl", "pkg-1.0.tar.gz")
    assert not ok
    assert line.startswith("missing  pkg==1.0: cp311 (") and "; cp313 (" in line


def test_an_sdist_alone_fails_and_says_so(cw):
    ok, line = verdict(cw, "pkg-1.0.tar.gz")
    assert not ok
    assert line == "missing  pkg==1.0: cp311 (sdist only); cp313 (sdist only)"


def test_a_cp37_abi3_aarch64_wheel_serves_3_11_and_3_13(cw):
    ok, line = verdict(cw, "pkg-1.0-cp37-abi3-manylinux_2_28_aarch64.whl")
    assert ok, line


def test_abi3_built_for_a_newer_python_does_not_serve_an_older_one(cw):
    ok, line = verdict(cw, "pkg-1.0-cp313-abi3-manylinux_2_28_aarch64.whl")
    assert not ok
    assert "cp311 (no wheel for CPython 3.11" in line and "cp313" not in line


def test_a_wheel_for_each_python_is_needed(cw):
    ok, line = verdict(cw, "pkg-1.0-cp311-cp311-manylinux_2_28_aarch64.whl",
                       "pkg-1.0-cp312-cp312-manylinux_2_28_aarch64.whl")
    assert not ok
    assert line.endswith("cp313 (no wheel for CPython 3.13 on aarch64 with glibc <= 2.41, "
                         "Raspberry Pi OS 13 (trixie))")


def test_a_glibc_newer_than_debian_12_fails_3_11_but_not_3_13(cw):
    ok, line = verdict(cw, "pkg-1.0-cp311-cp311-manylinux_2_39_aarch64.whl",
                       "pkg-1.0-cp313-cp313-manylinux_2_39_aarch64.whl")
    assert not ok
    assert "cp311 (no wheel for CPython 3.11 on aarch64 with glibc <= 2.36" in line
    assert "cp313" not in line


def test_a_glibc_newer_than_debian_13_fails_3_13(cw):
    ok, line = verdict(cw, "pkg-1.0-cp311-cp311-manylinux_2_36_aarch64.whl",
                       "pkg-1.0-cp313-cp313-manylinux_2_42_aarch64.whl")
    assert not ok
    assert "cp313 (no wheel" in line and "cp311" not in line


def test_the_legacy_manylinux2014_name_counts(cw):
    ok, line = verdict(cw, "pkg-1.0-cp311-cp311-manylinux2014_aarch64.manylinux_2_17_aarch64.whl",
                       "pkg-1.0-cp313-cp313-manylinux2014_aarch64.whl")
    assert ok, line


@pytest.mark.parametrize("other", [
    "pkg-1.0-cp313-cp313-musllinux_1_2_aarch64.whl",     # needs musl, the Pi has glibc
    "pkg-1.0-cp313-cp313t-manylinux_2_28_aarch64.whl",   # the free-threaded build
    "pkg-1.0-cp313-cp313-linux_aarch64.whl",             # promises no glibc
    "pkg-1.0-cp313-cp313-manylinux_2_28_armv7l.whl",     # 32-bit Raspberry Pi OS
    "pkg-1.0-pp311-pypy311_pp73-manylinux_2_28_aarch64.whl",
])
def test_wheels_a_pi_would_not_take_do_not_count(cw, other):
    ok, line = verdict(cw, "pkg-1.0-cp311-cp311-manylinux_2_28_aarch64.whl", other)
    assert not ok
    assert "cp313 (no wheel" in line


def test_a_wheel_whose_hash_is_not_in_the_lock_fails(cw):
    wheel = "pkg-1.0-py3-none-any.whl"
    ok, line = verdict(cw, wheel, "pkg-1.0.tar.gz", unhashed=(wheel,))
    assert not ok
    assert f"cp311 ({wheel} is on PyPI but its hash is not in the lock)" in line


def test_any_hashed_wheel_will_do_when_another_is_not_hashed(cw):
    one = "pkg-1.0-cp311-cp311-manylinux_2_28_aarch64.whl"
    ok, line = verdict(cw, one, "pkg-1.0-cp311-cp311-manylinux_2_17_aarch64.whl",
                       "pkg-1.0-py3-none-any.whl", unhashed=(one,))
    assert ok, line


def test_a_release_pypi_does_not_have_fails(cw):
    assert cw.verdict(cw.Pin("pkg", "9.9", frozenset()), None) == (
        False, "missing  pkg==9.9: no such release on PyPI")


def test_the_lock_reader_takes_every_pin_with_its_hashes(cw, tmp_path):
    lock = tmp_path / "r.lock"
    lock.write_text("# header\nFoo_Bar==1.2 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
                    "    # via x\n\n# unsafe:\nsix==1.0 \\\n    --hash=sha256:cc\n")
    assert cw.read_lock(lock) == [cw.Pin("foo-bar", "1.2", frozenset({"aa", "bb"})),
                                  cw.Pin("six", "1.0", frozenset({"cc"}))]


def test_the_lock_reader_refuses_what_is_not_a_hashed_pin(cw, tmp_path):
    lock = tmp_path / "r.lock"
    lock.write_text("six>=1.0\n")
    with pytest.raises(SystemExit, match=r"r.lock:1: not a hashed pin: six>=1.0"):
        cw.read_lock(lock)


def test_the_real_lock_reads_with_hashes_for_every_pin(cw):
    pins = cw.read_lock(REPO / "requirements.lock")
    assert "numpy" in {p.name for p in pins}
    assert all(p.hashes and all(len(h) == 64 for h in p.hashes) for p in pins)


class FakeIndex(http.server.BaseHTTPRequestHandler):
    """A local index on a real socket: answers only the project pages in `pages`, as a
    mirror without per-release pages does."""

    pages: dict[str, dict] = {}

    def do_GET(self):  # noqa: N802 (the http.server hook's name)
        page = self.pages.get(self.path)
        body = json.dumps(page).encode() if page is not None else b"{}"
        self.send_response(200 if page is not None else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def index():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeIndex)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pypi"
    server.shutdown()
    server.server_close()
    thread.join()


def hashed_lock(tmp_path, pins: dict[str, list[str]]):
    lock = tmp_path / "r.lock"
    lock.write_text("".join(
        f"{name}==1.0 \\\n" + " \\\n".join(f"    --hash=sha256:{sha(n)}" for n in names) + "\n"
        for name, names in pins.items()))
    return lock


def test_the_command_prints_a_line_per_pin_and_exits_1_on_a_missing_wheel(
        cw, tmp_path, index, capsys):
    good, bad = ["good-1.0-py3-none-any.whl"], ["bad-1.0.tar.gz"]
    FakeIndex.pages = {"/pypi/good/json": {"releases": {"1.0": files(*good)}},
                       "/pypi/bad/json": {"releases": {"1.0": files(*bad)}}}
    lock = hashed_lock(tmp_path, {"good": good, "bad": bad})
    assert cw.main([str(lock), "--index", index]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["missing  bad==1.0: cp311 (sdist only); cp313 (sdist only)",
                         "ok       good==1.0: good-1.0-py3-none-any.whl"]
    assert lines[2].startswith("NOT every locked package has an aarch64 wheel")


def test_the_command_exits_0_when_every_pin_has_its_wheels(cw, tmp_path, index, capsys):
    good = ["good-1.0-py3-none-any.whl"]
    FakeIndex.pages = {"/pypi/good/json": {"releases": {"1.0": files(*good)}}}
    assert cw.main([str(hashed_lock(tmp_path, {"good": good})), "--index", index]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("every locked package")


def test_an_unreachable_index_exits_2_not_1(tmp_path):
    with socket.socket() as s:   # a port that was free a moment ago: nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lock = tmp_path / "r.lock"
    lock.write_text("six==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    run = subprocess.run([sys.executable, str(SCRIPT), str(lock),
                          "--index", f"http://127.0.0.1:{port}/pypi"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.startswith("check_wheels: cannot ask PyPI: http://127.0.0.1:")


@pytest.mark.network
def test_every_pin_of_the_real_lock_has_its_pi_wheels_on_pypi():
    """Asks pypi.org: the check CI runs (`make check-wheels`), on the lock as committed."""
    run = subprocess.run([sys.executable, str(SCRIPT), str(REPO / "requirements.lock")],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stdout + run.stderr
    pins = run.stdout.splitlines()[:-1]
    assert pins and all(line.startswith("ok       ") for line in pins), run.stdout
