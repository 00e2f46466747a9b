# SPDX-License-Identifier: LGPL-2.1-or-later
"""Unpickling of procshared objects (see Ps.py).

A module of its own because the override module itself cannot be
imported directly, only through gi.repository, which is what an
unpickling process that has not imported Ps yet would need to do."""


def rebuild(type_name, how, *args):
    """Reopens a named object, or attaches to one placed in a named
    segment, in the process that unpickles it."""
    import gi
    if gi.get_required_version('Ps') is None:
        gi.require_version('Ps', '1')
    from gi.repository import Ps

    cls = getattr(Ps, type_name)
    if how == 'open':
        if type_name in ('SharedMemory', 'Semaphore'):
            # size / initial value: only used when creating, never here.
            return cls.open(args[0], Ps.OpenFlags.NONE, 0)
        if type_name == 'Event':
            return cls.open(args[0], Ps.OpenFlags.NONE, False)
        if type_name == 'Barrier':
            return cls.open(args[0], Ps.OpenFlags.NONE, 0)
        if type_name == 'Queue':
            # Capacity and maximum size: only used when creating.
            return cls.open(args[0], Ps.OpenFlags.NONE, 1, 1)
        return cls.open(args[0], Ps.OpenFlags.NONE)
    if how == 'attach':
        return cls.attach(*args)
    raise ValueError('unknown way to rebuild a Ps.%s: %r' % (type_name, how))


def rebuild_bound(mutex, type_name, how, *args):
    """A Ps.Cond bound to its mutex: rebuilt, then bound to @mutex (itself
    unpickled first, by name or by placement)."""
    cond = rebuild(type_name, how, *args)
    cond._ps_mutex = mutex
    return cond
