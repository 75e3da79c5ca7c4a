"""Read the shared QR corpus with each decoder: codes read per folder and median decode time.

With zxing among the decoders, each other's median time on photos without a code is also
given as a ratio to zxing-cpp alone's, measured in the same run.

    .venv/bin/python scripts/corpus_read.py [CORPUS_QR_DIR] [--decoders auto,zxing,zbar]

CORPUS_QR_DIR defaults to qr/ of the corpus: $CHECKPOINT_CORPUS/qr, else
../shared/corpus/qr beside the repository (bench/corpus.py). Without it: one line, exit 2.

An image `N.ext` holding a code has `N.txt` beside it with the exact expected text (read
as bytes: its line endings matter). Folders named `falsepositives-*` hold photos without
a code, where a decoder must find nothing. Images OpenCV cannot load are input errors.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class Case:
    path: Path
    folder: str                 # e.g. "zxing-cpp/qrcode-1"
    expected: str | None        # None: the image holds no code

    @property
    def empty(self) -> bool:
        return self.folder.rsplit("/", 1)[-1].startswith("falsepositives")


@dataclass
class Report:
    read: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    false_reads: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    empty_ms: list[float] = field(default_factory=list)
    code_ms: list[float] = field(default_factory=list)

    @property
    def codes_read(self) -> int:
        return sum(n for folder, n in self.read.items() if "falsepositives" not in folder)

    @property
    def codes_total(self) -> int:
        return sum(n for folder, n in self.total.items() if "falsepositives" not in folder)


def corpus_cases(root: Path) -> list[Case]:
    cases = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        expected_file = path.with_suffix(".txt")
        expected = expected_file.read_bytes().decode("utf-8") if expected_file.exists() else None
        cases.append(Case(path, path.parent.relative_to(root).as_posix(), expected))
    return cases


def read_corpus(decoder, cases: list[Case]) -> Report:
    from drivers.camera_opencv import read_image

    report = Report()
    for case in cases:
        image = read_image(case.path)
        if image is None:
            report.unreadable.append(str(case.path))
            continue
        started = time.perf_counter()
        texts = decoder.decode(image)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        report.total[case.folder] += 1
        if case.empty:
            report.empty_ms.append(elapsed_ms)
            report.read[case.folder] += not texts
            if texts:
                report.false_reads.append(str(case.path))
        else:
            report.code_ms.append(elapsed_ms)
            report.read[case.folder] += case.expected in texts
    return report


def main(argv: list[str] | None = None) -> int:
    from bench.corpus import CorpusMissing, given_path
    from drivers.qr import make_decoder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path,
                        help="default: $CHECKPOINT_CORPUS/qr, else ../shared/corpus/qr")
    parser.add_argument("--decoders", default="zxing,zbar,auto")
    args = parser.parse_args(argv)
    try:
        corpus = given_path(args.corpus, "qr")
    except CorpusMissing as missing:
        print(f"corpus_read: {missing}", file=sys.stderr)
        return 2
    cases = corpus_cases(corpus)
    if not cases:
        print(f"corpus_read: no images ({', '.join(IMAGE_SUFFIXES)}) under {corpus}",
              file=sys.stderr)
        return 2
    empty_ms = {}
    for name in args.decoders.split(","):
        report = read_corpus(make_decoder(name), cases)
        empty_ms[name] = statistics.median(report.empty_ms)
        show(name, report)
    if "zxing" in empty_ms and len(empty_ms) > 1:
        print("   without a code, median / zxing-cpp alone's in this run: " + ", ".join(
            f"{name} {ms / max(empty_ms['zxing'], 1e-6):.2f}x"
            for name, ms in empty_ms.items() if name != "zxing"))
    return 0


def show(name: str, report: Report) -> None:
    print(f"== {name}: {report.codes_read} / {report.codes_total} codes read, "
          f"median {statistics.median(report.empty_ms):.2f} ms without a code, "
          f"{statistics.median(report.code_ms):.2f} ms with one")
    for folder in sorted(report.total):
        note = " (correctly empty)" if "falsepositives" in folder else ""
        print(f"   {folder:28} {report.read[folder]:3} / {report.total[folder]}{note}")
    for path in report.false_reads:
        print(f"   FALSE READ {path}")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
