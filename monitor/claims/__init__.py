"""Claims: what reports assert, and whether a new report confirms or contradicts a claim."""
