#!/usr/bin/env python3
"""Cross-checks rnn4j checkpoints against PyTorch, in both directions.

  torch_checkpoint_check.py CHECKPOINT INPUT.safetensors OUTPUT.safetensors
      ours -> torch: builds torch.nn.LSTM/GRU/RNN from CHECKPOINT's __metadata__ (cell, input_size,
      hidden_size, num_layers, bidirectional, bias, proj_size, batch_first), load_state_dict(strict=True)
      of the file's tensors as they are, runs INPUT ("x", optional "h0", "c0", "lengths") and compares
      "y", "h_n" (and "c_n") with rnn4j's OUTPUT within 1e-5. Prints PASS/FAIL with the max difference.

  torch_checkpoint_check.py --from-torch INPUT.safetensors CHECKPOINT_OUT OUTPUT_OUT [SEED]
      torch -> ours: builds the module that INPUT's __metadata__ describes with torch's own seeded
      initialisation, saves its state_dict as safetensors to CHECKPOINT_OUT, runs INPUT and saves
      "y", "h_n" (and "c_n") to OUTPUT_OUT for rnn4j to load and compare.

The safetensors reader/writer is plain Python (struct + json), equivalent to safetensors.torch's
load_file/save_file for F32 tensors, so that only torch is needed. Exit status 0 on PASS, 1 on FAIL.
"""
import json
import struct
import sys

import torch

TOL = 1e-5


def load_file(path):
    """Returns ({name: float32 tensor}, metadata) of a safetensors file (F32, F64, F16, BF16)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    data = raw[8 + n:]
    dtypes = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16}
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        buf = bytearray(data[b:end])
        t = torch.frombuffer(buf, dtype=dtypes[e["dtype"]]) if end > b else torch.zeros(0, dtype=dtypes[e["dtype"]])
        out[name] = t.reshape(e["shape"]).to(torch.float32).clone()
    return out, meta


def save_file(tensors, path, metadata=None):
    """Writes float32 tensors as safetensors, header padded to 8 bytes like the reference writer."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def flag(meta, key, default="false"):
    return meta.get(key, default).lower() == "true"


def build(meta):
    cell = meta["cell"]
    for key, unsupported in (("peepholes", "true"), ("coupled_input_forget", "true")):
        if meta.get(key, "false").lower() == unsupported:
            raise SystemExit(f"FAIL: {key}={unsupported} has no torch.nn equivalent")
    if float(meta.get("cell_clip", "0")) != 0:
        raise SystemExit("FAIL: cell_clip has no torch.nn equivalent")
    kw = dict(input_size=int(meta["input_size"]), hidden_size=int(meta["hidden_size"]),
              num_layers=int(meta["num_layers"]), bidirectional=flag(meta, "bidirectional"),
              bias=flag(meta, "bias", "true"), batch_first=flag(meta, "batch_first"))
    if cell == "LSTM":
        return torch.nn.LSTM(proj_size=int(meta.get("proj_size", "0")), **kw)
    if cell == "GRU":
        if not flag(meta, "reset_after", "true"):
            raise SystemExit("FAIL: reset-before GRU has no torch.nn equivalent")
        return torch.nn.GRU(**kw)
    if cell in ("RNN_TANH", "RNN_RELU"):
        return torch.nn.RNN(nonlinearity="tanh" if cell == "RNN_TANH" else "relu", **kw)
    raise SystemExit(f"FAIL: unknown cell {cell!r}")


def run(module, inputs, meta):
    """Runs the module like rnn4j: lengths -> PackedSequence, zero output at padded steps."""
    module.eval()
    x = inputs["x"]
    batch_first = flag(meta, "batch_first")
    is_lstm = isinstance(module, torch.nn.LSTM)
    state = None
    if "h0" in inputs:
        state = (inputs["h0"], inputs["c0"]) if is_lstm else inputs["h0"]
    with torch.no_grad():
        if "lengths" in inputs:
            lengths = inputs["lengths"].round().to(torch.int64)
            total = x.shape[1 if batch_first else 0]
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=batch_first,
                                                             enforce_sorted=False)
            y, st = module(packed, state)
            y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, batch_first=batch_first, total_length=total)
        else:
            y, st = module(x, state)
    out = {"y": y}
    if is_lstm:
        out["h_n"], out["c_n"] = st
    else:
        out["h_n"] = st
    return out


def check(checkpoint, input_path, output_path):
    params, meta = load_file(checkpoint)
    module = build(meta)
    module.load_state_dict(params, strict=True)  # the file's names, as they are
    inputs, _ = load_file(input_path)
    ours, _ = load_file(output_path)
    theirs = run(module, inputs, meta)
    worst, ok = 0.0, True
    for name, t in theirs.items():
        if name not in ours:
            print(f"FAIL {name}: missing from {output_path}")
            ok = False
            continue
        if tuple(ours[name].shape) != tuple(t.shape):
            print(f"FAIL {name}: shape ours {tuple(ours[name].shape)} torch {tuple(t.shape)}")
            ok = False
            continue
        d = (ours[name] - t).abs().max().item() if t.numel() else 0.0
        worst = max(worst, d)
        ok = ok and d <= TOL
    desc = f"{meta['cell']}(I={meta['input_size']}, H={meta['hidden_size']}, layers={meta['num_layers']}, " \
           f"bidirectional={meta['bidirectional']}, proj={meta.get('proj_size', '0')})"
    print(f"{'PASS' if ok else 'FAIL'} ours->torch {desc}: max |diff| {worst:.3e} (tolerance {TOL:g})")
    return ok


def from_torch(input_path, checkpoint_out, output_out, seed=1234):
    inputs, meta = load_file(input_path)
    torch.manual_seed(seed)
    module = build(meta)
    save_file(module.state_dict(), checkpoint_out, {"format": "pt"})
    save_file(run(module, inputs, meta), output_out)
    print(f"WROTE torch->ours {meta['cell']} state_dict {list(module.state_dict().keys())}")
    return True


def main(argv):
    if len(argv) >= 4 and argv[0] == "--from-torch":
        return from_torch(argv[1], argv[2], argv[3], int(argv[4]) if len(argv) > 4 else 1234)
    if len(argv) == 3:
        return check(*argv)
    print(__doc__, file=sys.stderr)
    raise SystemExit(2)


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:]) else 1)
