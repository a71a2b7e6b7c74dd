"""Money is integer cents everywhere; this is the one place that turns cents into text."""

# No single ledger entry, payment or charge is ever above $1,000,000 (or below minus that): a bound every input
# path (forms, API, services) checks, so a typo of extra zeros or a fuzzer's 2**63 is a clear error, not a 500.
MAX_ENTRY_CENTS = 100_000_000


def format_cents(value: int, *, plus: bool = False) -> str:
    """123456 → "$1,234.56", -500 → "−$5.00"; with ``plus`` a positive amount reads "+$5.00"."""
    value = int(value)
    text = f"${abs(value) // 100:,}.{abs(value) % 100:02d}"
    if value < 0:
        return f"−{text}"
    return f"+{text}" if plus and value > 0 else text
