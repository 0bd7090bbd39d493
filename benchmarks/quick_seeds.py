"""Every experiment's quick preset on several seeds: how often each claim passes (issue 17).

The rule is that presets are chosen on at least 5 seeds: a quick preset's claims should hold (or
be shown as *not checked* / *not reproduced*) whatever the seed, not only at the seed the report
uses. This script runs ``kexue reproduce NAME --quick --seed S`` for every experiment and seed
(in this process or ``--jobs`` worker processes, one torch thread each), and writes

* ``--json``: one record per (experiment, seed): status, wall and CPU seconds, and each claim's
  verdict (``pass``, ``fail``, ``not checked``, ``not reproduced``) with its obtained text;
* ``--markdown``: per experiment, a table of claims × seeds and each claim's count of seeds on
  which it was decided as the default seed decides it.

Run: ``python benchmarks/quick_seeds.py --seeds 0 1 2 3 4 --jobs 2 --json OUT.json
--markdown OUT.md [--only NAME ...]`` (about five times ``make run`` in CPU time).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def _one(name: str, seed: int) -> dict:
    import torch

    from kexue.experiments import get, resolve_config, run_experiment

    torch.set_num_threads(1)
    spec = get(name)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = run_experiment(spec, resolve_config(spec, quick=True, seed=seed), quick=True)
    data = result.to_dict()
    return {"experiment": name, "seed": seed, "status": data["status"], "error": data["error"],
            "wall_s": round(time.perf_counter() - wall0, 1),
            "cpu_s": round(time.process_time() - cpu0, 1),
            "claims": [{"statement": c["statement"], "verdict": c["verdict"],
                        "obtained": c["obtained_text"], "expected": c["expected_text"]}
                       for c in data["claims"]]}


def _markdown(records: list[dict], seeds: list[int]) -> str:
    out = []
    names = list(dict.fromkeys(r["experiment"] for r in records))
    short = {"pass": "✓", "fail": "✗", "not checked": "–", "not reproduced": "nr"}
    for name in names:
        runs = {r["seed"]: r for r in records if r["experiment"] == name}
        cpu = ", ".join(f"{runs[s]['cpu_s']:.0f}" for s in seeds if s in runs)
        out.append(f"### {name}\n\nCPU s per seed: {cpu}\n")
        failed = [f"seed {s}: {runs[s]['error']}" for s in seeds
                  if s in runs and runs[s]["status"] != "ok"]
        out += [f"- run failed, {f}" for f in failed]
        n = max((len(r["claims"]) for r in runs.values()), default=0)
        out.append("| claim | " + " | ".join(f"seed {s}" for s in seeds) + " | as seed "
                   f"{seeds[0]} |")
        out.append("|---|" + "---|" * (len(seeds) + 1))
        for i in range(n):
            first = next(r["claims"][i] for r in runs.values() if i < len(r["claims"]))
            cells, same = [], 0
            ref = runs.get(seeds[0], {}).get("claims", [])
            ref_v = ref[i]["verdict"] if i < len(ref) else None
            for s in seeds:
                cl = runs[s]["claims"] if s in runs else []
                v = cl[i]["verdict"] if i < len(cl) else None
                cells.append(short.get(v, "—") if v else "—")
                same += v is not None and v == ref_v
            text = first["statement"].replace("|", "/")
            text = text if len(text) <= 90 else text[:87] + "…"
            out.append(f"| {text} | " + " | ".join(cells) + f" | {same}/{len(seeds)} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--only", nargs="*", default=None, help="experiment names (default: all)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--markdown", type=Path, default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from kexue.experiments import registry

    names = args.only or list(registry())
    unknown = sorted(set(names) - set(registry()))
    if unknown:
        ap.error(f"unknown experiments: {', '.join(unknown)}; valid: {', '.join(registry())}")
    tasks = [(n, s) for n in names for s in args.seeds]
    records: list[dict] = []
    done = {}
    if args.json and args.json.exists():  # resume: keep finished (experiment, seed) pairs
        for r in json.loads(args.json.read_text())["runs"]:
            done[(r["experiment"], r["seed"])] = r
    todo = [t for t in tasks if t not in done]
    records = [done[t] for t in tasks if t in done]

    def save() -> None:
        if args.json:
            order = {t: i for i, t in enumerate(tasks)}
            records.sort(key=lambda r: order[(r["experiment"], r["seed"])])
            args.json.write_text(json.dumps({"seeds": args.seeds, "runs": records}, indent=1,
                                            ensure_ascii=False))

    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(_one, n, s): (n, s) for n, s in todo}
        for fut in futures:
            n, s = futures[fut]
            rec = fut.result()
            records.append(rec)
            verdicts = " ".join(c["verdict"].replace(" ", "-") for c in rec["claims"])
            print(f"{n} seed {s}: {rec['status']} {rec['cpu_s']:.0f} CPU s: {verdicts}",
                  flush=True)
            save()
    save()
    if args.markdown:
        args.markdown.write_text(_markdown(records, args.seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
