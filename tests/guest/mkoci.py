#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Build the workload test image as an OCI image layout, locally (no
registry): two gzip layers — a static busybox with its applets, /etc/passwd
and /etc/group naming a user "edera" (1000, also in group "extra" 2000) and
a file /etc/gone; then a layer deleting /etc/gone through a whiteout and
adding /etc/edera-image.  The config sets Entrypoint, Cmd, Env, WorkingDir
and User.  Its ref name is "test".

Usage: mkoci.py OUTDIR [--no-cmd]   (--no-cmd: a config without Entrypoint
and Cmd)"""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile


def add(tar, name, data=b"", mode=0o644, kind=tarfile.REGTYPE, link="", uid=0, gid=0):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.mtime = 1000000000
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def layer(entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            add(tar, **e)
    return raw.getvalue()


def blob(out, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(out, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def main():
    if len(sys.argv) not in (2, 3) or sys.argv[2:] not in ([], ["--no-cmd"]):
        sys.exit(__doc__)
    out = sys.argv[1]
    no_cmd = sys.argv[2:] == ["--no-cmd"]
    busybox = shutil.which("busybox")
    if not busybox or subprocess.run(["ldd", busybox], capture_output=True).returncode == 0:
        sys.exit("mkoci: a static busybox is needed (package busybox-static)")
    with open(busybox, "rb") as f:
        bb = f.read()
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    first = [dict(name=d, kind=tarfile.DIRTYPE, mode=0o755)
             for d in ("bin", "etc", "home", "root", "tmp", "proc", "sys", "dev")]
    first[-4]["mode"] = 0o1777  # tmp
    first += [dict(name="home/edera", kind=tarfile.DIRTYPE, mode=0o755, uid=1000, gid=1000),
              dict(name="bin/busybox", data=bb, mode=0o755),
              dict(name="etc/passwd",
                   data=b"root:x:0:0:root:/root:/bin/sh\n"
                        b"edera:x:1000:1000:edera:/home/edera:/bin/sh\n"),
              dict(name="etc/group", data=b"root:x:0:\nedera:x:1000:\nextra:x:2000:edera\n"),
              dict(name="etc/gone", data=b"deleted by the second layer\n")]
    first += [dict(name="bin/" + a, kind=tarfile.SYMTYPE, link="busybox", mode=0o777)
              for a in applets if a != "busybox"]
    second = [dict(name="etc/.wh.gone"),
              dict(name="etc/edera-image", data=b"from the image\n")]
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    layers, diff_ids = [], []
    for entries in (first, second):
        raw = layer(entries)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        digest, size = blob(out, gzip.compress(raw, mtime=0))
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "digest": digest, "size": size})
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Entrypoint": ["/bin/sh", "-c"],
                         "Cmd": ["echo default command; id -un; pwd; echo $FROM_IMAGE"],
                         "Env": ["PATH=/bin", "FROM_IMAGE=yes", "OVERRIDDEN=image"],
                         "WorkingDir": "/home/edera", "User": "edera"},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    if no_cmd:
        del config["config"]["Entrypoint"]
        del config["config"]["Cmd"]
    cdigest, csize = blob(out, json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": cdigest, "size": csize},
                "layers": layers}
    mdigest, msize = blob(out, json.dumps(manifest).encode())
    index = {"schemaVersion": 2,
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": mdigest, "size": msize,
                            "annotations": {"org.opencontainers.image.ref.name": "test"}}]}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


if __name__ == "__main__":
    main()
