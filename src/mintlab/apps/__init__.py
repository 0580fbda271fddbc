"""Applications: fairness-aware prompt refinement (``kg-fairdiff``) and surgical data science
(``surgformer``, ``surgical-gesture``).

Each builds the paper's machinery in full with offline components; where the
paper relies on a large pre-trained model or clinical data that cannot be used
here, a documented stand-in takes its place (the module texts say which).
"""
