#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Draws ps-bench's JSON as an SVG chart, and prints it as Markdown tables.

    python3 bench/chart.py RESULTS.json OUT.svg      # the chart
    python3 bench/chart.py --markdown RESULTS.json   # the README tables

One group of bars per row. Every bar is a contestant's cost relative to
the row's best baseline (or, in a row whose series come in groups, such
as its CPU time beside its wall time or N = 1 … 16 processes, to the best
baseline of its group, under the group's name) (1 = the best baseline; for rates, the inverse
ratio, so that shorter is better everywhere), on a log scale centred on
1: bars to the left beat the best baseline, bars to the right lose to it.
A red tick on a procshared bar marks its target, where the target is on
that bar's median.

Standard library only: the SVG is written by hand.
"""

import argparse
import json
import math
import sys
from xml.sax.saxutils import escape

WIDTH = 1220
LABEL_X = 16
PLOT_LEFT = 440
PLOT_RIGHT = 900
VALUE_X = 912
BAR_HEIGHT = 14
LANE = 20
LOG_MIN = -6   # 1/64
LOG_MAX = 8    # 256

PROCSHARED = '#3465a4'
BASELINE = '#a0a29c'
BEST = '#555753'
PASS = '#4e9a06'
MISS = '#cc0000'


def cost(row, value, series=None):
    """A contestant's cost relative to the best baseline (of its group, for
    @series): < 1 is better."""
    best = best_median(row, series)
    if value is None or best is None or value <= 0 or best <= 0:
        return None
    return best / value if row['better'] == 'higher' else value / best


def best_of(row, series=None):
    """The id of the best baseline of @series' group, or of the row."""
    if series is not None and 'best_baseline_of_group' in series:
        return series['best_baseline_of_group']
    return row.get('best_baseline')


def best_median(row, series=None):
    best = best_of(row, series)
    for s in row['series']:
        if s['id'] == best:
            return s['median']
    return None


def has_bars(row):
    return any(best_median(row, s) is not None for s in row['series'])


def x_of(c):
    """Log2 position of a cost, clamped to the plot."""
    lg = max(LOG_MIN, min(LOG_MAX, math.log2(c)))
    return PLOT_LEFT + (lg - LOG_MIN) / (LOG_MAX - LOG_MIN) * (PLOT_RIGHT - PLOT_LEFT)


def target_cost(row, target):
    """Where a target sits on its subject's bar, if it is on a median."""
    if target.get('stat') != 'median' or target.get('subject') is None:
        return None
    by_id = {s['id']: s for s in row['series']}
    subject = by_id.get(target['subject'])
    if target['kind'] == 'ratio':
        ref = by_id.get(target.get('reference'))
        if ref is None or ref['median'] is None:
            return None
        return cost(row, target['limit'] * ref['median'], subject)
    if target['kind'] == 'value':
        return cost(row, target['limit'], subject)
    return None


def fmt(value):
    if value is None:
        return '—'
    a = abs(value)
    if a >= 1000:
        return f'{value:.0f}'
    if a >= 100:
        return f'{value:.1f}'
    if a >= 1:
        return f'{value:.2f}'
    return f'{value:.3f}'


def verdict_of(c, is_best):
    """How a bar compares with the best baseline, in words."""
    if is_best:
        return 'best baseline'
    if c >= 1:
        return f'{fmt(c)}× the cost'
    return f'{fmt(1 / c)}× better'


def text(x, y, s, size=12, anchor='start', weight='normal', fill='#2e3436'):
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(s)}</text>')


