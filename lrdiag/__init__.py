"""lrdiag: why your loss goes up, jumps around or stalls when you change the learning rate."""

__version__ = "0.1.0"
