"""A Secret volume as the kubelet writes it: each key is a symlink `name -> ..data/name`,
`..data -> ..2026_11_30_...` a timestamped directory; an update writes a new timestamped
directory and atomically renames a new `..data_tmp` symlink over `..data`."""
import os
import shutil
from pathlib import Path


class KubeletVolume:
    def __init__(self, root: Path, name: str):
        self.dir = root / name
        self.dir.mkdir(parents=True)
        self.dir.chmod(0o755)
        self.generation = 0
        self.current = None

    def publish(self, files: dict):
        """files: key name -> bytes. Returns once ..data points at the new contents."""
        self.generation += 1
        ts = self.dir / f"..2026_11_30_12_00_00.{self.generation:06d}"
        ts.mkdir()
        for name, data in files.items():
            (ts / name).write_bytes(data)
            (ts / name).chmod(0o644)  # the kubelet's defaultMode
        ts.chmod(0o755)
        tmp = self.dir / "..data_tmp"
        os.symlink(ts.name, tmp)
        os.replace(tmp, self.dir / "..data")
        for name in files:
            if not (self.dir / name).is_symlink():
                os.symlink(f"..data/{name}", self.dir / name)
        # the kubelet removes the previous timestamped directory after the swap
        if self.current is not None:
            shutil.rmtree(self.current)
        self.current = ts
