"""One Seq2Seq training step in PyTorch (CPU), the model of Seq2SeqStep.java: vocabularies of 40, embeddings 32,
a bidirectional LSTM encoder of hidden size 64 whose directions are summed into an LSTM decoder of 64 (h and c),
Luong general attention (scores h_t . W_a y_s, context, tanh(W_c [context; h_t])), a linear layer to the
vocabulary, mean cross-entropy over the 13 decoder steps, Adam. Batch 32, sources of 20, targets of 12 + end.
Usage: seq2seq_step.py WARMUP STEPS; prints the median and quantiles of the step times in ms."""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
torch.manual_seed(1)
V, E, H, B, S, T = 40, 32, 64, 32, 20, 12


class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.src_emb = nn.Embedding(V, E)
        self.tgt_emb = nn.Embedding(V, E)
        self.encoder = nn.LSTM(E, H, bidirectional=True)
        self.decoder = nn.LSTM(E, H)
        self.keys = nn.Linear(2 * H, H, bias=False)
        self.combine = nn.Linear(2 * H + H, H)
        self.out = nn.Linear(H, V)

    def forward(self, src, dec_in):
        y, (h, c) = self.encoder(self.src_emb(src))                  # y [S, B, 2H]
        h0, c0 = h[0::2] + h[1::2], c[0::2] + c[1::2]
        d, _ = self.decoder(self.tgt_emb(dec_in), (h0, c0))          # [T+1, B, H]
        values = y.transpose(0, 1)                                   # [B, S, 2H]
        keys = self.keys(y).transpose(0, 1)                          # [B, S, H]
        weights = torch.softmax(d.transpose(0, 1) @ keys.transpose(1, 2), dim=-1)   # [B, T+1, S]
        context = (weights @ values).transpose(0, 1)                 # [T+1, B, 2H]
        return self.out(torch.tanh(self.combine(torch.cat([context, d], 2))))


def main():
    warmup, steps = int(sys.argv[1]), int(sys.argv[2])
    g = torch.Generator().manual_seed(1)
    src = torch.randint(2, V, (S, B), generator=g)
    tgt = torch.randint(2, V, (T, B), generator=g)
    dec_in = torch.cat([torch.zeros(1, B, dtype=torch.long), tgt])      # start token 0
    expected = torch.cat([tgt, torch.ones(1, B, dtype=torch.long)])     # end token 1
    model = Seq2Seq()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for s in range(-warmup, steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(src, dec_in).reshape(-1, V), expected.reshape(-1))
        loss.backward()
        opt.step()
        if s >= 0:
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    print("PyTorch %s median %.2f ms (p10 %.2f, p90 %.2f) over %d steps, loss %.4f, %d threads" % (
        torch.__version__, times[steps // 2], times[steps // 10], times[steps * 9 // 10], steps, loss.item(),
        torch.get_num_threads()))


if __name__ == "__main__":
    main()
