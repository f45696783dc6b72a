#!/usr/bin/python3
# Runs one command as an unprivileged caller on a pty, inside the private mount namespace it is started in
# (`unshare --mount --propagation private python3 setuid_session.py SPEC.json`, as root), and reports as JSON:
#   - optionally lists a tracer in a namespace-only /etc/ld.so.preload (an overlay on /etc);
#   - binds the test's private files over system paths (/etc/pam.d, /etc/passwd, /etc/sudoers, ...);
#   - gives the namespace a /dev of its own with a syslog socket at /dev/log, so the module's pam_syslog lines
#     (and su's and sudo's) come back as data; nothing is created in the machine's /dev;
#   - forks on a pty, drops to the caller with setpriv (uid, gid, no supplementary groups), clears the
#     environment down to the spec's variables, sets the spec's umask and execs the command (su, sudo, ...);
#   - answers every password prompt with the spec's password and collects the terminal output until exit.
# Only the standard library: it runs with the system python3 in CI.
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time

PROMPT = re.compile(rb"(?:[Pp]assword|Passwort)[^\n]*: ?$")


def sh(*argv):
    subprocess.run(argv, check=True)


def private_dev(scratch):
    """A /dev with the few nodes su/sudo need (bound from the machine's /dev, so a nodev /tmp does not matter),
    the machine's devpts (ptmx is its pts/ptmx: a bound /dev/ptmx would find no devpts beside it), and room for
    our /dev/log."""
    dev = os.path.join(scratch, "dev")
    os.makedirs(dev, exist_ok=True)
    for name in ["null", "zero", "full", "random", "urandom", "tty"]:
        open(os.path.join(dev, name), "w").close()
        sh("mount", "--bind", f"/dev/{name}", os.path.join(dev, name))
    for name, target in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx")]:
        os.symlink(target, os.path.join(dev, name))
    os.makedirs(os.path.join(dev, "pts"))
    os.makedirs(os.path.join(dev, "shm"))
    os.chmod(os.path.join(dev, "shm"), 0o1777)
    os.chmod(dev, 0o755)
    sh("mount", "--bind", "/dev/pts", os.path.join(dev, "pts"))
    sh("mount", "--rbind", dev, "/dev")


def syslog_socket():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.lexists("/dev/log"):
        os.unlink("/dev/log")
    s.bind("/dev/log")
    os.chmod("/dev/log", 0o666)
    s.setblocking(False)
    return s


def drain(s, lines):
    while True:
        try:
            data = s.recv(65536)
        except BlockingIOError:
            return
        lines.append(data.decode("utf-8", "replace"))


def main():
    spec = json.load(open(sys.argv[1]))
    if spec.get("preload"):
        # /etc/ld.so.preload for this namespace only (ld.so honours it in setuid programs, unlike LD_PRELOAD):
        # an overlay on /etc whose upper layer holds it; the binds below land on top of the overlay.
        upper, work = os.path.join(spec["scratch"], "etc-upper"), os.path.join(spec["scratch"], "etc-work")
        os.makedirs(upper)
        os.makedirs(work)
        with open(os.path.join(upper, "ld.so.preload"), "w") as f:
            f.write(spec["preload"] + "\n")
        sh("mount", "-t", "overlay", "overlay", "-o", f"lowerdir=/etc,upperdir={upper},workdir={work}", "/etc")
    for source, target in spec.get("binds", []):
        sh("mount", "--bind", source, target)
    private_dev(spec["scratch"])
    log = syslog_socket()

    env = [f"{k}={v}" for k, v in spec.get("env", {}).items()]
    command = ["setpriv", f"--reuid={spec['uid']}", f"--regid={spec['gid']}", "--clear-groups", "--",
               "/usr/bin/env", "-i", *env, "/bin/sh", "-c", f"umask {spec.get('umask', '022')} && cd / && exec \"$@\"",
               "sh", *spec["argv"]]
    password = spec.get("password")
    deadline = time.monotonic() + spec.get("timeoutSec", 30)

    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)

    transcript = b""
    pending = b""
    prompts = 0
    syslog = []
    status = None
    timed_out = False
    while True:
        drain(log, syslog)
        if time.monotonic() > deadline:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the last process holding the terminal is gone
                data = b""
            if data:
                transcript += data
                pending += data
                if PROMPT.search(pending) and password is not None:
                    prompts += 1
                    pending = b""
                    time.sleep(0.05)  # su/sudo switch echo off just after printing the prompt
                    os.write(master, password.encode("utf-8") + b"\n")
                continue
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            # whatever is still buffered on the terminal
            while select.select([master], [], [], 0.05)[0]:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    break
                if not data:
                    break
                transcript += data
            break
    time.sleep(0.05)
    drain(log, syslog)
    result = {
        "exitCode": os.waitstatus_to_exitcode(status) if status is not None else None,
        "timedOut": timed_out,
        "prompts": prompts,
        "transcript": transcript.decode("utf-8", "replace"),
        "syslog": syslog,
    }
    sys.stdout.write(json.dumps(result))


main()
