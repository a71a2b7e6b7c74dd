"""Money is integer cents everywhere; this is the one place that turns cents into text."""


def format_cents(value: int, *, plus: bool = False) -> str:
    """123456 → "$1,234.56", -500 → "−$5.00"; with ``plus`` a positive amount reads "+$5.00"."""
    value = int(value)
    text = f"${abs(value) // 100:,}.{abs(value) % 100:02d}"
    if value < 0:
        return f"−{text}"
    return f"+{text}" if plus and value > 0 else text