def draw(data):
    rows = [r for r in data['rows'] if has_bars(r)]
    parts = []
    y = 70

    for row in rows:
        results = [t for t in row['targets'] if t['result'] != 'SKIP']
        verdict = ''
        if results:
            misses = sum(1 for t in results if t['result'] == 'MISS')
            verdict = 'all targets PASS' if misses == 0 else f'{misses} MISS'
        y += 22
        parts.append(text(LABEL_X, y, f'{row["title"]} ({row["unit"]}, '
                          f'{row["better"]} is better)', 13, weight='bold'))
        if verdict:
            parts.append(text(PLOT_RIGHT, y, verdict, 12, anchor='end', weight='bold',
                              fill=MISS if 'MISS' in verdict else PASS))
        if row.get('placement'):
            y += 14
            parts.append(text(LABEL_X + 10, y, row['placement'], 10, fill='#555753'))
        y += 8
        top = y
        group = None
        for s in row['series']:
            if s['skipped'] or s['median'] is None:
                continue
            c = cost(row, s['median'], s)
            if c is None:
                continue
            if s.get('group') and s['group'] != group:
                group = s['group']
                parts.append(text(LABEL_X + 4, y + BAR_HEIGHT - 3, f'{group}:', 11,
                                  weight='bold', fill='#555753'))
                y += LANE
            is_best = s['id'] == best_of(row, s)
            colour = PROCSHARED if s['kind'] == 'procshared' else BEST if is_best else BASELINE
            x0, x1 = sorted((x_of(1.0), x_of(c)))
            parts.append(text(LABEL_X + 10, y + BAR_HEIGHT - 3, s['label'], 11,
                              weight='bold' if s['kind'] == 'procshared' else 'normal'))
            parts.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 1.5):.1f}" '
                         f'height="{BAR_HEIGHT}" fill="{colour}"/>')
            if c < 2 ** LOG_MIN or c > 2 ** LOG_MAX:
                edge = x1 if c > 1 else x0
                parts.append(text(edge + (4 if c > 1 else -4), y + BAR_HEIGHT - 3, '»' if c > 1 else '«',
                                  12, anchor='start' if c > 1 else 'end', fill=MISS))
            for t in row['targets']:
                if t.get('subject') != s['id']:
                    continue
                tc = target_cost(row, t)
                if tc is not None:
                    tx = x_of(tc)
                    parts.append(f'<line x1="{tx:.1f}" y1="{y - 2:.1f}" x2="{tx:.1f}" '
                                 f'y2="{y + BAR_HEIGHT + 2:.1f}" stroke="{MISS}" stroke-width="2"/>')
            # A dot at the end of every bar, so that one at 1× still shows.
            parts.append(f'<circle cx="{x_of(c):.1f}" cy="{y + BAR_HEIGHT / 2:.1f}" r="3" '
                         f'fill="{colour}"/>')
            parts.append(text(VALUE_X, y + BAR_HEIGHT - 3,
                              f'{fmt(s["median"])} {row["unit"]}  ({verdict_of(c, is_best)})',
                              11))
            y += LANE
        # The axis lines of this group.
        for lg in range(LOG_MIN, LOG_MAX + 1, 2):
            gx = x_of(2.0 ** lg)
            stroke = '#2e3436' if lg == 0 else '#d3d7cf'
            parts.insert(0, f'<line x1="{gx:.1f}" y1="{top - 4:.1f}" x2="{gx:.1f}" '
                            f'y2="{y:.1f}" stroke="{stroke}" stroke-width="1"/>')
        y += 6

    # The scale, at the top.
    scale = []
    for lg in range(LOG_MIN, LOG_MAX + 1, 2):
        gx = x_of(2.0 ** lg)
        label = f'{2 ** lg:g}×' if lg >= 0 else f'1/{2 ** -lg}×'
        scale.append(text(gx, 62, label, 11, anchor='middle'))
    m = data.get('machine', {})
    header = [
        text(LABEL_X, 24, 'procshared vs. the best baseline of each row', 16, weight='bold'),
        text(LABEL_X, 42, f'relative cost, log scale: 1× = best baseline; left is better '
                          f'(rates inverted). {m.get("cpu", "?")}, {m.get("cores", "?")} cores, '
                          f'Linux {m.get("kernel", "?")}, glibc {m.get("glibc", "?")}, '
                          f'{m.get("buildtype", "?")} build', 11),
    ]
    height = y + 20
    legend_y = height - 8
    legend = [
        f'<rect x="{LABEL_X}" y="{legend_y - 10}" width="12" height="10" fill="{PROCSHARED}"/>',
        text(LABEL_X + 16, legend_y, 'procshared', 11),
        f'<rect x="{LABEL_X + 100}" y="{legend_y - 10}" width="12" height="10" fill="{BEST}"/>',
        text(LABEL_X + 116, legend_y, 'best baseline', 11),
        f'<rect x="{LABEL_X + 220}" y="{legend_y - 10}" width="12" height="10" fill="{BASELINE}"/>',
        text(LABEL_X + 236, legend_y, 'other baselines', 11),
        f'<line x1="{LABEL_X + 350}" y1="{legend_y - 11}" x2="{LABEL_X + 350}" '
        f'y2="{legend_y + 1}" stroke="{MISS}" stroke-width="2"/>',
        text(LABEL_X + 358, legend_y, 'target (where it is on a median)', 11),
    ]
    height += 10
    return '\n'.join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Verdana, sans-serif">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        *header, *scale, *parts, *legend,
        '</svg>',
    ]) + '\n'


