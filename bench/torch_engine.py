"""The IP2 spiking network (SCIENCE.md section 2) trained with PyTorch autograd, for bench/engines.ts.

Reads a network and a batch written by the benchmark (a JSON header and a float32 blob), then
serves timing requests on stdin, one per line, so that the benchmark can interleave engines:
  run <n>   -> one JSON line: {"ms": [...], "loss": ..., "rate": ...}
  quit      -> one JSON line: {"maxRssMiB": ...}
The model mirrors TfjsEngine: two compartments, soft reset, threshold adaptation, hard spikes
with the fast-sigmoid surrogate, readout from u, masked MSE + homeostatic + L2 loss, global-norm
clipping and Adam with per-group learning rates. The input projection of all steps is one matmul.
"""

import json
import os
import resource
import sys
import time

try:
    import torch
except ImportError as e:  # the benchmark prints this and skips the column
    print(json.dumps({"error": f"torch is not importable: {e}"}), flush=True)
    sys.exit(0)

import numpy as np


class Spike(torch.autograd.Function):
    """Heaviside forward, fast-sigmoid surrogate backward (theta is a constant in the surrogate)."""

    gamma = 0.3
    kappa = 10.0

    @staticmethod
    def forward(ctx, v, theta):
        ctx.save_for_backward(v, theta)
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx, g):
        v, theta = ctx.saved_tensors
        d = 1 + Spike.kappa * (v / theta).abs()
        return g * (Spike.gamma / (d * d)), None


def main() -> None:
    header = json.loads(open(sys.argv[1]).read())
    blob = np.fromfile(sys.argv[2], dtype=np.float32)
    c = header["config"]
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
    Spike.gamma = c["surrogate"]["gamma"]
    Spike.kappa = c["surrogate"]["kappa"]

    def arr(name):
        off, n = header["arrays"][name]
        return torch.from_numpy(blob[off : off + n].copy())

    n_in, n_rec, n_out = c["nIn"], c["nRec"], c["nOut"]
    T, B = header["steps"], header["batch"]
    shapes = {
        "wIn": (n_in, n_rec),
        "wRec": (n_rec, n_rec),
        "b": (n_rec,),
        "wOut": (n_rec, n_out),
        "bOut": (n_out,),
        "tauD": (n_rec,),
        "tauS": (n_rec,),
        "theta": (n_rec,),
        "beta": (n_rec,),
        "tauA": (n_rec,),
    }
    params = {k: arr(k).reshape(s).requires_grad_(k in header["trainable"]) for k, s in shapes.items()}
    x = arr("inputs").reshape(T * B, n_in)
    target = arr("targets").reshape(T, B, n_out)
    mask = arr("mask").reshape(T, B, 1)
    total = float(mask.sum())
    dt = c["dt"]
    lo, hi = c["tauClamp"]["min"], c["tauClamp"]["max"]
    loss_c = c["loss"]
    sigma_h = header["homeostaticTarget"]
    groups = [{"params": [params[k]], "lr": header["lr"][k]} for k in header["trainable"]]
    opt_c = c["optimizer"]
    opt = torch.optim.Adam(groups, betas=(opt_c["beta1"], opt_c["beta2"]), eps=opt_c["eps"])
    trainable = [params[k] for k in header["trainable"]]

    def iteration():
        p = params
        alpha = lambda raw: torch.exp(-dt / torch.clamp(torch.exp(raw), lo, hi))
        a_d, a_s, rho = alpha(p["tauD"]), alpha(p["tauS"]), alpha(p["tauA"])
        c_d, c_s, c_r = 1 - a_d, 1 - a_s, 1 - rho
        theta = torch.nn.functional.softplus(p["theta"])
        beta = torch.nn.functional.softplus(p["beta"])
        drive = (x @ p["wIn"] + p["b"]).reshape(T, B, n_rec)
        d = u = a = s = torch.zeros(B, n_rec)
        thr = theta
        sum_u2 = 0.0
        sum_s = 0.0
        us = []
        for t in range(T):
            d = a_d * d + c_d * (drive[t] + s @ p["wRec"])
            u_new = a_s * u + c_s * d - thr * s
            a = rho * a + c_r * s
            thr = theta + beta * a
            u = u_new
            s = Spike.apply(u - thr, theta)
            us.append(u)
            sum_s = sum_s + s.detach().sum()
        u_all = torch.stack(us)
        y = u_all @ p["wOut"] + p["bOut"]
        task = (mask * (y - target) ** 2).sum() / (total * n_out)
        mean_u2 = (u_all * u_all).mean()
        homeo = loss_c["lambdaH"] * (mean_u2 - sigma_h).abs() if sigma_h is not None else 0.0
        l2 = (
            loss_c["lambdaIn"] * (p["wIn"] ** 2).mean()
            + loss_c["lambdaRec"] * (p["wRec"] ** 2).mean()
            + loss_c["lambdaOut"] * (p["wOut"] ** 2).mean()
        )
        loss = task + homeo + l2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if opt_c["clipNorm"] > 0:
            torch.nn.utils.clip_grad_norm_(trainable, opt_c["clipNorm"])
        opt.step()
        return float(loss), float(sum_s) / (T * B * n_rec)

    loss0, rate0 = iteration()
    for _ in range(header.get("warmup", 3) - 1):
        iteration()
    ready = {"ready": True, "loss0": loss0, "rate0": rate0, "threads": torch.get_num_threads(), "version": torch.__version__}
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "run":
            ms = []
            loss = rate = 0.0
            for _ in range(int(cmd[1])):
                t0 = time.perf_counter()
                loss, rate = iteration()
                ms.append((time.perf_counter() - t0) * 1e3)
            print(json.dumps({"ms": ms, "loss": loss, "rate": rate}), flush=True)
        elif cmd[0] == "quit":
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(json.dumps({"maxRssMiB": rss}), flush=True)
            return


if __name__ == "__main__":
    main()
