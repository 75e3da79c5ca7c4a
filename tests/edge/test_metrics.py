"""The Prometheus endpoint (edge/metrics.py): a real agent on simulated drivers, scraped
over HTTP and read by prometheus_client's own text parser, held against the store."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge.agent import Agent, AgentError
from edge.config import Section, load_config, parse_config
from edge.configcheck import check
from runtime.configfile import ConfigError
from tests.support.broker import free_port
from tests.support.waiting import wait_for


def metrics_config(demo_dir, tmp_path):
    own = tmp_path / "device"
    shutil.copytree(demo_dir, own)
    config = load_config(own / "checkpoint.toml").simulated().with_db(tmp_path / "cp.db")
    # no broker on this port: every record stays in the backlog, whatever else runs here
    return replace(config, metrics=Section({"listen": f"127.0.0.1:{free_port()}"}),
                   mqtt=Section({**config.mqtt.values,
                                 "url": f"mqtt://127.0.0.1:{free_port()}"}))


def scrape(config) -> dict:
    """{sample name: {labels as a sorted tuple: value}} of one scrape."""
    url = f"http://{config.metrics.listen}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples: dict = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = \
                sample.value
    return samples


def stored(db) -> tuple[Counter, Counter, int]:
    """Decisions, (decision, reason) pairs and unsynced records, as the store has them."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT decision, reasons, synced FROM records").fetchall()
    decisions = Counter(decision for decision, _, _ in rows)
    reasons = Counter((decision, reason) for decision, text, _ in rows
                      for reason in json.loads(text))
    return decisions, reasons, sum(1 for *_, synced in rows if not synced)


def scraped(samples) -> tuple[Counter, Counter, int]:
    decisions = Counter({dict(labels)["decision"]: int(value) for labels, value in
                         samples["checkpoint_decisions_total"].items() if value})
    reasons = Counter({(dict(labels)["decision"], dict(labels)["reason"]): int(value)
                       for labels, value in
                       samples.get("checkpoint_decision_reasons_total", {}).items()})
    return decisions, reasons, int(samples["checkpoint_backlog_records"][()])


def test_a_scrape_counts_what_the_store_holds(demo_dir, tmp_path):
    config = metrics_config(demo_dir, tmp_path)
    db = config.store.path
    with Agent(config):
        wait_for(lambda: sum(stored(db)[0].values()) >= 3, "three decisions", timeout=90)
        # a decision is committed before it is counted: the two agree once it is counted
        wait_for(lambda: scraped(scrape(config)) == stored(db), "the scrape to match the store")
        samples = scrape(config)
    decisions, reasons, backlog = stored(db)
    assert scraped(samples) == (decisions, reasons, backlog) and backlog >= 3
    assert set(decisions) >= {"pass"} and any(reasons.values())
    buckets = samples["checkpoint_decode_seconds_bucket"]
    assert len(buckets) >= 5 and buckets[(("le", "+Inf"),)] == \
        samples["checkpoint_decode_seconds_count"][()] > 0
    assert samples["checkpoint_oldest_unsynced_age_seconds"][()] >= 0
    assert samples["checkpoint_worker_errors_total"][()] == 0
    workers = {dict(labels)["worker"]: value for labels, value in
               samples["checkpoint_worker_up"].items()}
    assert workers["controller"] == workers["scanner"] == workers["metrics"] == 1
    assert samples["checkpoint_part_ok"][(("part", "thermal"),)] == 1
    assert samples["checkpoint_part_state"][(("part", "thermal"), ("state", "ok"))] == 1
    for name in ("checkpoint_frames_dropped_total", "checkpoint_sensor_frames_rejected_total",
                 "checkpoint_mqtt_connected", "process_start_time_seconds"):
        assert name in samples, name
    assert samples["checkpoint_mqtt_connected"][()] == 0


def test_the_status_counters_carry_the_decisions(demo_dir, tmp_path):
    config = metrics_config(demo_dir, tmp_path)
    with Agent(config) as agent:
        wait_for(lambda: agent.decisions.counters()["decisions_pass"] >= 1, "a pass", 90)
        counters = agent.health()["counters"]
    assert set(counters) >= {"decisions_pass", "decisions_deny", "decisions_check"}
    assert counters["decisions_pass"] >= 1


def raw(config, request: bytes) -> bytes:
    host, port = config.metrics.listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def test_only_get_metrics_is_answered_and_a_bad_request_harms_nothing(demo_dir, tmp_path):
    config = metrics_config(demo_dir, tmp_path)
    with Agent(config) as agent:
        for request in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                        b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                        b"GET /metrics/../etc/passwd HTTP/1.1\r\n\r\n",
                        b"\x00\xff garbage\r\n\r\n"):
            assert raw(config, request).startswith(b"HTTP/1.1 404 "), request
        huge = b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"a" * 100_000 + b"\r\n\r\n"
        assert raw(config, huge).startswith(b"HTTP/1.1 431 ")
        with socket.create_connection(config.metrics.listen.rsplit(":", 1)):
            pass                                        # connects, says nothing, leaves
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://{config.metrics.listen}/other", timeout=10)
        assert refused.value.code == 404
        samples = scrape(config)                        # still serving
        assert agent.supervisor.dead() == [] and agent.metrics is not None
    workers = {dict(labels)["worker"]: v for labels, v in samples["checkpoint_worker_up"].items()}
    assert workers["metrics"] == 1


def test_a_port_in_use_is_a_clear_start_error(demo_dir, tmp_path):
    config = metrics_config(demo_dir, tmp_path)
    host, port = config.metrics.listen.rsplit(":", 1)
    with socket.socket() as taken:
        taken.bind((host, int(port)))
        taken.listen()
        with pytest.raises(AgentError, match=r"\[metrics\] listen = '127.0.0.1:\d+'"), \
                Agent(config):
            pass


def test_the_metrics_table_is_validated(demo_dir, tmp_path):
    path = tmp_path / "checkpoint.toml"
    base = (demo_dir / "checkpoint.toml").read_text()
    commented = '# listen = "127.0.0.1:9464"'      # the shipped file documents, sets nothing
    assert commented in base

    def metrics(line: str) -> str:
        return base.replace(commented, line)

    with pytest.raises(ConfigError, match=r"\[metrics\] listen = 'nowhere': allowed: HOST:PORT"):
        parse_config(metrics('listen = "nowhere"'), path)
    with pytest.raises(ConfigError, match=r"\[metrics\] port: unknown key"):
        parse_config(metrics("port = 9464"), path)
    assert parse_config(base, path).metrics.listen is None      # off unless set
    assert parse_config(metrics(commented[2:]), path).metrics.listen == "127.0.0.1:9464"
    console = parse_config(base, path).console.listen
    clash = parse_config(metrics(f'listen = "{console}"'), demo_dir / "x.toml")
    errors = [f.text for f in check(clash) if f.level == "error"]
    assert any(text.startswith("[metrics] listen") and "console" in text for text in errors)
