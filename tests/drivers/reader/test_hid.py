"""The keyboard-wedge reader: recorded input-event streams decoded for each number format,
and the real driver reading a FIFO fed by the simulated input-event source (unplug and
replug included)."""

from __future__ import annotations

import struct

import pytest

from drivers.base import DriverError
from drivers.clock import SystemClock
from drivers.reader import evdev
from drivers.reader.hid import MAX_LINE, HidReader, LineDecoder, number_of
from drivers.sim.input_events import InputEventSource
from tests.support.waiting import wait_for

# struct input_event as the kernel writes it on 64-bit Linux, spelled out independently of
# drivers/reader/evdev.py: tv_sec, tv_usec, type, code, value
RAW = struct.Struct("llHHi")
EV_SYN, EV_KEY, EV_MSC = 0, 1, 4
SHIFT, ENTER, KPENTER = 42, 28, 96
CODES = {"1": 2, "2": 3, "3": 4, "4": 5, "5": 6, "6": 7, "7": 8, "8": 9, "9": 10, "0": 11,
         "A": 30, "B": 48, "C": 46, "D": 32, "E": 18, "F": 33}
SCAN = 0x70027   # the HID usage a keyboard reports in EV_MSC before each key


class Recording:
    """A byte stream as a reader sends it: scan code, key, SYN, for each press and release."""

    def __init__(self, t: float = 1_790_000_000.0) -> None:
        self.t, self.data = t, b""

    def event(self, kind: int, code: int, value: int) -> None:
        self.data += RAW.pack(int(self.t), int((self.t % 1) * 1e6), kind, code, value)

    def key(self, code: int, value: int, dt: float = 0.003) -> None:
        self.event(EV_MSC, 4, SCAN)
        self.event(EV_KEY, code, value)
        self.event(EV_SYN, 0, 0)
        self.t += dt

    def type(self, text: str, *, shift: bool = True, enter: int = ENTER) -> Recording:
        for char in text:
            if shift and char.isalpha():
                self.key(SHIFT, 1)
            self.key(CODES[char.upper()], 1)
            self.key(CODES[char.upper()], 0)
            if shift and char.isalpha():
                self.key(SHIFT, 0)
        if enter:
            self.key(enter, 1)
            self.key(enter, 0)
        return self


def decode(data: bytes, form: str, decoder: LineDecoder | None = None):
    decoder = decoder or LineDecoder()
    events, rest = evdev.unpack(data)
    assert rest == b""
    return [number_of(line, form) for line in decoder.feed(events)], decoder


def test_the_event_layout_and_the_grab_request_are_the_kernels():
    assert evdev.EVENT_SIZE == RAW.size == 24
    assert evdev.EVIOCGRAB == 0x40044590      # _IOW('E', 0x90, int) from linux/input.h


@pytest.mark.parametrize("form, typed, shift, number", [
    ("dec10", "0012345678", True, b"0012345678"),
    ("dec10", "4294967295", False, b"4294967295"),
    ("hex", "04A1B2C3", True, b"04A1B2C3"),
    ("hex", "04a1b2c3d4e5f6", False, b"04A1B2C3D4E5F6"),   # unshifted letters: the same card
    ("hex_reversed", "C3B2A104", True, b"04A1B2C3"),       # back in the card's byte order
    ("hex_reversed", "F6E5D4C3B2A104", False, b"04A1B2C3D4E5F6"),
])
def test_each_format_gives_the_number_the_token_is_made_of(form, typed, shift, number):
    numbers, decoder = decode(Recording().type(typed, shift=shift).data, form)
    assert numbers == [number] and decoder.lines == 1


def test_a_hex_and_a_hex_reversed_reader_give_one_card_one_number():
    plain, _ = decode(Recording().type("04A1B2C3D4E5F6").data, "hex")
    reversed_, _ = decode(Recording().type("F6E5D4C3B2A104").data, "hex_reversed")
    assert plain == reversed_


def test_the_keypad_enter_ends_a_number_too():
    numbers, _ = decode(Recording().type("0012345678", enter=KPENTER).data, "dec10")
    assert numbers == [b"0012345678"]


