#!/usr/bin/python3
"""Conformance vectors for rnn4j, computed by PyTorch in float64.

Writes one JSON file per case to src/test/resources/conformance/ (relative to the repository root).
The Java tests (org.rnn4j.reference.ReferenceConformanceTest, ReferenceGradientTest) read those files;
they are committed, so the tests never need Python.

Regenerate (Debian's PyTorch, which imports under /usr/bin/python3, not a venv's python3):

    apt-get install -y python3-torch
    /usr/bin/python3 benchmarks/scripts/make_conformance.py

The script is deterministic (torch.manual_seed per case, CPU, float64, no threads-dependent reductions
matter at this size) and rewrites every file; it also deletes stale *.json files in that directory.

Two sources of vectors:

* "torch.nn": torch.nn.RNN (tanh, relu), LSTM (with proj_size), GRU, variable lengths through
  pack_padded_sequence(enforce_sorted=False) / pad_packed_sequence(total_length=T) (padded outputs are 0).
* "torch-manual": rnn4j's options beyond PyTorch (LSTM peepholes, cell clip, coupled input-forget gate,
  GRU reset-before) written here as a masked time loop in torch ops, gradients by autograd. Before any of
  them is written, the same loop is checked against torch.nn on every standard case (max abs diff 1e-12),
  so its length/direction handling is PackedSequence's.

Each file holds:
  source, config {cell, input, hidden, layers, bidirectional, bias, proj, batch_first (false), peepholes,
  cell_clip, coupled, reset_after}, T, B, lengths (null = all T), x [T,B,I] (time-major),
  h0 [L*D,B,S] / c0 [L*D,B,H] (null = zeros), params {name: flat row-major}, param_shapes {name: shape}
  (state_dict order), y [T,B,D*S], hN, cN (null unless LSTM), wy, wh, wc (loss weights, wc null unless LSTM),
  loss L = sum(y*wy) + sum(hN*wh) + sum(cN*wc), and grad.x, grad.h0, grad.c0 (when given) and
  grad.<param name> = dL/d(that tensor), all flat row-major.
"""

import json
import os
import sys

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT_DIR = os.path.join(ROOT, "src", "test", "resources", "conformance")
DT = torch.float64


def case(name, cell, I, H, T, B, layers=1, bidir=False, bias=True, proj=0, lengths=None, h0=False, c0=False,
         peepholes=False, clip=0.0, coupled=False, reset_after=True, seed=0):
    return dict(name=name, cell=cell, I=I, H=H, T=T, B=B, layers=layers, bidir=bidir, bias=bias, proj=proj,
                lengths=lengths, h0=h0, c0=c0, peepholes=peepholes, clip=clip, coupled=coupled,
                reset_after=reset_after, seed=seed)


# Standard PyTorch semantics: computed by torch.nn.
NN_CASES = [
    case("rnn_tanh_basic", "RNN_TANH", I=4, H=5, T=4, B=3, seed=1),
    case("rnn_tanh_h1_i1_nobias_b1", "RNN_TANH", I=1, H=1, T=5, B=1, bias=False, h0=True, seed=2),
    case("rnn_relu_2layer_bidir_lengths", "RNN_RELU", I=4, H=5, T=5, B=3, layers=2, bidir=True,
         lengths=[3, 5, 1], h0=True, seed=3),
    case("rnn_relu_h1_lengths", "RNN_RELU", I=4, H=1, T=4, B=3, lengths=[1, 4, 2], seed=4),
    case("lstm_basic_b1_h0c0", "LSTM", I=4, H=5, T=4, B=1, h0=True, c0=True, seed=5),
    case("lstm_h1_i1_nobias", "LSTM", I=1, H=1, T=6, B=3, bias=False, seed=6),
    case("lstm_2layer_bidir_lengths", "LSTM", I=4, H=4, T=5, B=3, layers=2, bidir=True, lengths=[2, 5, 1],
         h0=True, c0=True, seed=7),
    case("lstm_proj_2layer_bidir_lengths", "LSTM", I=4, H=4, T=4, B=3, layers=2, bidir=True, proj=3,
         lengths=[4, 1, 3], h0=True, c0=True, seed=8),
    case("lstm_proj1_nobias_t1", "LSTM", I=1, H=5, T=1, B=3, proj=1, bias=False, h0=True, c0=True, seed=9),
    case("gru_basic", "GRU", I=4, H=5, T=4, B=3, seed=10),
    case("gru_2layer_bidir_lengths_nobias", "GRU", I=4, H=4, T=4, B=3, layers=2, bidir=True, bias=False,
         lengths=[4, 1, 3], h0=True, seed=11),
    case("gru_h1_i1_b1", "GRU", I=1, H=1, T=5, B=1, h0=True, seed=12),
]

