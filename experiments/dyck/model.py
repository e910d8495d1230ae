"""A tiny causal transformer language model over bracket tokens."""

from __future__ import annotations

import torch
from torch import nn


class BracketLM(nn.Module):
    """Token + learned positional embedding, pre-norm causal encoder layers, a read-out to the vocabulary."""

    def __init__(self, vocab: int, length: int, d_model: int, n_heads: int, n_layers: int, d_ff: int,
                 dropout: float):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.randn(length, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, batch_first=True, norm_first=True,
                                           activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.readout = nn.Linear(d_model, vocab)
        self.register_buffer("causal", nn.Transformer.generate_square_subsequent_mask(length), persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        n = tokens.shape[1]
        h = self.encoder(self.embed(tokens) + self.pos[:n], mask=self.causal[:n, :n], is_causal=True)
        return self.readout(self.norm(h))
