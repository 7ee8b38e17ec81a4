#!/usr/bin/env python3
"""ctest deploy_ldd: the runtime package list of deploy/install-deps.sh (what
the Dockerfile's runtime stage installs) matches what the binary links.

1. Every library the binary links directly (ELF NEEDED) resolves (ldd) and
   its Debian package (dpkg -S) is in the runtime list, or is what a
   metapackage of the list stands for (libopenblas0 -> libopenblas0-pthread),
   or is part of every Debian system (the Essential packages and what they
   depend on, e.g. libc6).
2. Every library ldd loads, indirect ones too, comes from a package that the
   runtime list and the Essential base pull in through their Depends: nothing
   is present only by accident on this machine.
3. The runtime list holds nothing the binary does not link, except curl (the
   Dockerfile's HEALTHCHECK) and ca-certificates (TLS to the World Bank API).

usage: check_ldd.py GRAVITAS_BINARY INSTALL_DEPS_SH
"""
import os
import re
import subprocess
import sys

EXTRA_OK = {"curl": "the HEALTHCHECK", "ca-certificates": "TLS certificates"}

passes = failures = 0


def check(ok, what):
    global passes, failures
    if ok:
        passes += 1
    else:
        failures += 1
        print(f"FAIL {what}")
    return ok


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def runtime_list(script):
    out = subprocess.run(
        ["bash", "-c", "eval \"$(sed -n '/^runtime=(/,/)/p' \"$1\")\"; "
         "printf '%s\\n' \"${runtime[@]}\"", "_", script],
        capture_output=True, text=True, check=True).stdout.split()
    return out


_owners = {}


def owners(paths):
    """Fills _owners: path -> package, trying each path, its symlink target
    and its merged-/usr twin; one dpkg-query for all of them."""
    tries = {}
    for path in paths:
        cands = [path, os.path.realpath(path)]
        cands += [c[4:] if c.startswith("/usr/") else "/usr" + c for c in list(cands)]
        tries[path] = cands
    flat = sorted({c for cands in tries.values() for c in cands})
    found = {}
    for line in run("dpkg-query", "-S", *flat).stdout.splitlines():
        pkgs, _, p = line.partition(": ")
        found[p.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    for path, cands in tries.items():
        _owners[path] = next((found[c] for c in cands if c in found), None)


def owner(path):
    return _owners.get(path)


_db = {}
_provides = {}


def load_db():
    fmt = "${Package}\t${Status}\t${Priority}\t${Essential}\t${Depends}\t${Pre-Depends}\t${Provides}\n"
    for line in run("dpkg-query", "-W", "-f", fmt).stdout.splitlines():
        f = line.split("\t")
        if len(f) < 7 or "install ok installed" not in f[1]:
            continue
        _db[f[0]] = {"Priority": f[2], "Essential": f[3], "Depends": f[4],
                     "Pre-Depends": f[5]}
        for prov in filter(None, (x.strip() for x in f[6].split(","))):
            _provides.setdefault(re.split(r"[\s(]", prov)[0], set()).add(f[0])


def field(pkg, name):
    return _db.get(pkg, {}).get(name, "")


def installed(pkg):
    return pkg in _db


def depends(pkg):
    """Installed packages pkg depends on (Depends, Pre-Depends; of each
    alternative group, the installed members; virtual names via Provides)."""
    out = set()
    for f in ("Depends", "Pre-Depends"):
        for group in filter(None, (g.strip() for g in field(pkg, f).split(","))):
            for alt in group.split("|"):
                name = re.split(r"[\s(:]", alt.strip(), maxsplit=1)[0]
                if installed(name):
                    out.add(name)
                else:
                    out.update(_provides.get(name, set()))
    return out


def closure(pkgs):
    out, todo = set(pkgs), list(pkgs)
    while todo:
        for d in depends(todo.pop()):
            if d not in out:
                out.add(d)
                todo.append(d)
    return out


_base = None


def base(pkg):
    """In every Debian system: an Essential package or one they depend on
    (libc6, libgcc-s1, ...)."""
    global _base
    if _base is None:
        _base = closure([p for p in _db if field(p, "Essential") == "yes"])
    return pkg in _base


def metapackage(pkg):
    """A package that installs nothing but its documentation."""
    files = run("dpkg-query", "-L", pkg).stdout.split()
    return all(f.startswith(("/usr/share/doc", "/usr/share/lintian")) or
               f in ("/.", "/usr", "/usr/share") for f in files)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, script = sys.argv[1:]
    runtime = runtime_list(script)
    load_db()
    print(f"deploy_ldd: runtime list of {script}: {' '.join(runtime)}")
    for p in runtime:
        check(installed(p), f"runtime package {p} is installed here (make deps)")

    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                        run("readelf", "-d", binary).stdout)
    check(len(needed) > 0, "readelf -d lists the binary's NEEDED libraries")
    ldd = run("ldd", binary)
    check(ldd.returncode == 0, f"ldd {binary}: {ldd.stderr.strip()}")
    resolved = {}
    for line in ldd.stdout.splitlines():
        m = re.match(r"\s*(\S+) => (.*?) \(0x", line)
        if m:
            resolved[m.group(1)] = m.group(2)
        elif "not found" in line:
            check(False, f"ldd: {line.strip()}")

    # Metapackages of the list (no library of their own) stand for what
    # they depend on.
    meta = {r: depends(r) for r in runtime if installed(r) and metapackage(r)}
    owners(resolved.values())

    # 1. Direct libraries.
    accounted = set()
    print(f"{'library (NEEDED)':24} {'package':24} via")
    for soname in needed:
        path = resolved.get(soname)
        if not check(path is not None, f"{soname} resolves"):
            continue
        pkg = owner(path)
        if not check(pkg is not None, f"{path} belongs to a Debian package"):
            continue
        if pkg in runtime:
            via = "runtime list"
            accounted.add(pkg)
        elif base(pkg):
            via = "Debian base (Essential and its Depends)"
        elif any(pkg in deps for deps in meta.values()):
            r = next(r for r, deps in meta.items() if pkg in deps)
            via = f"runtime list: {r} (metapackage)"
            accounted.add(r)
        else:
            via = None
        print(f"{soname:24} {pkg:24} {via or '-- MISSING'}")
        check(via is not None,
              f"{soname} ({pkg}) is in the runtime list of {script}")

    # 2. Every loaded library, through Depends.
    pulled = closure([p for p in runtime if installed(p)])
    for soname, path in sorted(resolved.items()):
        pkg = owner(path)
        if pkg is None:
            check(False, f"{path} belongs to a Debian package")
            continue
        check(pkg in pulled or base(pkg),
              f"{soname} ({pkg}) is pulled in by the runtime list's Depends")

    # 3. Nothing extra.
    for p in runtime:
        if p in EXTRA_OK:
            print(f"{p}: kept for {EXTRA_OK[p]}")
            continue
        check(p in accounted,
              f"runtime package {p} provides no library the binary links")

    print(f"deploy_ldd: {len(needed)} direct and {len(resolved)} loaded libraries")
    print(f"{passes} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
