"""`checkpoint district devices`: the registry as an operator reads it, with the flag of a
device id seen sending from two stores at once, and the flag cleared once sorted out."""

from __future__ import annotations

import json
import subprocess
import uuid

from district.stores.sqlite import DistrictStore
from tests.support.paths import CHECKPOINT, REPO
from tests.support.wire import record_id, wire_batch, wire_record


def devices(config, *extra) -> tuple[int, list[dict], str]:
    done = subprocess.run(CHECKPOINT + ["district", "devices", "--config", str(config), *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def test_a_cloned_device_is_listed_with_its_flag_until_cleared(tmp_path):
    config = tmp_path / "district.toml"
    config.write_text('[store]\nurl = "sqlite:///district.db"\n')
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    with DistrictStore(tmp_path / "district.db") as store:
        for seq, which in enumerate((first, second, first), start=1):   # interleaved
            store.commit_batch("dev-1", wire_batch(wire_record(seq), store=which))
        store.commit_batch("dev-2", wire_batch(wire_record(1, id=record_id(99)), device="dev-2"))
        assert store.count() == 4
        store.record_status("dev-2", {"schema": "checkpoint.status/1", "device": "dev-2",
                                      "online": True})
    code, rows, _ = devices(config)
    assert code == 0
    flagged = {row["device"]: (row["flag"], sorted(row["flag_stores"])) for row in rows}
    assert flagged == {"dev-1": ("two_stores", sorted([first, second])), "dev-2": (None, [])}
    # by first batch; two batches in the same millisecond tie, and then order by store id
    assert sorted(s["store"] for s in rows[0]["stores"]) == sorted([first, second])
    code, rows, _ = devices(config, "--clear-flag", "dev-1")
    assert code == 0 and rows[0]["flag"] is None
    code, _, err = devices(config, "--clear-flag", "dev-9")
    assert code == 2 and err == "checkpoint: district devices: no device 'dev-9'\n"
