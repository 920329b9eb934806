"""Write the same small returns the way real tools write Parquet.

Run once to (re)create the committed fixtures next to this script:
    python3 tests/returns/writers/make.py
Needs pandas, pyarrow, polars and duckdb (pip). The Rust tests read the
committed files; they do not need Python.
"""
import datetime as dt
import os
import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))

def out(name):
    return os.path.join(HERE, name)

maritime = {
    "reporting_member": ["AUS", "AUS", "AUS"],
    "reference_year": [2012, 2012, 2012],
    "movement_id": ["M-1", "M-2", "M-3"],
    "event_date": [dt.date(2012, 3, 4), dt.date(2012, 5, 6), dt.date(2012, 7, 1)],
    "outcome": ["landed", "intercepted_at_sea", "lost_at_sea"],
    "embarkation_country": ["IDN", "LKA", "IDN"],
    "intended_destination": ["AUS", "AUS", "AUS"],
    "persons_on_board": [52, 31, 97],
    "deaths": [0, 0, 12],
    "missing": [0, 0, 20],
}
capacity = {
    "reporting_member": ["AUS", "AUS"],
    "reference_year": [2012, 2012],
    "need_id": ["N-1", "N-2"],
    "area": ["border_management", "data_and_statistics"],
    "assistance_type": ["training", "equipment"],
    "priority": [1, 3],
    "preferred_provider": ["RSO", None],
    "description": ["Boat crew training", None],
}

# pandas: int64 everywhere, datetime64[ns] midnight timestamps, the index stored.
df = pd.DataFrame(maritime)
df["event_date"] = pd.to_datetime(df["event_date"])
df.to_parquet(out("pandas_maritime.parquet"), engine="pyarrow")  # snappy, index kept as __index_level_0__? (RangeIndex is metadata)
df.set_index(pd.Index([10, 20, 5])).to_parquet(out("pandas_maritime_index.parquet"), engine="pyarrow")
df2 = df.copy()
df2["event_date"] = df2["event_date"].dt.tz_localize("Australia/Sydney")
df2.to_parquet(out("pandas_maritime_tz.parquet"), engine="pyarrow", compression="gzip")
cdf = pd.DataFrame(capacity)
cdf.to_parquet(out("pandas_capacity.parquet"), engine="pyarrow", index=False, compression="brotli")
# pandas all-null column for a nullable column (Arrow type null)
cdf2 = cdf.copy()
cdf2["description"] = None
cdf2.to_parquet(out("pandas_capacity_null_column.parquet"), index=False)

# polars: i64 ints, large strings / string view, zstd by default, date32.
pl.DataFrame(maritime).write_parquet(out("polars_maritime.parquet"))
pl.DataFrame(capacity).write_parquet(out("polars_capacity.parquet"), compression="lz4", row_group_size=1)
pl.DataFrame(maritime).with_columns(pl.col("outcome").cast(pl.Categorical)).write_parquet(out("polars_maritime_categorical.parquet"))

# DuckDB: BIGINT from a literal table, DATE, VARCHAR, snappy.
con = duckdb.connect()
con.execute("""
COPY (SELECT 'AUS' AS reporting_member, 2012 AS reference_year, 'M-' || i AS movement_id,
             DATE '2012-01-01' + i::INTEGER AS event_date, 'landed' AS outcome, 'IDN' AS embarkation_country,
             'AUS' AS intended_destination, 10 + i AS persons_on_board, 0 AS deaths, 0 AS missing
      FROM range(1, 50) t(i)) TO '%s' (FORMAT parquet, ROW_GROUP_SIZE 7)
""" % out("duckdb_maritime.parquet"))
con.execute("""
COPY (SELECT 'AUS' AS reporting_member, 2012::BIGINT AS reference_year, 'N-1' AS need_id, 'border_management' AS area,
             'training' AS assistance_type, 2::BIGINT AS priority, NULL::VARCHAR AS preferred_provider,
             'x' AS description) TO '%s' (FORMAT parquet, COMPRESSION zstd)
""" % out("duckdb_capacity.parquet"))
# DuckDB writes HUGEINT as DOUBLE: a real-world E_TYPE (floats are never accepted for integers).
con.execute("""
COPY (SELECT 'AUS' AS reporting_member, 2012 AS reference_year, 'N-1' AS need_id, 'border_management' AS area,
             'training' AS assistance_type, 2::HUGEINT AS priority, NULL::VARCHAR AS preferred_provider,
             'x' AS description) TO '%s' (FORMAT parquet)
""" % os.path.join(HERE, "..", "invalid", "E_TYPE__duckdb_hugeint_written_as_double.parquet"))

# R arrow writes int32 integers, utf8 strings, date32 and snappy: emulated with pyarrow.
t = pa.table({k: v for k, v in maritime.items()})
t = t.cast(pa.schema([
    ("reporting_member", pa.string()), ("reference_year", pa.int32()), ("movement_id", pa.string()),
    ("event_date", pa.date32()), ("outcome", pa.string()), ("embarkation_country", pa.string()),
    ("intended_destination", pa.string()), ("persons_on_board", pa.int32()), ("deaths", pa.int32()), ("missing", pa.int32()),
]))
pq.write_table(t, out("r_arrow_maritime.parquet"), compression="snappy")
# pyarrow with dictionary strings, large strings and uint types, no compression
t2 = pa.table({
    **{k: v for k, v in maritime.items()},
}).cast(pa.schema([
    ("reporting_member", pa.dictionary(pa.int8(), pa.string())), ("reference_year", pa.uint16()), ("movement_id", pa.large_string()),
    ("event_date", pa.timestamp("ms")), ("outcome", pa.dictionary(pa.int32(), pa.large_string())), ("embarkation_country", pa.string()),
    ("intended_destination", pa.string()), ("persons_on_board", pa.uint32()), ("deaths", pa.int8()), ("missing", pa.int16()),
]))
pq.write_table(t2, out("pyarrow_dictionary_uint.parquet"), compression="none", use_dictionary=True)
print("wrote fixtures to", HERE)