# rnn4j's extensions: computed by the manual torch loop below (validated against NN_CASES first).
MANUAL_CASES = [
    case("ext_lstm_peepholes_bidir_lengths", "LSTM", I=4, H=5, T=5, B=3, bidir=True, peepholes=True,
         lengths=[3, 5, 1], h0=True, c0=True, seed=20),
    case("ext_lstm_cellclip", "LSTM", I=4, H=5, T=5, B=3, clip=0.25, c0=True, seed=21),
    case("ext_lstm_coupled_2layer", "LSTM", I=4, H=5, T=4, B=3, layers=2, coupled=True, seed=22),
    case("ext_lstm_all_options_proj_lengths", "LSTM", I=4, H=5, T=4, B=3, bidir=True, proj=3, peepholes=True,
         clip=0.5, coupled=True, lengths=[1, 4, 2], h0=True, c0=True, seed=23),
    case("ext_gru_reset_before_bidir_lengths", "GRU", I=4, H=4, T=4, B=3, layers=2, bidir=True,
         reset_after=False, lengths=[2, 4, 1], h0=True, seed=24),
    case("ext_gru_reset_before_nobias_b1", "GRU", I=1, H=1, T=4, B=1, bias=False, reset_after=False, seed=25),
]


def state_size(c):
    return c["proj"] if c["proj"] > 0 else c["H"]


def param_shapes(c):
    """PyTorch state_dict order, then rnn4j's weight_peephole per direction."""
    G = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}[c["cell"]]
    H, S, D = c["H"], state_size(c), 2 if c["bidir"] else 1
    shapes = {}
    for k in range(c["layers"]):
        inp = c["I"] if k == 0 else D * S
        for d in range(D):
            sfx = "_l%d%s" % (k, "_reverse" if d else "")
            shapes["weight_ih" + sfx] = [G * H, inp]
            shapes["weight_hh" + sfx] = [G * H, S]
            if c["bias"]:
                shapes["bias_ih" + sfx] = [G * H]
                shapes["bias_hh" + sfx] = [G * H]
            if c["cell"] == "LSTM" and c["proj"] > 0:
                shapes["weight_hr" + sfx] = [c["proj"], H]
            if c["cell"] == "LSTM" and c["peepholes"]:
                shapes["weight_peephole" + sfx] = [3 * H]
    return shapes


def make_module(c):
    kw = dict(input_size=c["I"], hidden_size=c["H"], num_layers=c["layers"], bias=c["bias"],
              bidirectional=c["bidir"], batch_first=False)
    if c["cell"] in ("RNN_TANH", "RNN_RELU"):
        return torch.nn.RNN(nonlinearity="tanh" if c["cell"] == "RNN_TANH" else "relu", **kw)
    if c["cell"] == "LSTM":
        return torch.nn.LSTM(proj_size=c["proj"], **kw)
    return torch.nn.GRU(**kw)


def make_inputs(c):
    """Seeded parameters (PyTorch's init, U(-1/sqrt(H), 1/sqrt(H))), inputs, initial states, loss weights."""
    torch.manual_seed(c["seed"])
    module = make_module(c).to(DT)  # also draws the standard parameters from the seeded generator
    params = {}
    sd = dict(module.named_parameters())
    bound = 1.0 / c["H"] ** 0.5
    for name, shape in param_shapes(c).items():
        if name in sd:
            p = sd[name]  # the module's own Parameter: run_nn calls the module, autograd sees this leaf
        else:  # peepholes
            p = torch.empty(shape, dtype=DT).uniform_(-bound, bound).requires_grad_(True)
        assert list(p.shape) == shape, (name, p.shape, shape)
        params[name] = p
    T, B, D, S = c["T"], c["B"], 2 if c["bidir"] else 1, state_size(c)
    x = torch.randn(T, B, c["I"], dtype=DT, requires_grad=True)
    h0 = torch.randn(c["layers"] * D, B, S, dtype=DT, requires_grad=True) if c["h0"] else None
    c0 = torch.randn(c["layers"] * D, B, c["H"], dtype=DT, requires_grad=True) if c["c0"] else None
    wy = torch.randn(T, B, D * S, dtype=DT)
    wh = torch.randn(c["layers"] * D, B, S, dtype=DT)
    wc = torch.randn(c["layers"] * D, B, c["H"], dtype=DT) if c["cell"] == "LSTM" else None
    return module, params, x, h0, c0, wy, wh, wc


