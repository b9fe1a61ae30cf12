import json, sys, statistics as st
for p in sys.argv[1:]:
    rows = [json.loads(l) for l in open(p)]
    per = {}
    for r in rows:
        t = int(r["id"].rsplit("-", 1)[1]); per.setdefault(t, [0, 0]); per[t][1] += 1; per[t][0] += r["class"] == "correct"
    ks = [per[t][0] for t in sorted(per)]
    first3 = sum(ks[:3]); all12 = sum(ks)
    print(f"{p[:-6]:12s} first 3: {first3:3d}/72 = {100*first3/72:5.1f}%   all 12: {all12:3d}/288 = {100*all12/288:5.1f}%   per phrasing: {' '.join(f'{k:2d}' for k in ks)}")
