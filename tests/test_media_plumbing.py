"""ffmpeg discovery, its errors, GPU encoder choice with fallback, and media bad input."""

from __future__ import annotations

import errno
import os
import stat
import struct
import sys
import tempfile
from pathlib import Path

import av
import pytest
from _media_clips import ffmpeg, make_video

from bytenite_runtime import ConfigError, DataError, SettingsError
from bytenite_runtime.media import FfmpegError, _ffmpeg, find_ffmpeg, gpu, run_ffmpeg
from bytenite_runtime.media import probe as probe_module
from bytenite_runtime.media._ffmpeg import encoders
from bytenite_runtime.media.probe import MediaInfo, probe
from bytenite_runtime.testing import run_partitioner


@pytest.fixture(autouse=True)
def _own_temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The partitioner's scratch folder goes to the system temporary folder: a private one
    # lets the tests see that nothing is left in it.
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", 2.0)


def test_ffmpeg_setting_wins_and_a_bad_one_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """BYTENITE_FFMPEG is used when set; a path that is not an executable is a configuration
    error (exit 2) naming it."""
    fake = tmp_path / "my-ffmpeg"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("BYTENITE_FFMPEG", str(fake))
    assert find_ffmpeg() == str(fake)
    monkeypatch.setenv("BYTENITE_FFMPEG", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match=r"BYTENITE_FFMPEG: .*nope.* is not an executable") as exc:
        find_ffmpeg()
    assert exc.value.exit_code == 2


def test_ffmpeg_falls_back_to_the_bundled_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no setting and nothing on PATH, the imageio-ffmpeg binary is found."""
    monkeypatch.delenv("BYTENITE_FFMPEG", raising=False)
    assert Path(find_ffmpeg()).is_file()


@pytest.mark.parametrize(
    ("version", "too_old"),
    [("4.4.2-0ubuntu0.22.04.1", True), ("n4.2.2", True), ("6.1.1-3ubuntu5", False)],
)
def test_an_ffmpeg_too_old_for_an_option_says_its_version(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, version: str, too_old: bool
) -> None:
    """An ffmpeg older than 5.1 (Ubuntu 22.04's is 4.4) rejecting an option gets its version
    and the way out in the one-line error; a recent one's rejection is shown as it is."""
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = -version ]; then echo "ffmpeg version {version} Copyright"; exit 0; fi\n'
        "echo \"Unrecognized option 'fps_mode'.\" >&2\n"
        "echo 'Error splitting the argument list: Option not found' >&2\n"
        "exit 1\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("BYTENITE_FFMPEG", str(fake))
    with pytest.raises(FfmpegError) as caught:
        run_ffmpeg(["-fps_mode", "passthrough"], what="encoding")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("encoding: ffmpeg exited with 1: Unrecognized option 'fps_mode'.")
    shown = version.lstrip("n")[:3]
    hint = f"this ffmpeg is {shown}, older than the 5.1 these commands need: set BYTENITE_FFMPEG"
    assert (hint in message) is too_old


@pytest.mark.parametrize("static", [True, False])
def test_an_ffmpeg_that_crashes_says_so_and_why_when_it_is_static(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, static: bool
) -> None:
    """An ffmpeg killed by SIGSEGV is reported as such, not as "exited with -11"; when it is
    a static glibc build (which crash reading MPEG-TS), the error names that and the fix."""
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = -version ]; then echo "ffmpeg version 7.0.2-static Copyright"; exit 0; fi\n'
        "kill -SEGV $$\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("BYTENITE_FFMPEG", str(fake))
    monkeypatch.setattr(_ffmpeg, "_statically_linked", lambda path: static)
    with pytest.raises(FfmpegError) as caught:
        run_ffmpeg(["-i", "x.ts"], what="chunk 0: encoding")
    message = str(caught.value)
    assert message.startswith("chunk 0: encoding: ffmpeg was killed by SIGSEGV: no output")
    hint = "this ffmpeg (7.0.2-static) is linked statically"
    assert (hint in message) is static
    assert ("set BYTENITE_FFMPEG to a dynamically linked one" in message) is static


