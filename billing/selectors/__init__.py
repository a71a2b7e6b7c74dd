"""Every non-trivial read of the billing core: querysets with their joins and annotations."""
