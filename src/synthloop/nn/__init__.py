"""Torch parts shared by the neural synthesizers (no public API; imported only by those models).

- ``blocks``: MLPs, CTGAN's residual block, sinusoidal timestep embedding, device and thread helpers.
- ``heads``: layout-aware output activations, reconstruction losses and decoding (tanh / softmax / Gumbel).
- ``conditioning``: condition vectors over categorical spans and training-by-sampling (Xu et al., 2019).
- ``trainer``: the one fit loop with mini-batches, rich progress, checkpoints, resume and early stopping.
"""
