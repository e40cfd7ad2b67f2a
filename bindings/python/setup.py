# SPDX-License-Identifier: LGPL-2.1-or-later
"""Build the edera package: SWIG runs on edera.i at build time.

Where libedera comes from:
  - in the source tree, `make` sets EDERA_SRCDIR and EDERA_BUILDDIR: the
    headers of both trees and the library just built (no rpath: the tests
    set LD_LIBRARY_PATH, and `make install` puts the library where ld.so
    finds it);
  - otherwise `pkg-config edera libuv` (set PKG_CONFIG_PATH for a library
    installed under another prefix); the library's directory goes in the
    extension's rpath unless it is a system one.
EDERA_WERROR=1 turns warnings into errors (configure --enable-werror).
"""
import os
import shlex
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build import build
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
WARN = ["-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes", "-Wmissing-prototypes",
        "-Wformat=2", "-Wno-unused-parameter"]
SYSTEM_LIBDIRS = {"/usr/lib", "/lib", "/usr/lib64", "/lib64", "/usr/lib/x86_64-linux-gnu",
                  "/lib/x86_64-linux-gnu"}


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        err = getattr(e, "stderr", "") or str(e)
        sys.exit("edera: pkg-config %s failed: %s\n"
                 "Install libedera (make install) or point PKG_CONFIG_PATH at its "
                 "edera.pc." % (" ".join(args), err.strip()))
    return shlex.split(out.stdout)


def library_flags():
    """(include_dirs, library_dirs, libraries, rpath, other compile flags)."""
    src, bld = os.environ.get("EDERA_SRCDIR"), os.environ.get("EDERA_BUILDDIR")
    uv = pkg_config("--cflags", "--libs", "libuv")
    if src and bld:
        flags = ["-I" + os.path.join(src, "include"), "-I" + os.path.join(bld, "include"),
                 "-L" + os.path.join(bld, "lib", ".libs"), "-ledera"] + uv
        in_tree = True
    else:
        flags = pkg_config("--cflags", "--libs", "edera", "libuv")
        in_tree = False
    inc = [f[2:] for f in flags if f.startswith("-I")]
    libdirs = [f[2:] for f in flags if f.startswith("-L")]
    libs = [f[2:] for f in flags if f.startswith("-l")]
    other = [f for f in flags if f[:2] not in ("-I", "-L", "-l")]
    rpath = [] if in_tree else [f[2:] for f in pkg_config("--libs-only-L", "edera")
                                if os.path.normpath(f[2:]) not in SYSTEM_LIBDIRS]
    return inc, libdirs, libs, rpath, other


class SwigBuildExt(build_ext):
    """Run SWIG ourselves: the wrapper goes to build_temp, the generated
    capi.py straight into the package being built (build_lib, or the source
    package with --inplace), so it is never missed whatever order the
    commands run in."""

    def run(self):
        inplace = self.inplace
        super().run()
        if inplace:  # setuptools built into build_lib and copies only the .so
            self.copy_file(os.path.join(self.build_lib, "edera", "capi.py"),
                           os.path.join(HERE, "edera", "capi.py"))

    def build_extension(self, ext):
        inc, libdirs, libs, rpath, other = library_flags()
        os.makedirs(self.build_temp, exist_ok=True)
        outdir = os.path.join(self.build_lib, "edera")
        os.makedirs(outdir, exist_ok=True)
        wrap = os.path.join(self.build_temp, "edera_wrap.c")
        cmd = [os.environ.get("SWIG", "swig"), "-python", "-outdir", outdir, "-o", wrap]
        cmd += ["-I" + d for d in inc] + [os.path.join(HERE, "edera.i")]
        self.announce("swig: " + " ".join(cmd), level=2)
        subprocess.run(cmd, check=True)
        ext.sources = [wrap]
        ext.include_dirs += inc
        ext.library_dirs += libdirs
        ext.libraries += libs
        ext.runtime_library_dirs += rpath
        ext.extra_compile_args += ["-std=gnu11"] + WARN + other
        if os.environ.get("EDERA_WERROR") == "1":
            ext.extra_compile_args.append("-Werror")
        super().build_extension(ext)


class BuildExtFirst(build):
    # build_ext before build_py (CPython issue 81428), for anything that
    # looks for capi.py in build_lib after build_py.
    sub_commands = [c for c in build.sub_commands if c[0] == "build_ext"] + \
                   [c for c in build.sub_commands if c[0] != "build_ext"]


setup(
    name="edera",
    version=os.environ.get("EDERA_VERSION", "0.2.0"),
    description="Python bindings of libedera: isolation zones on Xen PV, with asyncio",
    license="LGPL-2.1-or-later",
    python_requires=">=3.9",
    packages=["edera"],
    package_data={"edera": ["py.typed"]},
    ext_modules=[Extension("edera._capi", sources=["edera.i"])],
    cmdclass={"build": BuildExtFirst, "build_ext": SwigBuildExt},
    zip_safe=False,
)
