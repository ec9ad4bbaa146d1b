"""Which input ffmpeg's stderr blames for a failed render: the stderr of real ffmpeg
versions (5.1's names by URL, 4-6's stream index, 6.1+'s tagged decoder and demuxer lines)."""

from __future__ import annotations

import pytest

from storyreel.render.culprit import failing_input, input_urls

INPUTS = ["file:/w/T-a1/video_0001.mp4", "file:/w/T-a1/video_0002.mp4", "file:/w/T-a1/music.mp3",
          "file:/w/T-a1/voice.mp3"]

# ffmpeg 5.1 with -xerror and a clip garbled in the middle (input 1), as it prints it.
FFMPEG_51 = """\
Output #0, mp4, to 'file:/w/T-a1/.final.mp4.tmp':
[NULL @ 0x55d324ce9c80] Invalid NAL unit size (1750419961 > 1413).
[h264 @ 0x55d32531be80] error while decoding MB 0 1
[h264 @ 0x55d32531be80] concealing 60 DC, 60 AC, 60 MV errors in P frame
file:/w/T-a1/video_0002.mp4: corrupt decoded frame in stream 0
[aac @ 0x55d324d0ad00] 2 frames left in the queue on closing
Conversion failed!
"""


@pytest.mark.parametrize("stderr, blamed", [
    (FFMPEG_51, 1),
    ("Error while decoding stream #1:0: Invalid data found when processing input\n", 1),
    ("[vist#1:0/h264 @ 0x55] Decoding error: Invalid data found when processing input\n", 1),
    ("[vist#0:0/h264 @ 0x55] [dec:h264 @ 0x56] corrupt decoded frame\n", 0),
    ("[in#1/mov,mp4,m4a,3gp,3g2,mj2 @ 0x55] Error during demuxing: I/O error\n", 1),
    ("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55] moov atom not found\n"
     "file:/w/T-a1/video_0002.mp4: Invalid data found when processing input\n", 1),
    ("Error opening input file file:/w/T-a1/video_0001.mp4.\n", 0),
    ("[aist#3:0/mp3 @ 0x55] Error submitting packet to decoder: Invalid data\n", 3),
])
def test_the_blamed_input_is_found_in_each_form(stderr: str, blamed: int) -> None:
    assert failing_input(stderr, INPUTS) == blamed


def test_the_first_blamed_input_is_the_cause() -> None:
    stderr = ("file:/w/T-a1/video_0002.mp4: corrupt decoded frame in stream 0\n"
              "Error while decoding stream #0:0: Invalid data found when processing input\n")
    assert failing_input(stderr, INPUTS) == 1


@pytest.mark.parametrize("stderr", [
    "[h264 @ 0x55] error while decoding MB 4 4\nConversion failed!\n",  # no input named
    "[vist#1:0/h264 @ 0x55] Reinit context to 160x96, pix_fmt: yuv420p\n",  # tagged, but no fault
    "Error while decoding stream #9:0: Invalid data\n",  # an input that is not there
    "file:/elsewhere/video_0002.mp4: corrupt decoded frame in stream 0\n",  # not an input of ours
    "",
])
def test_no_input_is_blamed_without_a_line_that_names_one(stderr: str) -> None:
    assert failing_input(stderr, INPUTS) is None


def test_a_path_holding_a_colon_and_space_is_still_matched() -> None:
    inputs = ["file:/w/a: b/video_0001.mp4", "file:/w/a: b/video_0002.mp4"]
    assert failing_input("file:/w/a: b/video_0002.mp4: corrupt decoded frame in stream 0\n", inputs) == 1


def test_the_inputs_of_a_command_line_are_the_arguments_after_dash_i() -> None:
    argv = ["ffmpeg", "-y", "-hwaccel", "cuda", "-i", "file:a.mp4", "-stream_loop", "-1", "-i", "file:m.mp3",
            "-i", "file:v.mp3", "-map", "0:v", "file:out.mp4"]
    assert input_urls(argv) == ["file:a.mp4", "file:m.mp3", "file:v.mp3"]
