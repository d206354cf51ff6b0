"""`decomptune launch`: the right torchrun / deepspeed command for N nodes x G GPUs.

    decomptune launch --nodes 1 --gpus-per-node 4 --layout zero=3 -- --config configs/falcon3-7b-4gpu-zero3.yaml
    decomptune launch --nodes 2 --gpus-per-node 8 --layout tp=2,pp=2 --slurm -- --config ...
    decomptune launch --nodes 2 --gpus-per-node 8 --hostfile hosts -- --config ...
    decomptune launch --nodes 2 --gpus-per-node 8 --master-addr 10.0.0.1 --node-rank 0 -- --config ...

One node: torchrun --standalone. --hostfile: DeepSpeed's launcher, which starts every
node over ssh/pdsh. --slurm: an sbatch script in which srun starts one torchrun per node
(c10d rendezvous on the first node). Otherwise: plain torchrun on each node, this one
being --node-rank. --dry-run prints the command (or script) instead of running it.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

TRAIN_MODULE = "decomptune.train"
DEFAULT_PORT = 29500
SHELL_VARIABLES = {"$SLURM_JOB_ID", "$MASTER_ADDR:$MASTER_PORT"}


class LaunchError(ValueError):
    """A launch request that cannot work; the message says how to fix it."""


@dataclass
class LaunchRequest:
    nodes: int
    gpus_per_node: int
    train_args: list[str] = field(default_factory=list)
    layout: str | None = None
    launcher: str = "torchrun"  # or "deepspeed"
    hostfile: str | None = None
    slurm: bool = False
    master_addr: str | None = None
    master_port: int = DEFAULT_PORT
    node_rank: int | None = None
    job_name: str = "decomptune"
    partition: str | None = None
    account: str | None = None
    time: str | None = None
    cpus_per_task: int | None = None

    @property
    def world_size(self) -> int:
        return self.nodes * self.gpus_per_node


def read_hostfile(path: str) -> list[tuple[str, int]]:
    """DeepSpeed's format: `hostname slots=N` per line; # comments and blank lines allowed."""
    p = Path(path)
    if not p.is_file():
        raise LaunchError(f"hostfile {path} not found; write one line per node: `hostname slots=GPUS`")
    hosts = []
    for number, raw in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        slots = [x for x in parts[1:] if x.startswith("slots=")]
        if len(parts) != 2 or not slots or not slots[0][6:].isdigit():
            raise LaunchError(f"{path}:{number}: {raw.strip()!r} is not `hostname slots=N`")
        hosts.append((parts[0], int(slots[0][6:])))
    if not hosts:
        raise LaunchError(f"hostfile {path} lists no hosts")
    return hosts


def validate(req: LaunchRequest) -> None:
    if req.nodes < 1 or req.gpus_per_node < 1:
        raise LaunchError(f"--nodes and --gpus-per-node must be at least 1, got {req.nodes} and {req.gpus_per_node}")
    if req.hostfile and req.slurm:
        raise LaunchError("--hostfile and --slurm exclude each other: SLURM chooses the nodes itself")
    for flag in ("--nproc_per_node", "--local_rank"):
        if any(a == flag or a.startswith(flag + "=") for a in req.train_args):
            raise LaunchError(f"{flag} in the training arguments: the launcher sets it; drop it after `--`")
    if req.layout and any(a == "--layout" or a.startswith("--layout=") for a in req.train_args):
        raise LaunchError("--layout given both before and after `--`; give it once")
    if req.layout and req.layout != "auto":
        from .parallel.layout import parse_layout_overrides

        values = parse_layout_overrides(req.layout)
        shards = values.get("tp", 1) * values.get("pp", 1)
        if req.world_size % shards:
            raise LaunchError(f"layout {req.layout}: tp x pp = {shards} does not divide {req.nodes} node(s) x "
                              f"{req.gpus_per_node} GPU(s) = {req.world_size} processes")
    if req.hostfile:
        hosts = read_hostfile(req.hostfile)
        if len(hosts) < req.nodes:
            raise LaunchError(f"--nodes {req.nodes} but {req.hostfile} lists only {len(hosts)} host(s)")
        short = [h for h, slots in hosts[:req.nodes] if slots < req.gpus_per_node]
        if short:
            raise LaunchError(f"{req.hostfile}: {', '.join(short)} offer fewer than {req.gpus_per_node} slots")
        if req.launcher != "deepspeed":
            req.launcher = "deepspeed"  # only it starts processes on other hosts
    elif req.nodes > 1 and not req.slurm:
        if not req.master_addr:
            raise LaunchError(f"{req.nodes} nodes without --hostfile or --slurm: give --master-addr (the address "
                              "of node 0, reachable from every node) and run this on each node with --node-rank")
    if req.node_rank is not None and not 0 <= req.node_rank < req.nodes:
        raise LaunchError(f"--node-rank {req.node_rank} is outside 0..{req.nodes - 1}")


