"""Tools that build labelled loss-curve corpora."""
