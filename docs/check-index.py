#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The reference's index page links the project's website and source,
and lists Gio (with GLib and GObject) among the dependencies, each with
its documentation. Usage: check-index.py INDEX.HTML WEBSITE"""

import re
import sys

index, website = sys.argv[1], sys.argv[2]
with open(index, encoding='utf-8') as f:
    html = f.read()
problems = []
for label in ('Website', 'Source'):
    if not re.search(r'<em>%s</em></td><td><a href="%s"' % (label, re.escape(website)), html):
        problems.append('no %s link to %s' % (label, website))
for name, docs in (('GLib', 'https://docs.gtk.org/glib/'),
                   ('GObject', 'https://docs.gtk.org/gobject/'),
                   ('Gio', 'https://docs.gtk.org/gio/')):
    if not re.search(r'<strong>%s</strong>&mdash;2\.0</td>.*?<a href="%s"'
                     % (name, re.escape(docs)), html, re.DOTALL):
        problems.append('%s missing from the dependencies' % name)
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
