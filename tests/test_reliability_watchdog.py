"""Dead-rank detection (train/watchdog.py) in one process: the heartbeat over a real TCPStore,
and the launcher's failure turned into one message."""
from __future__ import annotations

import socket
import time
from datetime import timedelta
from types import SimpleNamespace

import torch.distributed as dist

from decomptune.train.watchdog import EXIT_PEER_DEAD, Heartbeat, describe_failure, peer_lost


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def watched_pair(monkeypatch, timeout: float):
    port = free_port()
    master = dist.TCPStore("127.0.0.1", port, is_master=True, timeout=timedelta(seconds=10))
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(port))
    seen = []
    beats = [Heartbeat(rank, 2, timeout, interval=0.1) for rank in (0, 1)]
    beats[0]._give_up = lambda peer, store: (seen.append((peer, store.get(f"who/{peer}").decode())),
                                             beats[0]._stop.set())
    for beat in beats:
        beat._thread.start()
    return master, beats, seen


def wait_for(condition, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not condition():
        time.sleep(0.05)
    return condition()


def test_a_silent_rank_is_named_after_the_timeout(monkeypatch):
    _master, beats, seen = watched_pair(monkeypatch, timeout=1.0)
    time.sleep(0.5)
    assert not seen, "both ranks beat: nobody is declared dead"
    frozen_at = time.monotonic()
    beats[1]._stop.set()  # rank 1 goes silent without saying it finished (frozen, or its node died)
    assert wait_for(lambda: seen, 5.0), "the silent rank was never reported"
    assert 0.9 < time.monotonic() - frozen_at < 3.0
    peer, who = seen[0]
    assert peer == 1 and socket.gethostname() in who and "pid" in who


def test_a_rank_that_finished_is_not_reported(monkeypatch):
    _master, beats, seen = watched_pair(monkeypatch, timeout=1.0)
    time.sleep(0.5)
    beats[1].stop()  # finished: marks itself done
    time.sleep(2.0)
    assert not seen
    beats[0].stop()


def failure(pid: int, exitcode: int, signal: str):
    return SimpleNamespace(pid=pid, exitcode=exitcode, signal_name=lambda: signal)


def test_the_launcher_verdict_names_the_rank_that_died_not_those_stopped_after_it():
    killed = describe_failure(SimpleNamespace(failures={0: failure(10, -15, "SIGTERM"),
                                                        1: failure(11, -9, "SIGKILL")}))
    assert killed.startswith("training failed: rank 1 (pid 11) was killed by SIGKILL; rank(s) 0 stopped after it")
    assert "--resume auto" in killed
    frozen = describe_failure(SimpleNamespace(failures={0: failure(10, EXIT_PEER_DEAD, "<N/A>"),
                                                        1: failure(11, -9, "SIGKILL")}))
    assert "rank 1 (pid 11) was killed by SIGKILL" in frozen and "rank(s) 0 found it unresponsive" in frozen
    errored = describe_failure(SimpleNamespace(failures={1: failure(11, 2, "<N/A>")}))
    assert "rank 1 (pid 11) exited with status 2 (its error is above)" in errored


def test_gloo_peer_loss_is_recognised():
    assert peer_lost(RuntimeError("[gloo/transport/tcp/pair.cc:553] Connection closed by peer [127.0.0.1]:36023"))
    assert peer_lost(RuntimeError("Read error [127.0.0.1]:46793: Connection reset by peer"))
    assert not peer_lost(RuntimeError("shape mismatch"))


def test_each_rank_watches_two_neighbours_so_every_rank_is_watched_twice():
    for world in (2, 3, 8):
        watchers = {r: Heartbeat(r, world, 10).peers for r in range(world)}
        for rank in range(world):
            assert rank not in watchers[rank]
            watched_by = sum(rank in peers for peers in watchers.values())
            assert watched_by == min(2, world - 1)
