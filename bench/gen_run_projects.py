#!/usr/bin/env python3
"""Writes the four projects `bench/run_vs_gcl.sh` runs with sluice and gitlab-ci-local,
each job a single `echo`:

  a/  one job
  b/  50 jobs in 3 stages (17, 17, 16)
  c/  a 20-job needs DAG: 4 layers of 5 jobs, each job needing 2 jobs of the layer before
  d/  500 jobs over 5 stages (100 each)

Usage: gen_run_projects.py OUTDIR   (each project is OUTDIR/<letter>/.gitlab-ci.yml)
"""
import os
import sys


def job(name, stage, needs=None):
    s = f"{name}:\n  stage: {stage}\n"
    if needs is not None:
        s += "  needs: [" + ", ".join(needs) + "]\n"
    return s + f"  script:\n    - echo \"hello from {name}\"\n"


def staged(total, nstages):
    stages = [f"s{i + 1}" for i in range(nstages)]
    out = ["stages: [" + ", ".join(stages) + "]\n"]
    for i in range(total):
        out.append(job(f"job-{i + 1:03d}", stages[i * nstages // total]))
    return "\n".join(out)


def dag(layers=4, width=5):
    stages = [f"l{i + 1}" for i in range(layers)]
    out = ["stages: [" + ", ".join(stages) + "]\n"]
    for l in range(layers):
        for w in range(width):
            needs = None if l == 0 else [f"n{l}-{w + 1}", f"n{l}-{(w + 1) % width + 1}"]
            out.append(job(f"n{l + 1}-{w + 1}", stages[l], needs))
    return "\n".join(out)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "bench/out/run"
    projects = {"a": job("only", "test"), "b": staged(50, 3), "c": dag(), "d": staged(500, 5)}
    for name, text in projects.items():
        d = os.path.join(outdir, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, ".gitlab-ci.yml"), "w") as f:
            f.write(text)
        with open(os.path.join(d, ".gitignore"), "w") as f:
            f.write(".sluice/\n.gitlab-ci-local/\n")
        print(d)


if __name__ == "__main__":
    main()
