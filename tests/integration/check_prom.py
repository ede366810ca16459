"""Checks a Prometheus text exposition: line syntax, one group per family,
histogram buckets cumulative with +Inf equal to _count. Prints
`name{labels} value` of the series asked for on argv[2:], one per line."""
import re, sys

text = open(sys.argv[1]).read()
series = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|\+Inf|NaN)$')
typed, seen_done, values, current = {}, set(), {}, None
for n, line in enumerate(text.splitlines(), 1):
    if line.startswith("# TYPE "):
        _, _, name, kind = line.split(" ", 3)
        assert name not in typed, "line %d: second TYPE for %s" % (n, name)
        if current:
            seen_done.add(current)
        typed[name], current = kind, name
        continue
    if line.startswith("#") or not line:
        continue
    m = series.match(line)
    assert m, "line %d: not a sample: %r" % (n, line[:80])
    fam = re.sub(r"_(bucket|sum|count)$", "", m.group(1)) if m.group(1) not in typed else m.group(1)
    assert fam in typed, "line %d: %s has no TYPE" % (n, m.group(1))
    assert fam == current, "line %d: %s outside its group" % (n, fam)
    values[m.group(1) + (m.group(2) or "")] = float(m.group(3))
# histograms: cumulative buckets, +Inf == _count
for key, v in values.items():
    m = re.match(r'^(.*)_bucket\{(.*)le="\+Inf"\}$', key)
    if not m:
        continue
    base, lab = m.group(1), m.group(2).rstrip(",")
    cnt = values[base + "_count" + ("{%s}" % lab if lab else "")]
    assert cnt == v, "%s: +Inf bucket %s != count %s" % (base, v, cnt)
    prev = 0
    for k2, v2 in values.items():
        if k2.startswith(base + "_bucket{" + m.group(2)) and 'le="+Inf"' not in k2:
            assert v2 >= prev, "%s: buckets not cumulative" % base
            prev = v2
    assert prev <= v, "%s: a bucket above +Inf" % base
for want in sys.argv[2:]:
    print("%s %s" % (want, values.get(want, "missing")))
