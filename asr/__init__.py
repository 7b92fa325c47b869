"""Speech recognition: recognizers (streaming + offline), VAD endpointing, text post-processing."""
