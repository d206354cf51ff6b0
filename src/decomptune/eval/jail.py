"""The sandbox launcher: run as its own interpreter (`python -I -S jail.py SPEC_JSON`) so that
it imports nothing but the standard library and shares no state with the harness.

Process tree, each step for a reason:
  launcher (outside)  unshare(net, pid, mount, ipc, uts [+user when not root]); waits.
    └ reaper (PID 1 of the new PID namespace): remounts everything read-only, mounts an
      empty size-capped tmpfs as the working directory and hides /tmp, /var/tmp, /dev/shm
      and $HOME behind empty read-only tmpfs. When it exits the kernel kills every process
      left in the namespace, so a fork bomb or a daemonised child cannot outlive the run.
      └ program: rlimits, unprivileged uid (when launched as root), no_new_privs, exec.
The program is not PID 1 itself because PID 1 ignores its own default-action signals
(abort() would then surface as a SIGSEGV instead of SIGABRT).

The reaper writes the program's fate ("exit N" / "signal N" / "setup ERROR") to the status
file, which the harness reads: exit codes alone cannot tell a signal from a program's exit.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
SETUP_FAILED = 125
_VIRTUAL_FS = {"proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "debugfs", "tracefs", "securityfs",
               "pstore", "bpf", "fusectl", "configfs", "binfmt_misc", "autofs", "efivarfs", "hugetlbfs"}  # launcher exit code when the sandbox itself could not be built

_libc = ctypes.CDLL(None, use_errno=True)
# Mount flags that a bind-remount must repeat: inside a user namespace they are locked.
_KEPT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC,
               "noatime": MS_NOATIME, "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def _mount_points() -> list[tuple[str, str, int]]:
    """(mount point, file-system type, flags to keep) from mountinfo."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            flags = sum(_KEPT_FLAGS.get(opt, 0) for opt in fields[5].split(","))
            points.append((fields[4].replace("\\040", " "), fstype, flags))
    return points


def _build_filesystem(spec: dict) -> None:
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    for point, fstype, flags in _mount_points():
        try:  # read-only everywhere
            _mount(None, point, None, MS_BIND | MS_REMOUNT | MS_RDONLY | flags)
        except OSError:
            if fstype not in _VIRTUAL_FS:  # kernel views may refuse; real storage must not
                raise
    owner = f"uid={spec['uid']},gid={spec['uid']}" if spec["uid"] is not None else "uid=0,gid=0"
    _mount("sandbox", spec["workdir"], "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={spec['tmpfs_bytes']},nr_inodes=1024,mode=0700,{owner}")
    os.chdir(spec["workdir"])  # the cwd keeps pointing here once /tmp is covered below
    for hidden in spec["hide"]:
        if os.path.isdir(hidden):
            _mount("hidden", hidden, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
    try:  # a /proc of this namespace: the host's processes become invisible
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        pass  # refused in some containers (masked /proc); the PID namespace still contains


def _enter_program(spec: dict, exe_fd: int) -> None:
    # Python ignores these at startup and exec keeps ignored signals: give the program
    # the defaults a shell would (SIGXFSZ must kill a program that exceeds RLIMIT_FSIZE).
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    limits = [(resource.RLIMIT_CPU, spec["cpu_s"]), (resource.RLIMIT_AS, spec["memory_bytes"]),
              (resource.RLIMIT_FSIZE, spec["file_bytes"]), (resource.RLIMIT_NPROC, spec["nproc"]),
              (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NOFILE, 64)]
    for which, value in limits:
        resource.setrlimit(which, (value, value))
    # An empty capability bounding set: even as (namespace) root, the exec'd program gets
    # no capabilities, so it cannot undo the read-only mounts or the hidden directories.
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
            _check(-1, f"drop capability {cap}")
    if spec["uid"] is not None:  # root: RLIMIT_NPROC binds only once we are someone else
        os.setgroups([])
        os.setgid(spec["uid"])
        os.setuid(spec["uid"])
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")  # setuid cleared it
    os.execve(exe_fd, [spec["argv0"], *spec["args"]], spec["env"])


def _reaper(spec: dict, status_fd: int, exe_fd: int) -> int:
    program = os.fork()
    if program == 0:
        try:
            _enter_program(spec, exe_fd)
        except BaseException as exc:  # noqa: BLE001 - report anything, never return into the reaper
            os.write(2, f"decomptune-sandbox: cannot start program: {exc}\n".encode())
        os._exit(SETUP_FAILED)
    while True:  # PID 1 must reap orphans too; stop when our program is done
        pid, status = os.wait()
        if pid == program:
            break
    fate = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"
    os.write(status_fd, fate.encode())
    return 0


def main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    # As root, the program runs as a uid of its own (unique among live runs: our pid), so
    # RLIMIT_NPROC binds and a fork bomb in one run cannot starve another run's forks.
    spec["uid"] = 1_000_000 + os.getpid() if os.geteuid() == 0 and spec["drop_root"] else None
    status_fd = os.open(spec["status_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    exe_fd = os.open(spec["exe"], os.O_RDONLY | os.O_CLOEXEC)
    try:
        if spec["isolate"]:
            rootless = os.geteuid() != 0
            flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
            outer_uid, outer_gid = os.geteuid(), os.getegid()
            _check(_libc.unshare(flags | (CLONE_NEWUSER if rootless else 0)), "unshare")
            if rootless:  # become root of our own user namespace; only our uid is mapped
                for name, text in (("setgroups", "deny"), ("uid_map", f"0 {outer_uid} 1"),
                                   ("gid_map", f"0 {outer_gid} 1")):
                    with open(f"/proc/self/{name}", "w") as f:
                        f.write(text)
    except OSError as exc:
        os.write(status_fd, f"setup {exc}".encode())
        return SETUP_FAILED
    reaper = os.fork()
    if reaper == 0:
        try:
            _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
            if spec["isolate"]:
                _build_filesystem(spec)
            else:  # degraded mode: a plain directory, still private to the program's uid
                if spec["uid"] is not None:
                    os.chown(spec["workdir"], spec["uid"], spec["uid"])
                os.chdir(spec["workdir"])
            code = _reaper(spec, status_fd, exe_fd)
        except BaseException as exc:  # noqa: BLE001
            os.write(status_fd, f"setup {exc}".encode())
            code = SETUP_FAILED
        os._exit(code)
    _, status = os.waitpid(reaper, 0)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else SETUP_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
