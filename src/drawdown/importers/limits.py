"""Every bound and fixed scale the importers use, named in one place.

A billing export is outside input of unknown size, so every loop over it, every buffer and
every result set has a limit here. Change a limit here, never inline.
"""

from __future__ import annotations

from typing import Final

# --- reading -----------------------------------------------------------------------------
BATCH_ROWS_DEFAULT: Final = 50_000
"""Rows per batch handed to Python by the line-item iterator."""

BATCH_ROWS_MAX: Final = 1_000_000
"""Largest batch a caller may ask for; bounds the Python memory of one batch."""

COLUMNS_PER_FILE_MAX: Final = 4_096
"""Legacy CUR grows a column per tag and cost category; refuse absurd headers."""

DESCRIPTION_CHARS_MAX: Final = 512
"""Descriptions are cut to this many characters (in DuckDB, before Python sees them)."""

TAGS_PER_ITEM_MAX: Final = 256
"""Tag entries kept per line item (AWS allows 50 per resource)."""

GROUP_KEYS_MAX: Final = 16
"""Tag plus cost-category keys one spend aggregation may group by."""

SPEND_GROUPS_MAX: Final = 500_000
"""Aggregated rows an export summary may return to Python."""

DUCKDB_MEMORY_LIMIT: Final = "1GB"
"""DuckDB spills to its temp directory beyond this, so big files stay in bounded memory."""

PROGRESS_POLL_SECONDS: Final = 0.25
"""How often a running aggregation reports progress."""

HASH_CHUNK_BYTES: Final = 1 << 20
"""Bytes read per step when fingerprinting a file."""

SNIFF_BYTES: Final = 4
"""Leading bytes read to tell Parquet, gzip and plain text apart."""

# --- exact amounts -----------------------------------------------------------------------
AMOUNT_PRECISION: Final = 38
AMOUNT_SCALE: Final = 18
"""Amounts travel through DuckDB as DECIMAL(38, 18): 20 integer digits, 18 decimals.

Real exports print at most 11 decimals (FOCUS sample) and CUR prints 10, so text amounts
convert exactly; the 20 integer digits leave room for sums over billions of rows."""

FLOAT_AMOUNT_SCALE: Final = 10
FLOAT_AMOUNT_PRECISION: Final = 18
"""A file storing amounts as binary floats (CUR Parquet uses DOUBLE) is read as DECIMAL(18, 10).

CUR writes costs with 10 decimals; rounding the stored double to 10 decimals recovers
exactly the decimal that was written. A double carries 15-17 significant digits, so 8
integer digits plus 10 decimals is all it can hold faithfully anyway: a larger amount
(>= 10^8 per line) fails the import loudly instead of being silently rounded. DECIMAL(18, 10)
is also a 64-bit integer in DuckDB, which sums faster than a 128-bit one."""

# --- description normalisation -----------------------------------------------------------
NORMALISE_PASSES_MAX: Final = 8
"""Normalisation repeats until nothing changes; this bounds the repetitions."""

# --- identifiers -------------------------------------------------------------------------
AWS_ACCOUNT_ID_DIGITS: Final = 12
"""AWS account ids are 12 digits; an integer-typed column loses leading zeros we restore."""