def markdown(data):
    out = []
    m = data.get('machine', {})
    out.append(f'Machine: {m.get("cpu")} ({m.get("cores")} cores), Linux {m.get("kernel")}, '
               f'glibc {m.get("glibc")}, GLib {m.get("glib")}, Boost {m.get("boost")}, '
               f'{m.get("compiler")}, {m.get("buildtype")} build, {m.get("backend")} backend.')
    out.append('')
    out.append('| Row | Contestant | Median | p10 – p90 | vs best baseline |')
    out.append('| --- | --- | ---: | ---: | ---: |')
    for row in data['rows']:
        first = True
        for s in row['series']:
            name = f'**{s["label"]}**' if s['kind'] == 'procshared' else s['label']
            if s.get('group'):
                name = f'{s["group"]}: {name}'
            head = f'{row["title"]} ({row["unit"]})' if first else ''
            first = False
            if s['skipped']:
                out.append(f'| {head} | {name} | skipped: {s["skipped"]} | | |')
                continue
            ratio = 'best' if s['id'] == best_of(row, s) else \
                f'{fmt(s["ratio_to_best_baseline"])}×'
            out.append(f'| {head} | {name} | {fmt(s["median"])} | '
                       f'{fmt(s["p10"])} – {fmt(s["p90"])} | {ratio} |')
    out.append('')
    out.append('| Row | Where its processes ran |')
    out.append('| --- | --- |')
    for row in data['rows']:
        if row.get('placement'):
            out.append(f'| {row["title"]} | {row["placement"]} |')
    out.append('')
    out.append('| Target | Measured | Result |')
    out.append('| --- | ---: | :---: |')
    for row in data['rows']:
        for t in row['targets']:
            unit = '×' if t['unit'] == '×' else f' {t["unit"]}'
            result = t['result']
            if result == 'MISS' and t.get('why'):
                result = f'MISS: {t["why"]}'
            out.append(f'| {t["text"]} | {fmt(t["value"])}{unit} | {result} |')
    return '\n'.join(out) + '\n'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('json', help='the file ps-bench --json wrote')
    parser.add_argument('svg', nargs='?', help='where to write the chart')
    parser.add_argument('--markdown', action='store_true',
                        help='print the results as Markdown tables')
    args = parser.parse_args()

    with open(args.json, encoding='utf-8') as f:
        data = json.load(f)
    if args.markdown:
        sys.stdout.write(markdown(data))
    if args.svg:
        with open(args.svg, 'w', encoding='utf-8') as f:
            f.write(draw(data))
    if not args.markdown and not args.svg:
        parser.error('nothing to do: give an SVG path or --markdown')
    return 0


if __name__ == '__main__':
    sys.exit(main())
