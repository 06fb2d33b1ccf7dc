"""Peers for the inverse-classification bench: cvxpy (Clarabel) and SciPy's SLSQP on the problems Sonde solves.

    python inverse_peers.py IN.json OUT.json

IN.json: {"sets": [{"name", "d", "k", "w": [k*d, row-major], "b": [k], "solvers": ["clarabel", "slsqp"],
          "problems": [{"x0": [d], "target", "margin"?, "probability"?, "lower"?: [d], "upper"?: [d]}]}]}
(±Infinity bounds as null). OUT.json: per set and solver, per problem: status, seconds (the whole solve call:
what a user waits for, cvxpy's compilation included), solver_seconds (the solver's own time where it reports
one) and x. Each solver does one untimed warm-up solve per set (imports, caches).
"""
import json
import sys
import time

import numpy as np


def margin_rows(w, b, t, margin):
    """A x + c >= 0 for the margin problem of target t: rows w_t - w_j, c = b_t - b_j - margin."""
    others = [j for j in range(w.shape[0]) if j != t]
    return w[t] - w[others], b[t] - b[others] - margin


def bounds_of(p, d):
    lo = np.array([-np.inf if v is None else v for v in p["lower"]]) if p.get("lower") is not None else np.full(d, -np.inf)
    hi = np.array([np.inf if v is None else v for v in p["upper"]]) if p.get("upper") is not None else np.full(d, np.inf)
    return lo, hi


def clarabel_solve(w, b, p, tight=False):
    import cvxpy as cp

    d = w.shape[1]
    x0 = np.array(p["x0"])
    t = p["target"]
    lo, hi = bounds_of(p, d)
    x = cp.Variable(d)
    cons = []
    if "probability" in p:
        z = w @ x + b
        cons.append(cp.log_sum_exp(z) - z[t] <= -np.log(p["probability"]))
    else:
        a, c = margin_rows(w, b, t, p["margin"])
        cons.append(a @ x + c >= 0)
    fin_lo = np.isfinite(lo)
    fin_hi = np.isfinite(hi)
    if fin_lo.any():
        cons.append(x[np.where(fin_lo)[0]] >= lo[fin_lo])
    if fin_hi.any():
        cons.append(x[np.where(fin_hi)[0]] <= hi[fin_hi])
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(x - x0)), cons)
    t0 = time.perf_counter()
    try:
        if tight:
            prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, tol_ktratio=1e-10)
        else:
            prob.solve(solver=cp.CLARABEL)
    except cp.error.SolverError as e:  # noqa: F841
        return {"status": "solver_error", "seconds": time.perf_counter() - t0}
    secs = time.perf_counter() - t0
    out = {"status": prob.status, "seconds": secs, "solver_seconds": prob.solver_stats.solve_time}
    if x.value is not None:
        out["x"] = x.value.tolist()
    return out


def slsqp_solve(w, b, p):
    from scipy.optimize import minimize

    d = w.shape[1]
    x0 = np.array(p["x0"])
    t = p["target"]
    lo, hi = bounds_of(p, d)
    a, c = margin_rows(w, b, t, p["margin"])
    bounds = [(None if not np.isfinite(l) else l, None if not np.isfinite(h) else h) for l, h in zip(lo, hi)]
    start = np.clip(x0, lo, hi)
    t0 = time.perf_counter()
    r = minimize(
        lambda x: 0.5 * np.dot(x - x0, x - x0),
        start,
        jac=lambda x: x - x0,
        method="SLSQP",
        bounds=bounds,
        constraints=[{"type": "ineq", "fun": lambda x: a @ x + c, "jac": lambda x: a}],
        options={"maxiter": 1000, "ftol": 1e-15},
    )
    secs = time.perf_counter() - t0
    return {"status": "optimal" if r.success else f"failed: {r.message}", "seconds": secs, "x": r.x.tolist()}


SOLVERS = {"clarabel": clarabel_solve, "clarabel_tight": lambda w, b, p: clarabel_solve(w, b, p, tight=True), "slsqp": slsqp_solve}


def main():
    spec = json.load(open(sys.argv[1]))
    out = {"sets": []}
    for s in spec["sets"]:
        w = np.array(s["w"], dtype=np.float64).reshape(s["k"], s["d"])
        b = np.array(s["b"], dtype=np.float64)
        res = {"name": s["name"], "results": {}}
        for name in s["solvers"]:
            solve = SOLVERS[name]
            if s["problems"] and s.get("warmup", True):
                solve(w, b, s["problems"][0])
            res["results"][name] = [solve(w, b, p) for p in s["problems"]]
            if s.get("warmup", True):
                print(f"    python peer {name}: {s['name']} done ({len(s['problems'])} problems)", file=sys.stderr, flush=True)
        out["sets"].append(res)
    json.dump(out, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