def worker_args(req: LaunchRequest) -> list[str]:
    return [*(["--layout", req.layout] if req.layout else []), *req.train_args]


def torchrun_command(req: LaunchRequest, node_rank: int | None = None) -> list[str]:
    if req.nodes == 1 and not req.master_addr:
        head = ["torchrun", "--standalone", "--nnodes", "1"]
    else:
        head = ["torchrun", "--nnodes", str(req.nodes), "--node_rank", str(node_rank),
                "--master_addr", req.master_addr, "--master_port", str(req.master_port)]
    return [*head, "--nproc_per_node", str(req.gpus_per_node), "-m", TRAIN_MODULE, *worker_args(req)]


def deepspeed_command(req: LaunchRequest) -> list[str]:
    cmd = ["deepspeed"]
    if req.hostfile:
        master = req.master_addr or read_hostfile(req.hostfile)[0][0]
        cmd += ["--hostfile", req.hostfile, "--num_nodes", str(req.nodes), "--master_addr", master]
    cmd += ["--num_gpus", str(req.gpus_per_node), "--master_port", str(req.master_port),
            "--module", TRAIN_MODULE, *worker_args(req)]
    return cmd


def commands(req: LaunchRequest) -> list[list[str]]:
    """One command, or (multi-node torchrun without --node-rank) one per node, in node order."""
    validate(req)
    if req.launcher == "deepspeed":
        return [deepspeed_command(req)]
    if req.launcher != "torchrun":
        raise LaunchError(f"--launcher {req.launcher!r}: use torchrun or deepspeed")
    if req.nodes == 1 and not req.master_addr:
        return [torchrun_command(req)]
    ranks = [req.node_rank] if req.node_rank is not None else list(range(req.nodes))
    return [torchrun_command(req, r) for r in ranks]


