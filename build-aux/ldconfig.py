#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Refreshes the dynamic linker's cache after `meson install`, so that a
library just installed under /usr/local is found (by the typelib's users
above all) without LD_LIBRARY_PATH. Meson 1.0 does not do it by itself.

Only as root, since only root can; not for staged installs (meson.build
skips this script when DESTDIR is set). A failure is reported, never
fatal: the install itself went through."""

import os
import shutil
import subprocess
import sys

if os.name == 'posix' and sys.platform.startswith('linux') and os.geteuid() == 0:
    ldconfig = shutil.which('ldconfig') or ('/sbin/ldconfig' if os.path.exists('/sbin/ldconfig') else None)
    if ldconfig is not None:
        result = subprocess.run([ldconfig])
        if result.returncode != 0:
            print('ldconfig failed; run it by hand', file=sys.stderr)
