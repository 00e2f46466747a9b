#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Prints where to install pure Python modules for PREFIX so that this
interpreter finds them: DEFAULT (Meson's python.get_install_dir()) if it is
on sys.path; else the sys.path directory under PREFIX that holds modules;
else DEFAULT, which then needs PYTHONPATH.

Debian's interpreter is why: for PREFIX /usr/local Meson answers
/usr/local/lib/python3/dist-packages, which is not on its sys.path, while
/usr/local/lib/python3.X/dist-packages is.

Usage: python-site-dir.py PREFIX DEFAULT"""

import os
import sys


def main():
    prefix = os.path.normpath(sys.argv[1])
    default = os.path.normpath(os.path.join(prefix, sys.argv[2]))
    entries = [os.path.normpath(p) for p in sys.path if p]
    if default in entries:
        print(default)
        return
    for entry in entries:
        if (os.path.dirname(entry).startswith(prefix + os.sep)
                and os.path.basename(entry) in ('dist-packages', 'site-packages')
                # /usr/local/lib/... is under /usr too: only entries of
                # this very prefix, not of a longer one.
                and os.path.relpath(entry, prefix).split(os.sep)[0] == 'lib'):
            print(entry)
            return
    print(default)


if __name__ == '__main__':
    main()
