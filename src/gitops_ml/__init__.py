"""GitOps CI/CD template for machine learning."""

import os

# OpenMP threads (scikit-learn's gradient boosting, numpy's BLAS) sleep instead of spinning while they wait for
# each other. With the default spin-wait, a 2-core CI runner that is busy with anything else made training 3 to
# 50 times slower (docs/performance.md); results are identical either way. Set before any
# OpenMP runtime loads; export OMP_WAIT_POLICY to override.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