def sbatch_script(req: LaunchRequest, workdir: str | Path | None = None) -> str:
    validate(req)
    opts = [f"--job-name={req.job_name}", f"--nodes={req.nodes}", "--ntasks-per-node=1",
            f"--gpus-per-node={req.gpus_per_node}", "--output=%x-%j.out"]
    for name, value in (("partition", req.partition), ("account", req.account), ("time", req.time),
                        ("cpus-per-task", req.cpus_per_task)):
        if value:
            opts.append(f"--{name}={value}")
    launch = ["torchrun", "--nnodes", str(req.nodes), "--nproc_per_node", str(req.gpus_per_node),
              "--rdzv_id", "$SLURM_JOB_ID", "--rdzv_backend", "c10d", "--rdzv_endpoint", "$MASTER_ADDR:$MASTER_PORT",
              "-m", TRAIN_MODULE, *worker_args(req)]
    # Quote the training arguments; let the shell expand our own variables.
    quoted = " ".join(f'"{a}"' if a in SHELL_VARIABLES else shlex.quote(a) for a in launch)
    threads = max(1, (req.cpus_per_task or req.gpus_per_node) // req.gpus_per_node)
    lines = ["#!/bin/bash", *(f"#SBATCH {o}" for o in opts), "",
             "# Written by `decomptune launch --slurm`. Submit from the environment that has decomptune",
             "# installed (sbatch passes it on). srun starts one torchrun per node; torchrun starts",
             f"# {req.gpus_per_node} training processes on its node and they meet on the first node.",
             "set -euo pipefail",
             f"cd {shlex.quote(str(Path(workdir or os.getcwd()).resolve()))}",
             'MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
             f"MASTER_PORT={req.master_port}",
             "export MASTER_ADDR MASTER_PORT",
             f"export OMP_NUM_THREADS=${{OMP_NUM_THREADS:-{threads}}}",
             f"srun --kill-on-bad-exit=1 {quoted}", ""]
    return "\n".join(lines)


def executable(cmd: list[str]) -> list[str]:
    """The printed command, made runnable from this Python environment even when its bin/
    directory is not on PATH (a venv that was not activated)."""
    if cmd[0] == "torchrun":
        return [sys.executable, "-m", "torch.distributed.run", *cmd[1:]]
    if cmd[0] == "deepspeed" and not shutil.which("deepspeed"):
        return [sys.executable, "-m", "deepspeed.launcher.runner", *cmd[1:]]
    return cmd


def launch_env() -> dict:
    env = dict(os.environ)
    env.pop("LOCAL_SIZE", None)  # makes DeepSpeed's CPU communication ~20x slower
    return env


def parse(argv: list[str]) -> tuple[LaunchRequest, argparse.Namespace]:
    split = argv.index("--") if "--" in argv else len(argv)
    ours, train_args = argv[:split], argv[split + 1:]
    p = argparse.ArgumentParser(prog="decomptune launch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                usage="decomptune launch --nodes N --gpus-per-node G [options] -- <train args>")
    p.add_argument("--nodes", type=int, required=True)
    p.add_argument("--gpus-per-node", type=int, required=True, help="processes per node (CPU runs: any number)")
    p.add_argument("--layout", help="passed to `decomptune train --layout`, checked against the process count")
    p.add_argument("--launcher", choices=["torchrun", "deepspeed"], default="torchrun",
                   help="default torchrun; --hostfile implies deepspeed")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--hostfile", help="DeepSpeed hostfile (`host slots=N` lines): start every node from here")
    where.add_argument("--slurm", action="store_true", help="write an sbatch script and submit it")
    p.add_argument("--master-addr", help="node 0's address (multi-node torchrun without SLURM)")
    p.add_argument("--master-port", type=int, default=DEFAULT_PORT)
    p.add_argument("--node-rank", type=int, help="this node's rank (multi-node torchrun without SLURM)")
    p.add_argument("--dry-run", action="store_true", help="print the command(s) or script; run nothing")
    slurm = p.add_argument_group("SLURM")
    slurm.add_argument("--sbatch-file", default="decomptune.sbatch", help="where the script is written")
    slurm.add_argument("--job-name", default="decomptune")
    slurm.add_argument("--partition")
    slurm.add_argument("--account")
    slurm.add_argument("--time", help="e.g. 24:00:00")
    slurm.add_argument("--cpus-per-task", type=int)
    ns = p.parse_args(ours)
    req = LaunchRequest(ns.nodes, ns.gpus_per_node, train_args, ns.layout, ns.launcher, ns.hostfile, ns.slurm,
                        ns.master_addr, ns.master_port, ns.node_rank, ns.job_name, ns.partition, ns.account,
                        ns.time, ns.cpus_per_task)
    return req, ns


def run(req: LaunchRequest, ns: argparse.Namespace) -> int:
    if req.slurm:
        script = Path(ns.sbatch_file)
        script.write_text(sbatch_script(req), encoding="utf-8")
        script.chmod(0o755)
        print(f"# wrote {script}\n{script.read_text(encoding='utf-8')}")
        if ns.dry_run:
            print(f"# submit with: sbatch {shlex.quote(str(script))}")
            return 0
        if not shutil.which("sbatch"):
            raise LaunchError("sbatch not found: run this on a SLURM login node, or use --dry-run and submit later")
        return subprocess.call(["sbatch", str(script)])
    cmds = commands(req)
    if ns.dry_run or len(cmds) > 1:
        for rank, cmd in enumerate(cmds):
            prefix = f"# node {rank}:\n" if len(cmds) > 1 else ""
            print(prefix + shlex.join(cmd))
        if len(cmds) > 1 and not ns.dry_run:
            print("# run each line on its node, or pass --node-rank to run this node's", file=sys.stderr)
            return 2
        return 0
    print("+ " + shlex.join(cmds[0]), flush=True)
    return subprocess.call(executable(cmds[0]), env=launch_env())


def main(argv: list[str] | None = None) -> int:
    from .errors import report_user_error
    from .parallel.layout import LayoutError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        req, ns = parse(argv)
        return run(req, ns)
    except (LaunchError, LayoutError) as exc:
        return report_user_error(exc, "--debug" in argv)


if __name__ == "__main__":
    sys.exit(main())
