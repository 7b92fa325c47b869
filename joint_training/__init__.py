"""Joint ASR–TTS / emotion-bridge training: manifests, datasets, training loops, evaluation."""
