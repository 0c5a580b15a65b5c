"""A bound for "this text does not send the parser into catastrophic backtracking".

Backtracking that blows up on hostile text takes minutes or never ends, so a generous bound finds
it without failing on a loaded machine; how fast the parser is belongs to ``make bench``.
"""

HANG_SECONDS = 10.0
