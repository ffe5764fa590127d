"""Developer tools (not part of the lrdiag package)."""
