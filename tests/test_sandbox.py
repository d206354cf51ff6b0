"""Hostile programs: each is stopped or contained, reported as failed with the reason, and
nothing outside the sandbox changes. Limits are small so the suite stays fast."""
from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from decomptune.eval import sandbox
from decomptune.eval.sandbox import Limits, run_sandboxed

REPO = Path(__file__).resolve().parents[1]
SMALL = Limits(wall_s=4, cpu_s=2, memory_bytes=256 << 20, file_bytes=1 << 20, nproc=8, tmpfs_bytes=8 << 20)


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path, monkeypatch):
    """Sandbox temp dirs go under tmp_path/tmproot, so we can check they are all removed."""
    root = tmp_path / "tmproot"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    yield root
    assert list(root.iterdir()) == [], "sandbox left temporary files behind"


def build(tmp_path: Path, source: str, name: str = "prog") -> Path:
    (tmp_path / f"{name}.c").write_text(source)
    exe = tmp_path / name
    # Compiling is safe; only running happens in the sandbox.
    subprocess.run(["gcc", "-O0", "-o", str(exe), str(tmp_path / f"{name}.c")], check=True)
    return exe


def processes_running(exe: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "exe") == str(exe):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_namespaces_are_available_here():
    # This machine allows them; the tests below then check real isolation, not the fallback.
    assert sandbox.namespaces_available()


def test_passing_program_and_exit_code(tmp_path):
    ok = run_sandboxed(build(tmp_path, "int main(){return 0;}", "ok"), SMALL)
    bad = run_sandboxed(build(tmp_path, "#include <stdio.h>\nint main(){fputs(\"boom\\n\", stderr); return 3;}",
                              "bad"), SMALL)
    assert ok.passed and ok.reason == "ok"
    assert not bad.passed and bad.reason == "exit code 3: boom"


def test_abort_is_reported_as_sigabrt(tmp_path):
    result = run_sandboxed(build(tmp_path, "#include <assert.h>\nint main(){assert(1 == 2); return 0;}"), SMALL)
    assert not result.passed
    assert result.reason.startswith("killed by SIGABRT")
    assert "Assertion" in result.stderr


def test_infinite_loop_hits_cpu_limit(tmp_path):
    start = time.monotonic()
    result = run_sandboxed(build(tmp_path, "int main(){volatile int x=0; for(;;) x++;}"), SMALL)
    assert not result.passed
    assert "CPU-time limit" in result.reason or "wall-time limit" in result.reason
    assert time.monotonic() - start < SMALL.wall_s + 3


def test_sleeping_program_hits_wall_limit(tmp_path):
    start = time.monotonic()
    result = run_sandboxed(build(tmp_path, "#include <unistd.h>\nint main(){sleep(100); return 0;}"),
                           Limits(wall_s=1.5, cpu_s=2))
    assert not result.passed and result.reason == "wall-time limit (1.5 s) exceeded"
    assert time.monotonic() - start < 5


def test_fork_bomb_is_contained_and_leaves_no_process(tmp_path):
    # Children start new sessions (escaping a process-group kill) and multiply.
    exe = build(tmp_path, """
#include <unistd.h>
int main(){ for(;;){ if (fork() == 0) { setsid(); } } }""")
    start = time.monotonic()
    result = run_sandboxed(exe, SMALL)
    assert not result.passed
    assert time.monotonic() - start < SMALL.wall_s + 3
    time.sleep(0.2)
    assert processes_running(exe) == []


def test_process_count_limit_binds(tmp_path):
    # Root ignores RLIMIT_NPROC; the sandbox drops to an unprivileged uid so that it binds.
    exe = build(tmp_path, """
#include <unistd.h>
int main(){ int made = 0; for (int i = 0; i < 50; i++) { pid_t p = fork(); if (p == 0) { sleep(2); _exit(0); }
  if (p > 0) made++; } return made; }""")
    result = run_sandboxed(exe, SMALL)
    made = int(result.reason.removeprefix("exit code "))
    assert 1 <= made < SMALL.nproc


def test_daemonised_child_does_not_outlive_the_run(tmp_path):
    exe = build(tmp_path, """
#include <unistd.h>
int main(){ if (fork() == 0) { setsid(); sleep(60); } return 0; }""")
    result = run_sandboxed(exe, SMALL)
    assert result.passed  # the parent exited 0; its orphan must be gone anyway
    time.sleep(0.2)
    assert processes_running(exe) == []


def test_allocating_64_gib_fails(tmp_path):
    exe = build(tmp_path, """
#include <stdlib.h>
#include <string.h>
int main(){ size_t n = 64UL << 30; char *p = malloc(n); if (!p) return 4; memset(p, 1, n); return 0; }""")
    result = run_sandboxed(exe, SMALL)
    assert not result.passed and result.reason == "exit code 4"


