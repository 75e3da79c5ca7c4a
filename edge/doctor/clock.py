"""The clock line: is the wall clock NTP-synchronised, and is there an RTC to keep it
across a power cut? Records carry `clock_synced`, and a policy requiring a synced clock
sends everyone to the guard while it is not."""

from __future__ import annotations

from drivers.clock import RTC_PATHS, ntp_service, rtc_device
from edge.doctor.result import Context, Finding, ok, warn

SYNC_HINT = "enable time sync (sudo timedatectl set-ntp true) and let the gate reach an NTP server"


def check_clock(context: Context) -> Finding:
    rtc = rtc_device(context.rtc_paths or RTC_PATHS)
    kept = f"RTC {rtc}" if rtc else "no RTC"
    if context.clock.synced():
        return ok(f"NTP-synchronised; {kept}")
    service = {True: "time sync is on but not synchronised yet",
               False: "time sync is off", None: "time sync state unknown"}[ntp_service()]
    if rtc:
        return warn(f"not NTP-synchronised ({service}); {kept} keeps the time", SYNC_HINT)
    return warn(f"not NTP-synchronised ({service}) and no RTC: after a power cut the clock "
                "starts wrong", SYNC_HINT + "; or fit an RTC module")
