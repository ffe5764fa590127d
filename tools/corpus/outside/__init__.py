"""The outside corpus: loss curves from real PyTorch/Keras training, labelled without lrdiag."""
