"""Dead ranks: a run with a dead or frozen rank stops in bounded time and says which rank.

Two cases:
- a rank process dies on this machine: torchrun notices within a second and stops the
  others; `describe_failure` turns its ChildFailedError into one message naming the rank;
- a rank dies without closing its sockets (node lost, process frozen): the others would
  wait in a gloo/NCCL collective until its timeout (--dist_timeout, 30 min by default).
  `Heartbeat` makes every rank bump a counter in the launcher's key-value store; a rank
  that sees a neighbour's counter stand still for --dead_rank_timeout seconds names it and
  exits, so the launcher stops the job.
"""
from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time

log = logging.getLogger(__name__)

EXIT_PEER_DEAD = 3  # exit status of a rank that stopped because another rank stopped responding
_PREFIX = "decomptune-heartbeat/"


class Heartbeat:
    def __init__(self, rank: int, world_size: int, timeout: float, interval: float | None = None):
        self.rank, self.world_size, self.timeout = rank, world_size, timeout
        self.interval = interval or max(0.5, min(5.0, timeout / 6))
        # Each rank watches the next two in a ring: every rank is watched twice, and the store
        # sees O(world) requests per beat instead of O(world^2).
        self.peers = sorted({(rank + i) % world_size for i in (1, 2)} - {rank})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="decomptune-heartbeat", daemon=True)

    @classmethod
    def start_from_env(cls, timeout: float) -> "Heartbeat | None":
        """Under torchrun (or any launcher that sets MASTER_ADDR/PORT), one beating thread per rank."""
        world = int(os.environ.get("WORLD_SIZE", 1))
        if world < 2 or timeout <= 0 or "MASTER_ADDR" not in os.environ:
            return None
        if os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() != "true":
            # Only torchrun's agent serves a store at MASTER_PORT before the process group
            # exists; under other launchers (deepspeed's) a client would wait there in vain.
            log.info("dead-rank heartbeat off: the launcher provides no agent store (use torchrun "
                     "or decomptune launch for it); --dist_timeout still bounds a hang")
            return None
        beat = cls(int(os.environ["RANK"]), world, timeout)
        beat._thread.start()
        return beat

    def stop(self) -> None:
        """Called when this rank finished: the others stop watching it."""
        self._stop.set()
        try:
            self._store().set(f"done/{self.rank}", "1")
        except Exception:  # the store may be gone already at shutdown
            pass

    def _store(self):
        if not hasattr(self, "_client"):
            from datetime import timedelta

            import torch.distributed as dist

            # Our own client connection: the launcher's store (torchrun's agent, or rank 0's).
            store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False,
                                  timeout=timedelta(seconds=max(30.0, self.timeout)))
            self._client = dist.PrefixStore(_PREFIX, store)
        return self._client

    def _run(self) -> None:
        try:
            store = self._store()
            store.set(f"who/{self.rank}", f"{socket.gethostname()} pid {os.getpid()}")
            last_count: dict[int, int] = {}
            last_change: dict[int, float] = {}
            while not self._stop.wait(self.interval):
                store.add(f"beat/{self.rank}", 1)
                now = time.monotonic()
                for peer in self.peers:
                    if store.check([f"done/{peer}"]) or not store.check([f"beat/{peer}"]):
                        continue  # finished, or not started yet
                    count = store.add(f"beat/{peer}", 0)
                    if count != last_count.get(peer):
                        last_count[peer], last_change[peer] = count, now
                    elif now - last_change[peer] > self.timeout:
                        self._give_up(peer, store)
        except Exception as exc:  # the store lives with the launcher: if it is gone, so is the job
            if not self._stop.is_set():
                print(f"error: rank {self.rank} lost contact with the launcher's store ({exc}); stopping",
                      file=sys.stderr, flush=True)
                os._exit(EXIT_PEER_DEAD)

    def _give_up(self, peer: int, store) -> None:
        try:
            who = store.get(f"who/{peer}").decode()
        except Exception:
            who = "unknown host"
        print(f"error: rank {peer} ({who}) has not responded for {self.timeout:.0f} s: it died or hangs. "
              f"Stopping rank {self.rank} so the job ends now instead of at the collective timeout "
              "(--dead_rank_timeout sets this wait). Rerun with --resume auto to continue from the last "
              "checkpoint.", file=sys.stderr, flush=True)
        os._exit(EXIT_PEER_DEAD)


def peer_lost(exc: BaseException) -> bool:
    """gloo's (and NCCL's) way of saying that the other end of a collective went away."""
    text = str(exc)
    return any(sign in text for sign in ("Connection closed by peer", "Connection reset by peer",
                                         "NCCL communicator was aborted", "Broken pipe"))


def describe_failure(exc) -> str:
    """One message for torchrun's ChildFailedError: which rank failed first, and how."""
    failures = exc.failures
    # Ranks the launcher stopped end with SIGTERM, ranks that lost a peer with EXIT_PEER_DEAD:
    # the cause is elsewhere, unless nothing else failed.
    secondary = {r for r, f in failures.items() if f.signal_name() == "SIGTERM" or f.exitcode == EXIT_PEER_DEAD}
    causes = sorted(set(failures) - secondary) or sorted(failures)
    parts = []
    for rank in causes:
        f = failures[rank]
        if f.exitcode < 0:
            how = f"was killed by {f.signal_name()}"
        elif f.exitcode == EXIT_PEER_DEAD:
            how = "stopped because another rank stopped responding (its message is above)"
        else:
            how = f"exited with status {f.exitcode} (its error is above)"
        parts.append(f"rank {rank} (pid {f.pid}) {how}")
    others = sorted(set(failures) - set(causes))
    watchers = [r for r in others if failures[r].exitcode == EXIT_PEER_DEAD]
    stopped = f"; rank(s) {', '.join(map(str, others))} stopped after it" if others else ""
    if watchers:
        stopped += f" (rank(s) {', '.join(map(str, watchers))} found it unresponsive or gone: see above)"
    return (f"training failed: {'; '.join(parts)}{stopped}. Completed checkpoints are kept: rerun with "
            "--resume auto to continue from the newest one")
