"""The progress helper: items pass through unchanged; silent unless stderr is a terminal (or forced)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from irrecist.progress import ENV, bar_enabled, progress


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)


def test_silent_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(progress(range(50), desc="reading DICOM")) == list(range(50))
    assert list(progress(iter("abc"), total=3, desc="scoring")) == ["a", "b", "c"]
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_renders_on_a_terminal() -> None:
    tty = Terminal()
    assert list(progress(range(7), desc="reading DICOM", unit="file", file=tty)) == list(range(7))
    text = tty.getvalue()
    assert "reading DICOM" in text and "/7" in text and "file" in text


def test_forced_renders_into_any_stream_with_given_total() -> None:
    buf = io.StringIO()
    assert list(progress((i for i in range(4)), total=4, desc="subjects", enabled=True, file=buf)) == [0, 1, 2, 3]
    assert "subjects" in buf.getvalue() and "/4" in buf.getvalue()


def test_disabled_is_silent_even_on_a_terminal() -> None:
    tty = Terminal()
    assert list(progress(range(3), desc="x", enabled=False, file=tty)) == [0, 1, 2]
    assert tty.getvalue() == ""


@pytest.mark.parametrize(("env", "tty", "expected"), [("0", True, False), ("1", False, True), ("", True, True)])
def test_environment_override(monkeypatch: pytest.MonkeyPatch, env: str, tty: bool, expected: bool) -> None:
    monkeypatch.setenv(ENV, env)
    stream = Terminal() if tty else io.StringIO()
    assert bar_enabled(stream) is expected
    list(progress(range(3), desc="files", file=stream))
    assert ("files" in stream.getvalue()) is expected


def test_closed_stream_counts_as_no_terminal() -> None:
    stream = io.StringIO()
    stream.close()
    assert bar_enabled(stream) is False


@pytest.mark.parametrize("forced", ["1", "0"])
def test_extract_and_score_draw_their_bars_only_when_enabled(
    forced: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The readers' loop (``extract``) and the scoring loop show a bar when enabled and nothing otherwise."""
    from irrecist_cli.main import main

    demo = Path(__file__).resolve().parent.parent / "test_images" / "DEMO-001"
    monkeypatch.setenv(ENV, forced)
    assert main(["score", str(demo), "--out", str(tmp_path / "out"), "--no-report"]) == 0
    err = capsys.readouterr().err
    assert ("reading" in err and "scoring (irrecist)" in err) is (forced == "1")
    assert ("reading" in err or "scoring" in err) is (forced == "1")
