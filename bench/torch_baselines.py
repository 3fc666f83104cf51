"""The non-spiking baselines (SCIENCE.md section 7) trained with PyTorch autograd, for bench/baselines.ts.

Reads a network's initial parameters and a batch written by the benchmark (a JSON header with the
baseline's config and a float32 blob), then serves timing requests on stdin, one per line, so that
the benchmark can interleave engines:
  run <n>   -> one JSON line: {"ms": [...], "cpuMs": CPU time per iteration}
  quit      -> one JSON line: {"maxRssMiB": ...}
The models mirror packages/l2l/src/models (rnn.ts, gated.ts, attention.ts): lstm and gru are
torch.nn.LSTM / torch.nn.GRU (the same gate order; the recurrent biases that the TensorFlow.js models
lack are held at 0, except the GRU's candidate bias b_rec), rnn and attention are written out. Loss:
masked MSE; optimiser: AdamW (decoupled decay on the weights, as the baselines' default) after
global-norm clipping, with the config's betas, eps, learning rate and decay rates.
"""

import json
import math
import resource
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # the benchmark prints this and skips the column
    print(json.dumps({"error": f"torch is not importable: {e}"}), flush=True)
    sys.exit(0)

import numpy as np

# The L2 group of each weight (the rest, biases and layer-norm gains, are not decayed).
GROUPS = {"wIn": "in", "wOut": "out", "wRec": "rec", "wQkv": "rec", "wO": "rec", "w1": "rec", "w2": "rec"}


