"""One render: the filter graph and argv, encoder probing, running and verifying ffmpeg."""
