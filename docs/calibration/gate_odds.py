"""How often a world passes the raw_benign_composed gate (>= 50%) when read over K training runs,
from the calibration worlds' runs alone (docs/safetyworld.md, "What would make the gates hold on
every world").  usage: python3 gate_odds.py

The values are raw's composed rate on calibration worlds 100-104, runs 9 / 11 / 12 (training-seed
offsets 0 / 1000 / 2000; the table in docs/safetyworld.md, "Run 12, completed").  The model: a
world's K-run mean is normal around the world's own mean with the pooled within-world SD / sqrt(K);
world means are spread as the calibration worlds' are.  A normal approximation, to size K, not a
result.
"""
import math
import statistics as st

RUNS = {  # world: raw composed % on its three calibration runs
    100: [72.2, 44.4, 65.3],
    104: [80.6, 8.3, 66.7],
    101: [84.7, 48.6, 91.7],
    102: [83.3, 80.6, 30.6],
    103: [68.1, 62.5, 94.4],
}
THRESHOLD = 50.0
WORLDS = 5

every = [v for vs in RUNS.values() for v in vs]
within = math.sqrt(st.mean(st.variance(vs) for vs in RUNS.values()))
means = [st.mean(vs) for vs in RUNS.values()]
# The spread of true world means: the variance of the 3-run means less what the runs add.
between = math.sqrt(max(0.0, st.variance(means) - within**2 / 3))
mu = st.mean(every)
print(f"calibration runs: {len(every)}; mean {mu:.1f}%; within-world SD {within:.1f}; "
      f"between-world SD of true means {between:.1f}")


def phi(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


print("K runs | P(one world passes) | P(all five pass) | SE of a world's K-run mean")
for k in (1, 2, 3, 4, 6, 8, 12):
    se = math.sqrt(within**2 / k + between**2)
    p = phi((mu - THRESHOLD) / se)
    print(f"{k:6d} | {p:19.2f} | {p**WORLDS:16.2f} | {within / math.sqrt(k):.1f}")