@pytest.mark.parametrize("form, typed", [
    ("dec10", "001234567"), ("dec10", "00123456789"), ("dec10", "00123456AB"),
    ("hex", "04A1B2"), ("hex", "04A1B2C3D"), ("hex_reversed", "04A1B2C3D4E5F60708091011"),
])
def test_a_line_that_fits_no_format_gives_no_number(form, typed):
    numbers, _ = decode(Recording().type(typed).data, form)
    assert numbers == [None]


def test_a_held_key_spoils_its_line_and_the_next_line_reads():
    rec = Recording()
    rec.key(CODES["0"], 1)
    rec.key(CODES["0"], 2)          # autorepeat: a key held down
    rec.key(CODES["0"], 0)
    rec.type("012345678")
    rec.type("0012345678")
    numbers, decoder = decode(rec.data, "dec10")
    assert numbers == [b"0012345678"] and decoder.dropped["repeat"] == 1


def test_a_line_of_64_characters_is_dropped_and_counted():
    numbers, decoder = decode(Recording().type("1" * (MAX_LINE + 1)).type("0012345678").data,
                              "dec10")
    assert numbers == [b"0012345678"] and decoder.dropped["too_long"] == 1


def test_another_key_in_a_line_spoils_it():
    rec = Recording()
    rec.type("00123", enter=0)
    rec.key(57, 1)                   # KEY_SPACE
    rec.key(57, 0)
    rec.type("45678")
    numbers, decoder = decode(rec.data, "dec10")
    assert numbers == [] and decoder.dropped["other_key"] == 1


def test_a_number_left_without_enter_is_dropped_when_typing_resumes_later():
    rec = Recording()
    rec.type("00123", enter=0)
    rec.t += 2.0                     # the reader stopped mid-number
    rec.type("0012345678")
    numbers, decoder = decode(rec.data, "dec10")
    assert numbers == [b"0012345678"] and decoder.dropped["partial"] == 1


def test_events_split_anywhere_across_reads_decode_the_same():
    data = Recording().type("04A1B2C3").data
    decoder, numbers, rest = LineDecoder(), [], b""
    for start in range(0, len(data), 7):         # 7-byte reads: never on an event boundary
        events, rest = evdev.unpack(rest + data[start:start + 7])
        numbers += [number_of(line, "hex") for line in decoder.feed(events)]
    assert numbers == [b"04A1B2C3"] and rest == b""


# -- the driver on the simulated input-event source ---------------------------------------

@pytest.fixture
def source(tmp_path):
    with InputEventSource(tmp_path) as events:
        yield events


def test_the_driver_reads_taps_from_the_simulated_source(source):
    with HidReader(str(source.path), form="hex_reversed", clock=SystemClock()) as reader:
        source.type_number("C3B2A104")
        tap = reader.read(timeout=10)
        assert tap is not None and (tap.kind, tap.number) == ("hid", b"04A1B2C3")
        assert "04A1B2C3" not in repr(tap)
        assert reader.health == "ok" and reader.counters()["reader_taps"] == 1


def test_a_partial_number_is_dropped_after_a_silence(source):
    with HidReader(str(source.path), form="dec10", clock=SystemClock()) as reader:
        source.type_number("00123", enter=False)
        wait_for(lambda: reader.stats()["partial"] == 1, "the partial line dropped")
        source.type_number("0012345678")
        tap = reader.read(timeout=10)
        assert tap is not None and tap.number == b"0012345678"


def test_unplugged_is_a_fault_and_replugged_reads_again(source):
    with HidReader(str(source.path), form="dec10", clock=SystemClock()) as reader:
        source.unplug()
        wait_for(lambda: reader.health.startswith("fault:"), "the reader's fault")
        assert "device gone" in reader.health
        source.replug()
        wait_for(lambda: reader.health == "ok", "the reader reopened")
        source.type_number("0012345678")
        tap = reader.read(timeout=10)
        assert tap is not None and tap.number == b"0012345678"
        assert reader.counters()["reader_reopens"] == 1


def test_a_missing_node_or_a_device_that_cannot_be_grabbed_is_named(tmp_path):
    with pytest.raises(DriverError, match=f"cannot open {tmp_path}/absent"):
        HidReader(str(tmp_path / "absent"), clock=SystemClock())
    # /dev/null is a character device but no input device: the grab is refused
    with pytest.raises(DriverError, match="cannot grab /dev/null exclusively"):
        HidReader("/dev/null", clock=SystemClock())