def _elf(tmp_path: Path, name: str, kinds: list[int]) -> Path:
    """A 64-bit little-endian ELF header with program headers of the given types."""
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 32, 64)  # program headers right after this header
    struct.pack_into("<HH", header, 54, 56, len(kinds))
    table = b"".join(struct.pack("<I", kind) + bytes(52) for kind in kinds)
    path = tmp_path / name
    path.write_bytes(bytes(header) + table)
    return path


def test_static_builds_are_told_from_dynamic_ones_by_their_elf_headers(tmp_path: Path) -> None:
    """An ELF executable without a program interpreter (PT_INTERP) is static; one with it,
    a script and a missing file are not."""
    assert _ffmpeg._statically_linked(str(_elf(tmp_path, "static", [6, 1, 1, 4])))
    assert not _ffmpeg._statically_linked(str(_elf(tmp_path, "dynamic", [6, 3, 1, 1, 2])))
    assert not _ffmpeg._statically_linked(sys.executable)
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    assert not _ffmpeg._statically_linked(str(script))
    assert not _ffmpeg._statically_linked(str(tmp_path / "missing"))
    truncated = _elf(tmp_path, "cut", [1, 1])
    truncated.write_bytes(truncated.read_bytes()[:80])
    assert not _ffmpeg._statically_linked(str(truncated))


def test_tags_that_are_not_utf8_are_read_without_the_bad_bytes(tmp_path: Path) -> None:
    """A tag holding bytes that are not UTF-8 is read with those bytes left out, whichever
    PyAV reads it (before 19 told to ignore them, from 19 on given them as surrogates)."""
    clip = make_video(tmp_path / "clip.mp4", seconds=1.0)
    tagged = tmp_path / "tagged.mp4"
    # A surrogate-escaped argument reaches ffmpeg as the raw byte 0xE9 (Latin-1 "é").
    ffmpeg("-i", str(clip), "-c", "copy", "-metadata", "comment=caf\udce9 ok", str(tagged))
    assert probe(tagged).tags["comment"] == "caf ok"


def test_ffmpeg_error_carries_the_command_and_the_end_of_stderr() -> None:
    """A failed run is one line naming what failed, the exit code, stderr's tail and the command."""
    with pytest.raises(FfmpegError) as caught:
        run_ffmpeg(["-i", "/definitely/missing.mp4", "-f", "null", "-"], what="probing")
    error = caught.value
    assert "\n" not in str(error)
    assert str(error).startswith("probing: ffmpeg exited with")
    assert "missing.mp4" in " ".join(error.stderr_tail)
    assert error.command[-1] == "-"
    assert error.exit_code == 3


