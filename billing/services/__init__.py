"""Every write to the billing core goes through a function in this package (see ../shared/STYLE.md)."""
