"""Every limit drawdown enforces, named in one place.

A limit bounds each loop over outside input and each stored value, so that no request can
make the engine do unbounded work or overflow a 64-bit integer column.
"""

from __future__ import annotations

# Amounts are integers at a unit's scale; 10**15 at scale 6 is one billion currency units,
# and a sum of 9,000 such amounts still fits a signed 64-bit column.
AMOUNT_UNITS_MAX = 10**15
TERMS_NUMBER_MAX = 10**15  # a price, amount, quantity or threshold in a price book or contract
UNIT_SCALE_MAX = 9
UNIT_CODE_LENGTH_MAX = 32
CURRENCY_LEDGER_SCALE = 6
DECIMAL_TEXT_LENGTH_MAX = 64  # characters in an amount or rate given as text

ID_LENGTH_MAX = 64
REASON_LENGTH_MAX = 500
ACTOR_LENGTH_MAX = 128
IDEMPOTENCY_KEY_LENGTH_MAX = 255
METADATA_ENTRIES_MAX = 50
METADATA_VALUE_LENGTH_MAX = 500
SCOPE_PRODUCTS_MAX = 100
PRIORITY_MIN = 1
PRIORITY_MAX = 100
PRIORITY_DEFAULT = 50

HIERARCHY_DEPTH_MAX = 8
POSTINGS_PER_TRANSACTION_MAX = 1_000
IDS_PER_QUERY_MAX = 1_000  # ids one IN (…) query carries; longer lists go in chunks
GRANTS_PER_DRAWDOWN_MAX = 5_000  # eligible grants one charge looks at, the first in burn order
TRANSACTIONS_PER_BATCH_MAX = 10_000
LEDGER_PAGE_SIZE_MAX = 1_000

# How far back in business time a transaction may be dated. Balances as of an instant older
# than this horizon can never change again, which is what makes checkpoints safe to keep.
BACKDATE_SECONDS_MAX = 35 * 24 * 3600
# A checkpoint is taken for an account once this many entries accumulated since its last one.
CHECKPOINT_EVERY_ENTRIES = 512
# Grants kept in memory per process (they are immutable, so caching them is always safe).
GRANT_CACHE_ENTRIES_MAX = 200_000
# Units and rate-card versions kept in memory per process (insert-only, so equally safe).
DEFINITION_CACHE_ENTRIES_MAX = 10_000
ACCOUNT_CACHE_ENTRIES_MAX = 100_000  # accounts kept per process (insert-only rows; see definition_cache)
SETTINGS_CACHE_ENTRIES_MAX = 100_000  # settings kept on the SQLite writer connection (see settings_cache)

# Usage events and meters.
EVENTS_PER_BATCH_MAX = 10_000
EVENT_TYPE_LENGTH_MAX = 64
EVENT_PROPERTIES_MAX = 20
EVENT_PROPERTY_KEY_LENGTH_MAX = 64
EVENT_PROPERTY_VALUE_LENGTH_MAX = 200
QUANTITY_SCALE = 6  # quantities are kept as integer millionths
QUANTITY_MAX = 10**12  # whole units per event; 10**18 millionths still fits BIGINT
LATE_CUTOFF_SECONDS_DEFAULT = 7 * 24 * 3600
LATE_CUTOFF_SECONDS_MAX = 30 * 24 * 3600  # stays inside BACKDATE_SECONDS_MAX so burns can be back-dated
FUTURE_SKEW_SECONDS = 5 * 60
METER_FILTERS_MAX = 10
METER_PERIODS_MAX = 400
USAGE_BURNS_PER_BATCH = 500
# Grants one async burn draws from: two postings each, and two left for an overdraft loan.
DRAWS_PER_BURN_MAX = (POSTINGS_PER_TRANSACTION_MAX - 2) // 2

# Rate cards and holds.
RATE_CARD_FEATURES_MAX = 1_000
RATE_DIGITS_MAX = 12  # significant digits in a rate
HOLD_TTL_SECONDS_MIN = 1
HOLD_TTL_SECONDS_MAX = 7 * 24 * 3600
HOLD_TTL_SECONDS_DEFAULT = 300
HOLD_EXPIRIES_PER_BATCH = 500

# Pricing, contracts and invoices.
PRICE_TIERS_MAX = 50
PRICES_PER_BOOK_MAX = 1_000
CONTRACT_RULES_MAX = 200
INVOICE_LINES_MAX = 400  # a line draws at most a few grants; two postings per draw
EVENT_IDS_PER_LINE_MAX = 20  # event ids an explanation lists per line (the count is always exact)
LATE_USAGE_ROWS_MAX = 10_000
INVOICES_PER_RUN_PAGE = 200
INVOICE_RUN_WORKERS_MAX = 32  # worker processes an invoice run may use
TERM_MONTHS_MAX = 120  # a term commitment spans at most ten years of billing months
CONTRACT_TERMS_CACHE_ENTRIES_MAX = 10_000  # distinct contract terms kept parsed per process

# The HTTP API.
GRANTS_PER_BATCH_MAX = 1_000
PAGE_SIZE_MAX = 1_000
REQUEST_BODY_BYTES_MAX = 1024 * 1024
EVENTS_BODY_BYTES_MAX = 16 * 1024 * 1024  # a 10,000-event batch, as JSON or NDJSON (~1.6 KiB an event)
REQUEST_HEADER_BYTES_MAX = 16 * 1024
API_IDEMPOTENCY_KEY_LENGTH_MAX = 200  # the book's key is "<key id>:<caller's key>", at most 255
IDEMPOTENCY_RETENTION_SECONDS = 24 * 3600  # stored API responses are kept at least this long
SWEEP_SECONDS_MAX = 3600  # the server's upkeep sweep runs at least hourly unless turned off
PURGE_EVERY_SECONDS = 3600  # how often the server purges stored responses past retention
