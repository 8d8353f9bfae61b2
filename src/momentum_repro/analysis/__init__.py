"""Closed-form analysis of the paper's methods (NumPy only): CM and NAG on quadratics."""
