"""Benchmarks shipped with the package (``bx bench``): the matching engine against FAISS
and scikit-learn, measured side by side in one process."""
