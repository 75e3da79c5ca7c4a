"""Every EU DCC test vector (healthpass/dgc-testdata of the corpus) against the verifier.

The corpus is outside the repository: ../shared/corpus, or $CHECKPOINT_CORPUS (see
bench/corpus.py); without it these tests skip, saying where it was looked for.

Each EXPECTED* flag the verifier covers must agree, except the data defects listed in the
corpus's PROVENANCE.md; the agreement table is printed (run with -s to see it).
"""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from bench.corpus import corpus_dir
from tests.support.corpus import corpus_or_skip
from tests.support.paths import REPO

DCC = ("healthpass", "dgc-testdata")      # inside the corpus (bench/corpus.py)


def _agreement_module():
    script = REPO / "scripts" / "dcc_agreement.py"
    spec = importlib.util.spec_from_file_location("dcc_agreement", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus():
    return corpus_or_skip(*DCC)


@pytest.fixture(scope="module")
def judged(corpus):
    agreement = _agreement_module()
    paths = agreement.vector_paths(corpus)
    outcomes = [o for path in paths for o in agreement.judge_vector(path, corpus)]
    return agreement, paths, outcomes


def test_every_vector_is_read(judged):
    _, paths, outcomes = judged
    assert len(paths) == 320
    assert {o.vector for o in outcomes} >= {"common/2DCode/raw/CO1.json",
                                            "IE/2DCode/Raw/1.json"}


def test_every_covered_flag_agrees_except_the_known_defects(judged, capsys):
    agreement, paths, outcomes = judged
    rows = agreement.agreement_table(outcomes, len(paths))
    with capsys.disabled():
        print()
        agreement.print_table(rows, len(paths))
    unexpected = [o for o in outcomes if not o.agrees and not o.known_defect]
    assert unexpected == []
    assert all(row["agree"] > 0 for row in rows)


def test_known_defects_are_the_ones_provenance_lists(judged):
    _, _, outcomes = judged
    defects = sorted((o.vector, o.flag) for o in outcomes if not o.agrees)
    assert defects == [
        ("ES/2DCode/raw/401.json", "EXPECTEDVERIFY"),
        ("ES/2DCode/raw/402.json", "EXPECTEDVERIFY"),
        ("ES/2DCode/raw/403.json", "EXPECTEDVERIFY"),
        ("IS/2DCode/raw/3.json", "EXPECTEDKEYUSAGE"),
        ("PL/1.3.0/2DCode/raw/6.json", "EXPECTEDEXPIRATIONCHECK"),
    ]


def test_the_whole_chain_never_passes_what_a_vector_says_fails(judged, corpus):
    agreement, paths, _ = judged
    passed = 0
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        expected = data.get("EXPECTEDRESULTS") or {}
        if not agreement.passes_verifier(path):
            continue
        passed += 1
        # from the text on: an unreadable picture (Q1) says nothing about its text
        failing = [f for f in agreement.FLAGS
                   if f != "EXPECTEDPICTUREDECODE" and expected.get(f) is False]
        relative = path.relative_to(corpus).as_posix()
        assert failing == [] or relative == "IS/2DCode/raw/3.json", (relative, failing)
    assert passed > 250        # most vectors are valid at their own validation clock


def test_script_prints_the_table_and_exits_0():
    import subprocess

    corpus = corpus_dir().joinpath(*DCC)      # not skipped when absent: then it exits 2
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "dcc_agreement.py"),
                           str(corpus)], capture_output=True, text=True, timeout=60)
    if not corpus.is_dir():
        assert done.returncode == 2
        return
    assert done.returncode == 0, done.stderr
    assert "EXPECTEDVERIFY" in done.stdout and "known defect" in done.stdout


def test_checkpoint_verify_judges_the_whole_corpus_in_one_process(judged, tmp_path):
    """One trust list with every vector's DSC; one `checkpoint verify -` run, a JSON line
    with its own validation clock per vector."""
    import subprocess

    from models.bundle import sign_bundle
    from models.keys import new_private_key, public_pem

    _, paths, _ = judged
    vectors = [json.loads(p.read_text(encoding="utf-8-sig")) for p in paths]
    certs = sorted({v["TESTCTX"]["CERTIFICATE"] for v in vectors})
    root = new_private_key()
    payload = {"version": 1, "issued": "2021-01-01T00:00:00Z",
               "next_update": "2031-01-01T00:00:00Z", "keys": [{"cert": c} for c in certs]}
    (tmp_path / "trustlist.json").write_text(json.dumps(sign_bundle("trustlist", payload, root)))
    (tmp_path / "root.pem").write_bytes(public_pem(root.public_key()))
    lines = "".join(json.dumps({"text": v["PREFIX"], "at": v["TESTCTX"]["VALIDATIONCLOCK"]})
                    + "\n" for v in vectors)
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "checkpoint"), "verify", "--trust",
         str(tmp_path / "trustlist.json"), "--root", str(tmp_path / "root.pem"), "-"],
        input=lines, capture_output=True, text=True, timeout=120)
    judged_lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1 and len(judged_lines) == len(vectors)   # some must fail
    passed = [j for j in judged_lines if j["decision"] == "pass"]
    assert len(passed) > 250 and all(j["format"] == "HC1" for j in passed)
    assert all(j["subject"] is None for j in passed)        # no district key: no subject