def test_writing_10_gib_file_stops_at_file_size_limit(tmp_path):
    exe = build(tmp_path, """
#include <stdio.h>
#include <string.h>
int main(){ static char buf[1 << 20]; memset(buf, 'x', sizeof buf); FILE *f = fopen("big", "w");
  if (!f) return 5; for (int i = 0; i < 10240; i++) fwrite(buf, 1, sizeof buf, f); fclose(f); return 0; }""")
    result = run_sandboxed(exe, SMALL)
    assert not result.passed
    assert result.reason == "killed by SIGXFSZ (file-size limit exceeded)"


def test_no_network_even_to_loopback(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    exe = build(tmp_path, """
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>
int main(int argc, char **argv){ int s = socket(AF_INET, SOCK_STREAM, 0); if (s < 0) return 6;
  struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_port = htons(atoi(argv[1]));
  a.sin_addr.s_addr = htonl(0x7f000001);
  return connect(s, (struct sockaddr *)&a, sizeof a) == 0 ? 0 : 7; }""")
    try:
        result = run_sandboxed(exe, SMALL, args=[str(port)])
        assert not result.passed and result.reason in ("exit code 6", "exit code 7")
        with pytest.raises(socket.timeout):
            listener.accept()
    finally:
        listener.close()


WRITE_ANYWHERE = """
#include <stdio.h>
int main(int argc, char **argv){ int wrote = 0;
  for (int i = 1; i < argc; i++) { FILE *f = fopen(argv[i], "w"); if (f) { fputs("escaped", f); fclose(f); wrote++; } }
  return wrote ? 0 : 8; }"""


def test_cannot_write_outside_its_directory(tmp_path):
    exe = build(tmp_path, WRITE_ANYWHERE)
    # A world-writable directory inside the repo: only a read-only view stops this one.
    open_dir = Path(tempfile.mkdtemp(dir=REPO / "tests" / "fixtures" / "eval", prefix=".probe-"))
    open_dir.chmod(0o777)
    targets = [REPO / f".sandbox-escape-{uuid.uuid4().hex}", open_dir / "escape.txt",
               tmp_path / "escape.txt", Path("/var/tmp") / f"escape-{uuid.uuid4().hex}"]
    try:
        result = run_sandboxed(exe, SMALL, args=[str(t) for t in targets])
        assert not result.passed and result.reason == "exit code 8"
        assert [t for t in targets if t.exists()] == []
    finally:
        for target in targets:
            target.unlink(missing_ok=True)
        open_dir.rmdir()


def test_writes_inside_its_directory_work_and_vanish(tmp_path):
    result = run_sandboxed(build(tmp_path, WRITE_ANYWHERE), SMALL, args=["scratch.txt"])
    assert result.passed


def test_cannot_read_the_users_home(tmp_path):
    secret = Path.home() / f".decomptune-sandbox-secret-{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    secret.write_text(token)
    secret.chmod(0o644)  # readable by anyone who can reach it
    exe = build(tmp_path, """
#include <stdio.h>
int main(int argc, char **argv){ char buf[256] = {0}; FILE *f = fopen(argv[1], "r"); if (!f) return 9;
  fread(buf, 1, sizeof buf - 1, f); printf("%s\\n", buf); return 0; }""")
    try:
        result = run_sandboxed(exe, SMALL, args=[str(secret)])
    finally:
        secret.unlink()
    assert not result.passed and result.reason == "exit code 9"
    assert token not in result.stdout + result.stderr


def test_without_namespaces_it_warns_and_still_limits(tmp_path, monkeypatch, caplog):
    real_launch = sandbox._launch

    def no_namespaces(exe, limits, args, isolate):
        if isolate:
            raise sandbox.SandboxError("sandbox setup failed: unshare: Operation not permitted")
        return real_launch(exe, limits, args, isolate)

    monkeypatch.setattr(sandbox, "_launch", no_namespaces)
    assert sandbox.namespaces_available.__wrapped__() is False
    assert "WITHOUT network isolation" in caplog.text and "Operation not permitted" in caplog.text
    loop = build(tmp_path, "int main(){volatile int x=0; for(;;) x++;}", "loop")
    result = real_launch(loop, Limits(wall_s=3, cpu_s=1), [], isolate=False)
    assert not result.passed and "limit" in result.reason
    ok = real_launch(build(tmp_path, WRITE_ANYWHERE, "writer"), SMALL, ["scratch.txt"], isolate=False)
    assert ok.passed  # its own directory stays writable after the uid drop


def test_program_has_no_capabilities_to_undo_the_read_only_view(tmp_path):
    exe = build(tmp_path, """
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
int main(){ char line[256]; FILE *f = fopen("/proc/self/status", "r");
  while (fgets(line, sizeof line, f)) if (strncmp(line, "CapEff:", 7) == 0) printf("%s", line);
  return mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT, NULL) == 0 ? 0 : 10; }""")
    result = run_sandboxed(exe, SMALL)
    assert not result.passed and result.reason == "exit code 10"
    assert result.stdout.split() == ["CapEff:", "0000000000000000"]
