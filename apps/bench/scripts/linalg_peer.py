"""numpy/scipy peer for the bench's linalg suite: one process, JSON commands on stdin, one JSON answer per line.

Run by apps/bench/src/suites/linalg.ts inside the venv of scripts/python-peers.sh, with OPENBLAS_NUM_THREADS=1
(one thread, as the suite compares against one core of OpenBLAS). Matrices arrive as raw little-endian float64
files written by the suite. Each timed command returns {"ms": ..., "check": ...}; "check" is a number the suite
compares with its own result (a log-determinant, a trace), so both sides provably worked on the same data.
"""
import json
import sys
import time

import numpy as np
import scipy
import scipy.linalg as sl

state = {}


def timed(f):
    t = time.perf_counter()
    out = f()
    return (time.perf_counter() - t) * 1000.0, out


def softmax_hessian(xt, mu, l2):
    """The softmax regression Hessian (1/n) sum_i (diag mu_i - mu_i mu_i^T) kron xt_i xt_i^T + l2 I, parameters
    [W row-major (K x d), b (K)]: one GEMM per pair of classes c1 >= c2 (the lower blocks), written in place."""
    n, e = xt.shape
    d = e - 1
    k = mu.shape[1]
    p = k * e
    h = np.zeros((p, p))
    w_idx = lambda c: np.r_[c * d:(c + 1) * d, k * d + c]
    for c1 in range(k):
        for c2 in range(c1 + 1):
            w = mu[:, c1] * ((1.0 if c1 == c2 else 0.0) - mu[:, c2]) / n
            g = xt.T @ (xt * w[:, None])
            h[np.ix_(w_idx(c1), w_idx(c2))] = g
            if c1 != c2:
                h[np.ix_(w_idx(c2), w_idx(c1))] = g.T
    h[np.diag_indices(p)] += l2
    return h


def handle(cmd):
    op = cmd["op"]
    if op == "versions":
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        return {"numpy": np.__version__, "scipy": scipy.__version__, "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip()}
    if op == "load":
        n, e, k = cmd["n"], cmd["e"], cmd["k"]
        state["xt"] = np.fromfile(cmd["x"], dtype="<f8").reshape(n, e)
        state["mu"] = np.fromfile(cmd["mu"], dtype="<f8").reshape(n, k)
        return {"ok": True}
    if op == "hessian":
        ms, h = timed(lambda: softmax_hessian(state["xt"], state["mu"], cmd["l2"]))
        state["h"] = h
        return {"ms": ms, "check": float(np.trace(h))}
    if op == "cholesky":
        h = state["h"]
        ms, (c, lower) = timed(lambda: sl.cho_factor(h, lower=True, overwrite_a=False, check_finite=False))
        state["c"] = c
        return {"ms": ms, "check": float(2.0 * np.sum(np.log(np.diag(c))))}
    if op == "solve":
        b = np.fromfile(cmd["b"], dtype="<f8")
        ms, x = timed(lambda: sl.cho_solve((state["c"], True), b, check_finite=False))
        return {"ms": ms, "check": float(np.sum(x))}
    if op == "lu":
        n = cmd["n"]
        a = np.fromfile(cmd["a"], dtype="<f8").reshape(n, n)
        ms, (lu, piv) = timed(lambda: sl.lu_factor(a, check_finite=False))
        return {"ms": ms, "check": float(np.sum(np.log(np.abs(np.diag(lu)))))}
    if op == "free":
        state.clear()
        return {"ok": True}
    raise ValueError(f"unknown op {op}")


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    try:
        out = handle(json.loads(line))
    except Exception as e:  # the suite reports the peer's failure and goes on
        out = {"error": f"{type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