def run_nn(c, module, params, x, h0, c0):
    """torch.nn forward; params are the module's own parameters."""
    T, B, D = c["T"], c["B"], 2 if c["bidir"] else 1
    S = state_size(c)
    if c["cell"] == "LSTM":
        hz = h0 if h0 is not None else torch.zeros(c["layers"] * D, B, S, dtype=DT)
        cz = c0 if c0 is not None else torch.zeros(c["layers"] * D, B, c["H"], dtype=DT)
        state = (hz, cz)
    else:
        state = h0
    inp = x
    if c["lengths"] is not None:
        inp = pack_padded_sequence(x, torch.tensor(c["lengths"]), enforce_sorted=False)
    assert all(p is dict(module.named_parameters())[k] for k, p in params.items())
    out, st = module(inp, state)
    if c["lengths"] is not None:
        out, _ = pad_packed_sequence(out, total_length=T)  # zeros at padded steps
    if c["cell"] == "LSTM":
        return out, st[0], st[1]
    return out, st, None


def run_manual(c, params, x, h0, c0):
    """Masked time loop from the equations: padded steps keep the state and output 0; the reverse
    direction walks t = T-1 .. 0 and, since its state is untouched until t < len[b], starts at len[b]-1."""
    T, B, H, D = c["T"], c["B"], c["H"], 2 if c["bidir"] else 1
    S = state_size(c)
    lengths = c["lengths"] if c["lengths"] is not None else [T] * B
    valid = torch.tensor([[t < lengths[b] for b in range(B)] for t in range(T)]).unsqueeze(-1)  # [T,B,1]
    inp = x
    hn, cn = [], []
    for k in range(c["layers"]):
        outs = []
        for d in range(D):
            idx = k * D + d
            sfx = "_l%d%s" % (k, "_reverse" if d else "")
            w_ih, w_hh = params["weight_ih" + sfx], params["weight_hh" + sfx]
            b_ih = params["bias_ih" + sfx] if c["bias"] else torch.zeros(w_ih.shape[0], dtype=DT)
            b_hh = params["bias_hh" + sfx] if c["bias"] else torch.zeros(w_ih.shape[0], dtype=DT)
            h = h0[idx] if h0 is not None else torch.zeros(B, S, dtype=DT)
            cs = c0[idx] if c0 is not None else torch.zeros(B, H, dtype=DT)
            ys = [None] * T
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                gx = inp[t] @ w_ih.T + b_ih
                gh = h @ w_hh.T + b_hh
                if c["cell"] == "RNN_TANH":
                    hnew, cnew = torch.tanh(gx + gh), cs
                elif c["cell"] == "RNN_RELU":
                    hnew, cnew = torch.relu(gx + gh), cs
                elif c["cell"] == "GRU":
                    xr, xz, xn = gx.chunk(3, 1)
                    hr, hz, hn_ = gh.chunk(3, 1)
                    r = torch.sigmoid(xr + hr)
                    z = torch.sigmoid(xz + hz)
                    if c["reset_after"]:
                        n = torch.tanh(xn + r * hn_)
                    else:
                        n = torch.tanh(xn + (r * h) @ w_hh[2 * H:].T + b_hh[2 * H:])
                    hnew, cnew = (1 - z) * n + z * h, cs
                else:
                    pi, pf, pg, po = (gx + gh).chunk(4, 1)
                    if c["peepholes"]:
                        p_i, p_f, p_o = params["weight_peephole" + sfx].chunk(3)
                        pi = pi + p_i * cs
                        pf = pf + p_f * cs
                    i = torch.sigmoid(pi)
                    f = 1 - i if c["coupled"] else torch.sigmoid(pf)
                    cnew = f * cs + i * torch.tanh(pg)
                    if c["clip"] > 0:
                        cnew = torch.clamp(cnew, -c["clip"], c["clip"])
                    if c["peepholes"]:
                        po = po + p_o * cnew
                    m = torch.sigmoid(po) * torch.tanh(cnew)
                    hnew = m @ params["weight_hr" + sfx].T if c["proj"] > 0 else m
                h = torch.where(valid[t], hnew, h)
                cs = torch.where(valid[t], cnew, cs)
                ys[t] = torch.where(valid[t], h, torch.zeros_like(h))
            outs.append(torch.stack(ys))
            hn.append(h)
            cn.append(cs)
        inp = torch.cat(outs, dim=2)
    return inp, torch.stack(hn), (torch.stack(cn) if c["cell"] == "LSTM" else None)


