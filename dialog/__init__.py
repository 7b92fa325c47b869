"""Dialogue: emotion bridge (shared embedding space), reply policy, conversation memory."""
