"""SLOSH's index, by construction (``slosh``).

The experiment times LSH against exact flat search on the same vectors;
what holds regardless of timing is tested here: LSH stores ``n_bits / 8``
bytes per set (against ``4 L M`` for the float vector), and on sets that are
far apart it returns the same nearest set as exact sliced-W2 search.
"""

import numpy as np

from mintlab.embed import SLOSH
from mintlab.transport import sliced_wasserstein_distance


def test_lsh_codes_are_compact_and_find_well_separated_neighbours():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=5.0, size=(30, 3))
    corpus = [c + rng.normal(scale=0.3, size=(40, 3)) for c in centres]
    queries = [c + rng.normal(scale=0.3, size=(40, 3)) for c in centres]
    lsh = SLOSH(n_projections=16, n_quantiles=16, index="lsh", n_bits=512, seed=0).fit(corpus)
    assert lsh.index_.code_size == 512 // 8  # bytes per set, vs 4 * 16 * 16 for the vector
    _, ids = lsh.search(queries, k=1)
    # the oracle: exact sliced W2 (same directions) from each query to every corpus set
    theta = lsh.embedding_.projections_
    brute = np.array([[sliced_wasserstein_distance(q, c, projections=theta) for c in corpus]
                      for q in queries])
    assert np.array_equal(ids[:, 0], brute.argmin(1))
    assert np.array_equal(ids[:, 0], np.arange(30))
