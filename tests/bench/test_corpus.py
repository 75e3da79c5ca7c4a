"""One setting for the corpora outside the repository (bench/corpus.py): CHECKPOINT_CORPUS,
else ../shared/corpus; a missing folder is one line saying where it was looked for."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.corpus import DEFAULT, ENV, CorpusMissing, corpus_dir, corpus_path
from tests.support.paths import REPO

# Each script with the options that keep a run short if it got past the corpus check.
SCRIPTS = {"corpus_read.py": ["--decoders", "auto"], "dcc_agreement.py": [],
           "fuzz_verify.py": ["--iterations", "50"]}


def _real_corpus():
    """The corpus this machine has (CHECKPOINT_CORPUS as the tests run, else the default)."""
    path = corpus_dir()
    if not (path / "qr").is_dir():
        pytest.skip(f"no corpus at {path} to point {ENV} at")
    return path


def test_the_default_is_shared_corpus_beside_the_repository(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert corpus_dir() == DEFAULT == REPO.parent / "shared" / "corpus"
    monkeypatch.setenv(ENV, "")         # set but empty: as if unset
    assert corpus_dir() == DEFAULT


def test_a_missing_folder_is_one_line_naming_it_and_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(tmp_path))
    with pytest.raises(CorpusMissing) as raised:
        corpus_path("qr")
    message = str(raised.value)
    assert "\n" not in message
    assert str(tmp_path / "qr") in message and f"{ENV}={tmp_path}" in message
    assert "qr/ and healthpass/" in message and "../shared/corpus" in message


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_each_script_without_the_corpus_says_so_in_one_line(name, tmp_path):
    env = {**os.environ, ENV: str(tmp_path)}
    done = subprocess.run([sys.executable, str(REPO / "scripts" / name), *SCRIPTS[name]],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"{name.removesuffix('.py')}: no corpus folder at {tmp_path}/")
    assert ENV in line
    assert done.stdout == ""


@pytest.mark.parametrize("name", ["corpus_read.py", "dcc_agreement.py"])
def test_a_given_path_that_does_not_exist_is_one_line_too(name, tmp_path):
    missing = tmp_path / "nowhere"
    done = subprocess.run([sys.executable, str(REPO / "scripts" / name), str(missing),
                           *SCRIPTS[name]], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"{name.removesuffix('.py')}: no folder at {missing} (the path given)")


@pytest.mark.parametrize("name", ["corpus_read.py", "dcc_agreement.py"])
def test_a_given_folder_without_data_is_one_line_not_an_empty_report(name, tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "scripts" / name), str(tmp_path),
                           *SCRIPTS[name]], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"{name.removesuffix('.py')}: no ") and str(tmp_path) in line


def test_the_variable_names_the_corpus_used(monkeypatch):
    real = _real_corpus()
    monkeypatch.setenv(ENV, str(real))
    assert corpus_path("qr") == real / "qr"
    assert corpus_path("healthpass", "dgc-testdata") == real / "healthpass" / "dgc-testdata"
