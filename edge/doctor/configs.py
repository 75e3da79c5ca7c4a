"""The config line: the file loads, and passes what `checkpoint config check` checks."""

from __future__ import annotations

from pathlib import Path

from edge.config import Config, load_config
from edge.configcheck import check
from edge.doctor.result import Context, Finding, fail, ok, warn
from runtime.configfile import ConfigError

CONFIG_HINT = "fix the file; `checkpoint config check --config {path}` lists every problem"


def load(path: Path) -> tuple[Config | None, Finding | None]:
    """The config, or the failure the config line reports when it cannot be used."""
    try:
        return load_config(path), None
    except ConfigError as exc:
        return None, fail(f"{exc.path}: {'; '.join(exc.errors)}",
                          CONFIG_HINT.format(path=exc.path))


def check_config(context: Context) -> Finding:
    config = context.config
    findings = check(config)
    errors = [f.text for f in findings if f.level == "error"]
    warnings = [f.text for f in findings if f.level != "error"]
    if errors:
        return fail(f"{config.path}: {'; '.join(errors)}", CONFIG_HINT.format(path=config.path))
    if warnings:
        return warn(f"{config.path}: {'; '.join(warnings)}",
                    "a device named in the config is missing: plug it in, or fix the URL")
    return ok(f"{config.path} passes config check")