def main() -> None:
    header = json.loads(open(sys.argv[1]).read())
    blob = np.fromfile(sys.argv[2], dtype=np.float32)
    c = header["config"]
    torch.set_num_threads(1)

    def arr(name):
        off, n = header["arrays"][name]
        return torch.from_numpy(blob[off : off + n].copy())

    model, n_in, n_out, n = c["model"], c["nIn"], c["nOut"], c["hidden"]
    T, B = header["steps"], header["batch"]
    x = arr("inputs").reshape(T, B, n_in)
    target = arr("targets").reshape(T, B, n_out)
    mask = arr("mask").reshape(T, B, 1)
    total = float(mask.sum())
    names = [k for k in header["arrays"] if k not in ("inputs", "targets", "mask")]
    p = {k: arr(k) for k in names}
    decay = {"in": c["weightDecay"]["in"], "rec": c["weightDecay"]["rec"], "out": c["weightDecay"]["out"]}
    if c["weightDecay"]["mode"] != "decoupled":
        decay = {"in": 0.0, "rec": 0.0, "out": 0.0}
    trained = {}  # name -> the tensor the optimiser updates

    def param(name, value):
        t = value.clone().requires_grad_(True)
        trained[name] = t
        return t

    w_out = param("wOut", p["wOut"].reshape(n, n_out))
    b_out = param("bOut", p["bOut"])

    if model in ("lstm", "gru"):
        gates = 4 if model == "lstm" else 3
        cell = (torch.nn.LSTM if model == "lstm" else torch.nn.GRU)(n_in, n)
        with torch.no_grad():
            cell.weight_ih_l0.copy_(p["wIn"].reshape(n_in, gates * n).T)
            cell.weight_hh_l0.copy_(p["wRec"].reshape(n, gates * n).T)
            cell.bias_ih_l0.copy_(p["b"])
            cell.bias_hh_l0.zero_()
            if model == "gru":
                cell.bias_hh_l0[2 * n :].copy_(p["bRec"])
        trained.update({"wIn": cell.weight_ih_l0, "wRec": cell.weight_hh_l0, "b": cell.bias_ih_l0})
        if model == "lstm":
            cell.bias_hh_l0.requires_grad_(False)
        else:
            # Only the candidate part is a parameter of the model; the reset and update parts stay 0.
            keep = torch.cat([torch.zeros(2 * n), torch.ones(n)])
            cell.bias_hh_l0.register_hook(lambda g: g * keep)
            trained["bRec"] = cell.bias_hh_l0

        def hidden():
            return cell(x)[0]

    elif model == "rnn":
        w_in = param("wIn", p["wIn"].reshape(n_in, n))
        w_rec = param("wRec", p["wRec"].reshape(n, n))
        b = param("b", p["b"])
        alpha = min(1.0, c["dt"] / c["tau"])

        def hidden():
            drive = (x.reshape(T * B, n_in) @ w_in + b).reshape(T, B, n)
            h = torch.zeros(B, n)
            hs = []
            for t in range(T):
                h = (1 - alpha) * h + alpha * F.softplus(h @ w_rec + drive[t])
                hs.append(h)
            return torch.stack(hs)

    else:
        heads = int(model[len("attn-h") :])
        d, dh, m = n, n // heads, c["mlpRatio"] * n
        shapes = {"wIn": (n_in, d), "wQkv": (d, 3 * d), "wO": (d, d), "w1": (d, m), "w2": (m, d)}
        q = {k: param(k, p[k].reshape(shapes.get(k, (-1,)))) for k in names if k not in ("wOut", "bOut")}
        pos = torch.arange(T, dtype=torch.float64)[:, None] / torch.pow(
            10000.0, (2 * (torch.arange(d) // 2)).to(torch.float64) / d
        )[None, :]
        pe = torch.where(torch.arange(d) % 2 == 0, torch.sin(pos), torch.cos(pos)).to(torch.float32)
        causal = torch.triu(torch.full((T, T), -1e9), diagonal=1)

        def hidden():
            e = x.transpose(0, 1) @ q["wIn"] + q["bIn"] + pe  # [B, T, d]
            qkv = e @ q["wQkv"] + q["bQkv"]
            qh, kh, vh = (t.reshape(B, T, heads, dh).transpose(1, 2) for t in qkv.split(d, dim=-1))
            scores = qh @ kh.transpose(-1, -2) / math.sqrt(dh) + causal
            mixed = (torch.softmax(scores, dim=-1) @ vh).transpose(1, 2).reshape(B, T, d)
            h1 = F.layer_norm(e + mixed @ q["wO"] + q["bO"], (d,), q["g1"], q["n1"], eps=1e-5)
            mlp = F.gelu(h1 @ q["w1"] + q["b1"], approximate="tanh") @ q["w2"] + q["b2"]
            h2 = F.layer_norm(h1 + mlp, (d,), q["g2"], q["n2"], eps=1e-5)
            return h2.transpose(0, 1)  # [T, B, d]

    params = list(trained.values())
    groups = [
        {"params": [t], "weight_decay": decay[GROUPS[k]] if k in GROUPS else 0.0} for k, t in trained.items()
    ]
    opt = torch.optim.AdamW(groups, lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"])

    def iteration():
        y = hidden() @ w_out + b_out
        loss = (mask * (y - target) ** 2).sum() / (total * n_out)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if c["clipNorm"] > 0:
            torch.nn.utils.clip_grad_norm_(params, c["clipNorm"])
        opt.step()
        return float(loss)

    t0 = time.perf_counter()
    loss0 = iteration()
    for _ in range(2):
        iteration()
    warm = (time.perf_counter() - t0) * 1e3 / 3
    print(json.dumps({"ready": True, "loss0": loss0, "warmMs": warm, "version": torch.__version__}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "run":
            ms = []
            cpu0 = time.process_time()
            for _ in range(int(cmd[1])):
                t = time.perf_counter()
                iteration()
                ms.append((time.perf_counter() - t) * 1e3)
            cpu = (time.process_time() - cpu0) * 1e3 / int(cmd[1])
            print(json.dumps({"ms": ms, "cpuMs": cpu}), flush=True)
        elif cmd[0] == "quit":
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(json.dumps({"maxRssMiB": rss}), flush=True)
            return


if __name__ == "__main__":
    main()
