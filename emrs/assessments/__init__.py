"""Measurement-based care: rating scales scored at the visit."""
