"""Record foreign-platform optional packages in package-lock.json so `npm ci` accepts the lock.

The npm registry reachable here serves only the linux-x64 builds of Anvil and EDR, so `npm install`
leaves their darwin/win32/arm64 siblings out of the lock and `npm ci` then refuses it. This adds
those siblings as optional, platform-restricted entries (never fetched on linux-x64). Run after any
`npm install` that rewrites a lock:  python3 scripts/lock_foreign_platforms.py [path/to/package-lock.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LOCK = Path(__file__).resolve().parents[1] / "package-lock.json"


def platform(name: str) -> dict[str, list[str]]:
    short = name.rsplit("/", 1)[-1]
    if not any(marker in short for marker in ("darwin", "win32", "linux")):
        # Not a platform build (e.g. a git tarball the registry cannot serve): never to be fetched.
        return {"os": ["none"]}
    osname = "darwin" if "darwin" in short else "win32" if "win32" in short else "linux"
    spec = {"cpu": ["arm64" if "arm64" in short else "x64"], "os": [osname]}
    if "musl" in short:
        spec["libc"] = ["musl"]
    elif "gnu" in short:
        spec["libc"] = ["glibc"]
    return spec


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else LOCK
    lock = json.loads(path.read_text())
    packages = lock["packages"]
    added = []
    for meta in list(packages.values()):
        for dep, version in (meta.get("optionalDependencies") or {}).items():
            key = f"node_modules/{dep}"
            if key not in packages:
                entry = {"version": version, "optional": True, **platform(dep)}
                if "://" in version:  # a tarball URL: npm records it as `resolved`
                    entry |= {"version": "0.0.0", "resolved": version}
                packages[key] = entry
                added.append(dep)
    lock["packages"] = dict(sorted(packages.items(), key=lambda kv: (kv[0] != "", kv[0])))
    path.write_text(json.dumps(lock, indent=2) + "\n")
    print(f"added {len(added)} foreign-platform entries: {', '.join(added) or '-'}")


if __name__ == "__main__":
    main()
