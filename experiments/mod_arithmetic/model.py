"""A small pre-norm transformer that reads "a b =" and predicts (a + b) mod p."""

from __future__ import annotations

import torch
from torch import nn

SEQ_LEN = 3  # tokens: a, b, "=" (token id p)


class ModAddTransformer(nn.Module):
    """Token + learned positional embedding, pre-norm encoder layers, linear read-out to p classes."""

    def __init__(self, p: int, d_model: int, n_heads: int, n_layers: int, d_ff: int, dropout: float):
        super().__init__()
        self.p = p
        self.embed = nn.Embedding(p + 1, d_model)  # p numbers and the "=" token
        self.pos = nn.Parameter(torch.randn(SEQ_LEN, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, batch_first=True, norm_first=True,
                                           activation="relu")
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.readout = nn.Linear(d_model, p)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        eq = torch.full((pairs.shape[0], 1), self.p, dtype=pairs.dtype, device=pairs.device)
        tokens = torch.cat([pairs, eq], dim=1)
        h = self.encoder(self.embed(tokens) + self.pos)
        return self.readout(self.norm(h[:, -1]))
