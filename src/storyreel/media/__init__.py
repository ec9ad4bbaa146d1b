"""ffmpeg and ffprobe: the only part of storyreel that starts a subprocess."""
