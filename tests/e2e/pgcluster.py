"""A throwaway PostgreSQL cluster for tests: `initdb` in a temporary
directory, `pg_ctl start` on a free loopback port, removed afterwards.

PostgreSQL refuses to run as root; as root (CI), the cluster runs as the
`postgres` user the Debian package creates, through `runuser`."""

import glob
import os
import shutil
import socket
import subprocess
import tempfile

USER = "keyward"


def _bindir():
    for name in ("initdb", "pg_ctl"):
        if not shutil.which(name):
            break
    else:
        return os.path.dirname(os.path.realpath(shutil.which("pg_ctl")))
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    return os.path.dirname(found[-1])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self):
        self.bin = _bindir()
        self.base = tempfile.mkdtemp(prefix="keyward-pg-")
        os.chmod(self.base, 0o755)
        self.data = os.path.join(self.base, "data")
        self.log = os.path.join(self.base, "postgres.log")
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", USER, "-E", "UTF8", "--no-instructions")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "keyward")

    @property
    def url(self):
        return f"postgresql://{USER}@127.0.0.1:{self.port}/keyward"

    def _run(self, tool, *args, timeout=120):
        cmd = [os.path.join(self.bin, tool), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, timeout=timeout, cwd=self.base)

    def start(self):
        opts = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._run("pg_ctl", "-D", self.data, "-o", opts, "-l", self.log, "-w", "-t", "60", "start")

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")

    def psql(self, sql, db="keyward"):
        out = self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", db,
                        "-At", "-c", sql)
        return out.stdout.decode().strip()

    def remove(self):
        try:
            self.stop("immediate")
        except subprocess.SubprocessError:
            pass
        shutil.rmtree(self.base, ignore_errors=True)


def main():
    """`python pgcluster.py start` prints a new cluster's URL and directory
    (it keeps running); `python pgcluster.py remove DIR` stops and removes
    it. For scripts (scripts/bench-cluster)."""
    import sys

    if sys.argv[1:2] == ["start"]:
        c = Cluster()
        print(c.url)
        print(c.base)
    elif sys.argv[1:2] == ["remove"] and len(sys.argv) == 3:
        c = Cluster.__new__(Cluster)
        c.bin, c.base = _bindir(), sys.argv[2]
        c.data = os.path.join(c.base, "data")
        c.as_root = os.geteuid() == 0
        c.remove()
    else:
        sys.exit("usage: pgcluster.py start | remove DIR")


if __name__ == "__main__":
    main()
