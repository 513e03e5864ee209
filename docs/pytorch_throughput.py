"""PyTorch CPU peer of fundalloc-revenue-model's "Ours": training throughput at batch 512.

Builds the same network as `ModelKind::Ours` on the synthetic campaign's schema (6 categorical
features sharing one embedding table of width 24 — cardinalities 6, 12, 5, 8, 4, 5 — plus 4
standardised numeric features; two towers Linear-ReLU-Dropout [64, 32] with heads of 1 and 2
outputs; sigma = softplus + 1e-3) and trains it with the same entire-space counterfactual loss
(log-sigmoid / logaddexp form, counterfactual term ln Phi((ln eps - mu)/sigma)), Adam lr 0.01, batch 512, dropout 0.1, on random rows of the same
shape (throughput does not depend on the values). Reports training samples per second
(forward + backward + Adam step, batches gathered from host tensors), the same quantity as
`TrainReport::samples_per_second` on the Rust side.

    python3 -m venv /tmp/rev-venv && /tmp/rev-venv/bin/pip install torch
    /tmp/rev-venv/bin/python docs/pytorch_throughput.py --rows 54000 --epochs 3 --threads 2
"""

import argparse
import math
import time

import torch
from torch import nn
import torch.nn.functional as F

CARDS = [6, 12, 5, 8, 4, 5]
N_NUM = 4
DIM = 24
HALF_LN_2PI = 0.5 * math.log(2 * math.pi)


def mlp(d_in, hidden, dropout):
    layers, d = [], d_in
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU(), nn.Dropout(dropout)]
        d = h
    return nn.Sequential(*layers), d


class Ours(nn.Module):
    def __init__(self, hidden=(64, 32), dropout=0.1):
        super().__init__()
        self.table = nn.Embedding(sum(CARDS), DIM)
        d_in = len(CARDS) * DIM + N_NUM
        self.conv, d = mlp(d_in, hidden, dropout)
        self.conv_out = nn.Linear(d, 1)
        self.rev, d = mlp(d_in, hidden, dropout)
        self.rev_out = nn.Linear(d, 2)

    def forward(self, codes, num):
        x = torch.cat([self.table(codes).flatten(1), num], dim=1)
        z = self.conv_out(self.conv(x))[:, 0]
        r = self.rev_out(self.rev(x))
        return z, r[:, 0], F.softplus(r[:, 1]) + 1e-3


def log_ln(x, mu, sigma):
    return -x - HALF_LN_2PI - sigma.log() - 0.5 * ((x - mu) / sigma) ** 2


def entire_space_nll(z, mu, sigma, y, log_r, log_eps):
    log_p, log_not_p = F.logsigmoid(z), F.logsigmoid(-z)
    pos = log_p + log_ln(log_r, mu, sigma)
    # The crate's default counterfactual term: ln Phi((ln eps - mu) / sigma).
    neg = torch.logaddexp(log_not_p, log_p + torch.special.log_ndtr((log_eps - mu) / sigma))
    return -(y * pos + (1 - y) * neg).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=54000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=512)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    offsets = torch.tensor([0] + list(torch.tensor(CARDS).cumsum(0)[:-1]))
    codes = torch.stack([torch.randint(0, c, (args.rows,)) for c in CARDS], 1) + offsets
    num = torch.randn(args.rows, N_NUM)
    y = (torch.rand(args.rows) < 0.15).float()
    log_r = torch.where(y > 0, torch.randn(args.rows), torch.full((args.rows,), math.log(0.01)))
    model = Ours()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    rates = []
    for epoch in range(args.epochs):
        perm = torch.randperm(args.rows)
        start = time.perf_counter()
        for i in range(0, args.rows, args.batch):
            idx = perm[i : i + args.batch]
            z, mu, sigma = model(codes[idx], num[idx])
            loss = entire_space_nll(z, mu, sigma, y[idx], log_r[idx], math.log(0.01))
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()  # the Rust loop reads every batch loss too
        secs = time.perf_counter() - start
        rates.append(args.rows / secs)
        print(f"epoch {epoch + 1}: {args.rows / secs:,.0f} samples/s")
    print(f"torch {torch.__version__}, {args.threads} threads: best {max(rates):,.0f} samples/s, "
          f"mean {sum(rates) / len(rates):,.0f} samples/s")


if __name__ == "__main__":
    main()