def test_gpu_detection_falls_back_to_libx264_without_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GPU visible: exact mode encodes with libx264, no hardware decoding."""
    monkeypatch.setattr(gpu, "gpu_visible", lambda: False)
    choice = gpu.pick_encoder("h264", crf=20)
    assert choice.name == "libx264" and not choice.is_gpu and choice.input_args == ()


def test_gpu_detection_needs_a_working_test_encode(monkeypatch: pytest.MonkeyPatch) -> None:
    """A GPU and a listed encoder are not enough: a failing test encode falls back to the CPU,
    a succeeding one picks NVENC with NVDEC decoding."""
    monkeypatch.setattr(gpu, "gpu_visible", lambda: True)
    monkeypatch.setattr(gpu, "encoders", lambda: frozenset({"h264_nvenc", "hevc_nvenc"}))

    def broken(args: list[str], **_: object) -> None:
        raise FfmpegError("testing", ["ffmpeg", *args], 1, "No NVENC capable devices found")

    gpu.nvenc_works.cache_clear()
    monkeypatch.setattr(gpu, "run_ffmpeg", broken)
    assert gpu.pick_encoder("h264", crf=20).name == "libx264"
    gpu.nvenc_works.cache_clear()
    monkeypatch.setattr(gpu, "run_ffmpeg", lambda args, **_: None)
    monkeypatch.setattr(gpu, "pixel_formats", lambda name: _NVENC)
    choice = gpu.pick_encoder("hevc", crf=20, source_format="yuv420p10le")
    assert choice.name == "hevc_nvenc" and choice.input_args == ("-hwaccel", "cuda")
    assert choice.output_args[-2:] == ("-pix_fmt", "p010le")
    assert gpu.pick_encoder("h264", crf=20, gpu="off").name == "libx264"
    gpu.nvenc_works.cache_clear()


# What ffmpeg 9's `-h encoder=...` lists for libx264 and h264_nvenc.
_X264 = (
    "yuv420p yuvj420p yuv422p yuvj422p yuv444p yuvj444p nv12 nv16 nv21 yuv420p10le "
    "yuv422p10le yuv444p10le nv20le gray gray10le"
).split()
_NVENC = (
    "yuv420p nv12 p010le yuv444p p012le p016le nv16 p210le p212le p216le yuv444p10msble "
    "yuv444p12msble yuv444p16le bgr0 bgra rgb0 rgba x2rgb10le x2bgr10le gbrp gbrp10msble "
    "gbrp16le cuda"
).split()


@pytest.mark.parametrize(
    ("source", "supported", "chosen", "narrowed"),
    [
        ("yuv420p", _X264, "yuv420p", ""),
        ("yuv420p10le", _X264, "yuv420p10le", ""),
        ("yuv420p10le", _NVENC, "p010le", ""),
        ("yuv422p12le", _X264, "yuv422p10le", "12 bits down to 10"),
        ("yuva420p", _X264, "yuv420p", "no alpha"),
        ("rgb24", _X264, "yuv444p", ""),
        ("yuv444p10le", ["yuv420p", "nv12"], "yuv420p", "10 bits down to 8, coarser chroma"),
        ("", _X264, "yuv420p", ""),
        ("yuv420p10le", [], "yuv420p", ""),
    ],
)
def test_exact_encodes_keep_the_source_pixel_format_where_the_encoder_can(
    source: str, supported: list[str], chosen: str, narrowed: str
) -> None:
    """The encoder gets the source's pixel format when it lists it, else its nearest format
    with the same chroma and enough bits, with a note of what is lost; an unknown source or
    encoder list gives yuv420p."""
    got, note = gpu.pixel_format(source, supported)
    assert got == chosen
    assert (narrowed in note) if narrowed else note == ""


@pytest.mark.parametrize(
    ("source", "size", "chosen"),
    [
        ("yuv420p", (321, 241), "yuv444p"),
        ("yuv420p10le", (320, 241), "yuv444p10le"),
        ("yuv422p", (321, 240), "yuv444p"),
        ("yuv422p", (320, 241), "yuv422p"),
        ("yuva420p", (321, 241), "yuv444p"),
        ("yuv420p", (320, 240), "yuv420p"),
    ],
)
def test_an_odd_size_gets_chroma_it_can_hold(
    source: str, size: tuple[int, int], chosen: str
) -> None:
    """x264 refuses subsampled chroma at a size it does not divide (321x241 in 4:2:0): such
    a size is encoded in 4:4:4 at the same bits, with a note that says why."""
    got, note = gpu.pixel_format(source, _X264, *size)
    assert got == chosen
    if chosen != source:
        assert f"{size[0]}x{size[1]}" in note and "4:4:4" in note
    assert ("no alpha" in note) == (source == "yuva420p")


def test_pixel_formats_are_read_from_ffmpeg() -> None:
    """`ffmpeg -h encoder=libx264` lists yuv420p and a 10-bit format (x264 builds both);
    an encoder ffmpeg does not have lists nothing."""
    formats = _ffmpeg.pixel_formats("libx264")
    assert "yuv420p" in formats and "yuv420p10le" in formats
    assert _ffmpeg.pixel_formats("no_such_encoder") == ()


def test_real_encoder_list_is_read() -> None:
    """The encoder list parsed from `ffmpeg -encoders` holds libx264 (the CPU fallback)."""
    assert "libx264" in encoders()


def _fails_leaving_nothing(tmp_path: Path, files: dict[str, bytes], params: dict[str, object],
                           error: type[Exception], match: str) -> None:  # fmt: skip
    with pytest.raises(error, match=match) as caught:
        run_partitioner("time-chunk", files, params, tmp_path=tmp_path)
    assert "\n" not in str(caught.value)
    leftovers = [*tmp_path.glob("*/chunks/*"), *tmp_path.glob("*/chunks/.*")]
    assert leftovers == []
    assert not [*tmp_path.glob("tmp/bytenite-time-chunk-*")]


def test_truncated_file_is_a_one_line_error(clip: Path, tmp_path: Path) -> None:
    """An MP4 cut short (its index lost) fails naming the file, and leaves no chunk behind."""
    data = clip.read_bytes()
    _fails_leaving_nothing(tmp_path, {"clip.mp4": data[: len(data) // 2]}, {},
                           DataError, r"^clip.mp4: not a readable media file \(")  # fmt: skip


def test_truncated_matroska_is_caught_by_its_header(clip: Path, tmp_path: Path) -> None:
    """A Matroska file cut short still demuxes; its header's duration gives it away."""
    whole = tmp_path / "whole.mkv"
    ffmpeg("-i", str(clip), "-c", "copy", str(whole))
    data = whole.read_bytes()
    _fails_leaving_nothing(tmp_path, {"clip.mkv": data[: len(data) // 2]}, {"segment_seconds": 0.5},
                           DataError, r"^clip.mkv: truncated: streams stop at")  # fmt: skip


@pytest.mark.parametrize("extra", ["audio", "subtitle"])
def test_a_track_outlasting_the_video_is_not_taken_for_truncation(
    clip: Path, tmp_path: Path, extra: str
) -> None:
    """A Matroska whose second audio track or subtitle runs 1 s past the video is cut, not
    called truncated: its header's duration covers every track."""
    source = tmp_path / "long.mkv"
    if extra == "audio":
        more = ["-f", "lavfi", "-i", "sine=frequency=880:sample_rate=48000:duration=3"]
    else:
        (tmp_path / "s.srt").write_text("1\n00:00:01,000 --> 00:00:03,000\nthe end\n")
        more = ["-i", str(tmp_path / "s.srt")]
    ffmpeg("-i", str(clip), *more, "-map", "0", "-map", "1", "-c:v", "copy", "-c:a", "aac",
           str(source))  # fmt: skip
    chunks = run_partitioner("time-chunk", {"long.mkv": source.read_bytes()}, {"num_chunks": 2})
    assert sum(c.meta.fields["frames"] for c in chunks if c.meta) == 60


def test_not_media_at_all(tmp_path: Path) -> None:
    """A text file named .mp4 is not a readable media file."""
    _fails_leaving_nothing(tmp_path, {"clip.mp4": b"hello\n"}, {}, DataError,
                           "clip.mp4: not a readable media file")  # fmt: skip


def test_no_video_or_audio_stream(tmp_path: Path) -> None:
    """A file holding only subtitles has nothing to cut."""
    srt = tmp_path / "s.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n")
    subs = tmp_path / "subs.mkv"
    ffmpeg("-i", str(srt), str(subs))
    _fails_leaving_nothing(tmp_path, {"subs.mkv": subs.read_bytes()}, {}, DataError,
                           "^subs.mkv: no video or audio stream$")  # fmt: skip


def test_unknown_codec(clip: Path, tmp_path: Path) -> None:
    """A stream whose codec ffmpeg does not know is named by index and kind."""
    mkv = tmp_path / "src.mkv"
    ffmpeg("-i", str(clip), "-c", "copy", str(mkv))
    data = mkv.read_bytes().replace(b"V_MPEG4/ISO/AVC", b"V_MPEG4/ISO/XYZ")
    _fails_leaving_nothing(tmp_path, {"clip.mkv": data}, {}, DataError,
                           r"^clip.mkv: stream 0 \(video\): unknown codec$")  # fmt: skip


@pytest.mark.parametrize("value", [0, -2])
def test_zero_or_negative_segment(clip: Path, tmp_path: Path, value: float) -> None:
    """segment_seconds <= 0 is a settings error naming the field."""
    _fails_leaving_nothing(
        tmp_path,
        {"clip.mp4": clip.read_bytes()},
        {"segment_seconds": value},
        SettingsError,
        r"PARTITIONER_PARAMS.segment_seconds: Input should be greater than 0",
    )


def test_failure_midway_removes_written_chunks(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An encoder failure on chunk 1 leaves neither chunk 0 nor the scratch folder behind."""
    from bytenite_runtime.media import _cut_exact

    real = _cut_exact.run_ffmpeg
    calls = []

    def fail_second(args: list[str], **kw: object) -> object:
        calls.append(args)
        if len(calls) == 2:
            raise FfmpegError("chunk 1: encoding", ["ffmpeg", *args], 1, "Conversion failed!")
        return real(args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(_cut_exact, "run_ffmpeg", fail_second)
    _fails_leaving_nothing(
        tmp_path, {"clip.mp4": clip.read_bytes()},
        {"segment_seconds": 0.7, "mode": "exact", "gpu": "off"}, FfmpegError,
        r"^chunk 1: encoding: ffmpeg exited with 1: Conversion failed!",
    )  # fmt: skip


def test_a_segment_too_small_for_the_file_fails_before_planning(clip: Path, tmp_path: Path) -> None:
    """segment_seconds=1e-9 on a 2 s clip is a one-line error naming the file and the field,
    not billions of requested cuts that get the process killed for memory."""
    _fails_leaving_nothing(
        tmp_path,
        {"clip.mp4": clip.read_bytes()},
        {"segment_seconds": 1e-9},
        DataError,
        r"^clip.mp4: segment_seconds=1e-09 would cut its 2.000 s into more than 100000 chunks$",
    )


def test_an_empty_audio_track_beside_a_video_is_no_audio(clip: Path, tmp_path: Path) -> None:
    """A Matroska whose audio track holds no packet (as a chunk cut after the audio ended
    kept it) probes as video alone."""
    silent = tmp_path / "silent.mkv"
    # Written with PyAV as the chunk writer did: ffmpeg's own -frames:a 0 output differs
    # between versions (9.x writes a file libavformat then cannot read).
    with av.open(str(clip)) as source, av.open(str(silent), "w") as out:
        video, audio = source.streams.video[0], source.streams.audio[0]
        target = out.add_stream_from_template(video, opaque=True)
        out.add_stream_from_template(audio, opaque=True)
        for packet in source.demux(video):
            if packet.size:
                packet.stream = target
                out.mux(packet)
    info = probe(silent)
    assert info.video is not None and info.video.frames == 60
    assert info.audio is None


def test_ci_runs_every_test_that_runs_ffmpeg_again_with_the_bundled_binary() -> None:
    """``.ci/run`` re-runs, with imageio-ffmpeg's 9.x, every test module that makes clips or
    joins through ffmpeg, as the README's Development section says."""
    root = Path(__file__).resolve().parents[1]
    script = (root / ".ci" / "run").read_text()
    rerun = script[script.index("BYTENITE_FFMPEG=") :]
    rerun = rerun[: rerun.index("\n\n")]
    uses_ffmpeg = sorted(
        path.name
        for path in (root / "tests").glob("test_*.py")
        if "_media_clips" in path.read_text() or "run_ffmpeg" in path.read_text()
    )
    assert uses_ffmpeg
    assert [name for name in uses_ffmpeg if f"tests/{name}" not in rerun] == []


@pytest.mark.parametrize("code", [1, 0])
def test_ffmpeg_refused_by_a_full_disk_raises_the_os_error_not_a_data_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, code: int
) -> None:
    """ffmpeg saying 'No space left on device' raises that OSError naming the file it wrote
    (a ResourceError to the runtime), not an FfmpegError blaming the input, even when it
    exits 0 as 5.1 does when only its trailer failed."""
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        "#!/bin/sh\n"
        "echo 'Error writing trailer of /scratch/video-000000.nut: No space left on device' >&2\n"
        f"exit {code}\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("BYTENITE_FFMPEG", str(fake))
    with pytest.raises(OSError) as caught:
        run_ffmpeg(["-i", "x.mp4"], what="chunk 0: encoding")
    assert not isinstance(caught.value, FfmpegError)
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == "/scratch/video-000000.nut"


def test_a_source_changed_while_being_cut_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source truncated after it was probed fails naming the file and that it changed,
    not only the chunk the shorter file could not fill, and leaves no chunk behind."""
    real = probe_module.probe

    def probe_then_truncate(path: Path) -> MediaInfo:
        info = real(path)
        os.truncate(path, path.stat().st_size // 2)
        return info

    monkeypatch.setattr(probe_module, "probe", probe_then_truncate)
    data = make_video(tmp_path / "clip.webm", 4.0).read_bytes()
    match = r"^clip.webm: changed while being cut \(its size went from \d+ to \d+ bytes\): "
    _fails_leaving_nothing(tmp_path, {"clip.webm": data}, {"segment_seconds": 1},
                           DataError, match)  # fmt: skip
