"""Encoders that put handwritten and spoken digits into one embedding space."""
