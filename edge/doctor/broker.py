"""The broker line: connect with the device's own settings and TLS files, wait for the
broker's answer (CONNACK), disconnect. Each way it can fail gets its own fix."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

from edge.doctor.result import Context, Finding, fail, ok, warn
from runtime.mqtt import make_client, port_of

TLS_HINT = ("[mqtt] ca must be the district's CA, cert and key this device's pair it "
            "signed; the URL must name the broker's TLS port (usually 8883)")


def check_broker(context: Context) -> Finding:
    config = context.config
    url = urlsplit(config.mqtt.url)
    where = f"{url.hostname}:{port_of(url)}"
    tls = {k: config.mqtt.values[k] for k in ("ca", "cert", "key") if config.mqtt.values[k]}
    try:
        client = make_client(url, client_id=f"cp-{config.device.id}-doctor", tls=tls or None)
    except (OSError, ValueError) as exc:    # ssl.SSLError is an OSError
        return fail(f"TLS files cannot be used: {exc}", TLS_HINT)
    budget = max(1.0, context.timeout_s - 1.0)
    client.connect_timeout = budget
    try:
        answer = _connack(client, url, budget)
    except ssl.SSLCertVerificationError as exc:
        return fail(f"{where}: TLS: {exc.verify_message}", TLS_HINT)
    except ssl.SSLError as exc:
        return fail(f"{where}: TLS handshake failed: {exc.reason or exc}", TLS_HINT)
    except ConnectionRefusedError:
        return fail(f"{where}: connection refused",
                    "start the broker, or fix [mqtt] url's host and port")
    except socket.gaierror as exc:
        return fail(f"{url.hostname}: name not found ({exc.strerror})",
                    "fix [mqtt] url's host, or the gate's DNS")
    except TimeoutError:
        return fail(f"{where}: no answer within {budget:g} s",
                    "check the network, the firewall (port open?), and that the URL's "
                    "scheme matches the port (mqtts:// on the TLS port)")
    except OSError as exc:
        return fail(f"{where}: {exc.strerror or exc}", "check the network and [mqtt] url")
    finally:
        client.disconnect()
        client.loop_stop()
    return _judge(answer, where, url, tls)


def _connack(client, url, budget: float):
    """The CONNACK reason code; None when the connection closed before one came."""
    answered, answer = threading.Event(), []

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        answer.append(reason_code)
        answered.set()

    client.on_connect = on_connect
    client.on_disconnect = lambda *_: answered.set()
    deadline = time.monotonic() + budget
    client.connect(url.hostname, port_of(url), keepalive=max(5, int(budget) * 2))
    client.loop_start()
    if not answered.wait(max(0.1, deadline - time.monotonic())):
        raise TimeoutError
    return answer[0] if answer else None


def _judge(answer, where: str, url, tls: dict) -> Finding:
    if answer is None:
        return fail(f"{where}: the broker closed the connection without answering", TLS_HINT)
    if answer.is_failure:
        return fail(f"{where}: refused: {answer}",
                    "the broker does not accept this device: the district adds its "
                    "certificate and ACL entry (district provisioning)")
    how = "with TLS" if url.scheme == "mqtts" else "without TLS"
    detail = f"connected to {where} {how}" + (" and the device's certificate"
                                               if tls.get("cert") else "")
    if url.scheme == "mqtt" and not _loopback(url.hostname):
        return warn(f"{detail}: records travel unencrypted",
                    "use mqtts:// with the district's ca and this device's cert and key")
    return ok(detail)


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False
