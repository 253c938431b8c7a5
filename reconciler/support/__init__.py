"""Helpers every stage may use: interpreters, hermetic pip config, redaction, progress UI."""