def flat(t):
    return None if t is None else [float(v) for v in t.detach().reshape(-1).tolist()]


def build(c, manual):
    module, params, x, h0, c0, wy, wh, wc = make_inputs(c)
    y, hN, cN = (run_manual if manual else run_nn)(c, *(([] if manual else [module]) + [params, x, h0, c0]))
    loss = (y * wy).sum() + (hN * wh).sum()
    if cN is not None:
        loss = loss + (cN * wc).sum()
    leaves = {"x": x}
    if h0 is not None:
        leaves["h0"] = h0
    if c0 is not None:
        leaves["c0"] = c0
    leaves.update(params)
    grads = torch.autograd.grad(loss, list(leaves.values()))
    doc = {
        "name": c["name"],
        "source": "torch-manual" if manual else "torch.nn",
        "torch_version": torch.__version__,
        "config": {"cell": c["cell"], "input": c["I"], "hidden": c["H"], "layers": c["layers"],
                   "bidirectional": c["bidir"], "bias": c["bias"], "proj": c["proj"], "batch_first": False,
                   "peepholes": c["peepholes"], "cell_clip": c["clip"], "coupled": c["coupled"],
                   "reset_after": c["reset_after"]},
        "T": c["T"], "B": c["B"], "lengths": c["lengths"],
        "x": flat(x), "h0": flat(h0), "c0": flat(c0),
        "params": {k: flat(v) for k, v in params.items()},
        "param_shapes": param_shapes(c),
        "y": flat(y), "hN": flat(hN), "cN": flat(cN),
        "wy": flat(wy), "wh": flat(wh), "wc": flat(wc),
        "loss": float(loss),
    }
    for k, g in zip(leaves.keys(), grads):
        doc["grad." + k] = flat(g)
    return doc, (y, hN, cN, grads)


def self_check():
    """The manual loop must reproduce torch.nn (forward and autograd) on every standard case."""
    for c in NN_CASES:
        _, ref = build(c, manual=False)
        _, got = build(c, manual=True)
        pairs = [(ref[0], got[0]), (ref[1], got[1])] + ([(ref[2], got[2])] if ref[2] is not None else [])
        pairs += list(zip(ref[3], got[3]))
        worst = max(float((a - b).abs().max()) for a, b in pairs)
        if worst > 1e-12:
            sys.exit("manual loop disagrees with torch.nn on %s: max abs diff %g" % (c["name"], worst))


def main():
    torch.set_num_threads(1)
    self_check()
    os.makedirs(OUT_DIR, exist_ok=True)
    for f in os.listdir(OUT_DIR):
        if f.endswith(".json"):
            os.remove(os.path.join(OUT_DIR, f))
    total = 0
    for c, manual in [(c, False) for c in NN_CASES] + [(c, True) for c in MANUAL_CASES]:
        doc, _ = build(c, manual)
        text = json.dumps(doc, separators=(",", ":")) + "\n"
        with open(os.path.join(OUT_DIR, c["name"] + ".json"), "w") as fh:
            fh.write(text)
        total += len(text)
    print("wrote %d cases, %d bytes, to %s" % (len(NN_CASES) + len(MANUAL_CASES), total, OUT_DIR))


if __name__ == "__main__":
    main()
