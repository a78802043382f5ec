"""The job's graph without running it: `python -m tests.job_graph key=value …` prints the
name of every vertex of the JobGraph the job builds under those config overrides (one
JSON list), which is what Flink runs as one task, on one thread, each;
`python -m tests.job_graph --plan key=value …` prints the operators of its execution plan
instead (id, contents, predecessor ids), where the planner's `Calc` and `PythonCalc`
nodes show what each evaluates."""

from __future__ import annotations

import json
import subprocess
import sys

from pipeline.config import PROJECT_ROOT


def vertex_names(overrides: dict[str, str]) -> list[str]:
    """The job graph's vertex names, built in a fresh process (the JVM keeps its config)."""
    return _child([f"{k}={v}" for k, v in overrides.items()])


def plan_operators(overrides: dict[str, str]) -> list[dict]:
    """The execution plan's operators: {"id", "contents", "inputs": [ids]} each."""
    return _child(["--plan", *(f"{k}={v}" for k, v in overrides.items())])


def _child(args: list[str]):
    proc = subprocess.run(
        [sys.executable, "-m", "tests.job_graph", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    from pipeline.config import load_config
    from pipeline.run import build_job
    from pipeline.sinks import lake_layout

    plan = argv[:1] == ["--plan"]
    cfg = load_config(dict(arg.split("=", 1) for arg in argv[plan:]))
    env = build_job(cfg, lake_layout(cfg))
    if plan:
        nodes = json.loads(env.get_execution_plan())["nodes"]
        operators = [
            {
                "id": n["id"],
                "contents": n["contents"],
                "inputs": [p["id"] for p in n.get("predecessors", [])],
            }
            for n in nodes
        ]
        print(json.dumps(operators))
        return
    vertices = env._j_stream_execution_environment.getStreamGraph(False).getJobGraph()
    names, it = [], vertices.getVertices().iterator()
    while it.hasNext():
        names.append(it.next().getName())
    print(json.dumps(names))


if __name__ == "__main__":
    main(sys.argv[1:])
