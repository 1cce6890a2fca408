# %% [markdown]
# # Create a table partition from a raw JSON file
#
# Reads one raw partition (JSON Lines, or one JSON document per file) key by key, shows its
# schema and a sample, and writes it as one Parquet partition of the table. `just run`
# injects the parameters below (papermill) and publishes the partition atomically once this
# notebook succeeds and the checks pass; until then nothing is visible to readers.

# %% tags=["parameters"]
ds = "2024-01-02"  # the partition
source_path = ""  # datastore/raw/<dataset>/ds=<ds>/
sink_path = ""  # staging folder: write the partition's files here, nothing else
schema = ""  # "" infers the types; or a DDL string, or a YAML file from `just infer-schema`
multiline = False  # True when each file is one JSON document rather than JSON Lines
null_values = None  # text values read as null, e.g. ["", "NA"]; None: the schema file's, else [""]
date_format = None  # Spark pattern of date columns, e.g. "dd/MM/yyyy"; None: ISO
timestamp_format = None  # e.g. "dd/MM/yyyy HH:mm"; None: ISO
timezone = None  # of timestamps written without an offset, e.g. "Europe/Paris"; None: UTC
missing_columns = "refuse"  # or "null": a declared key no record of a file has reads as nulls

# %%
from dsflow.readers import read_json
from dsflow.spark import spark_session

spark = spark_session()
df = read_json(
    spark,
    source_path,
    schema=schema,
    multiline=multiline,
    null_values=null_values,
    date_format=date_format,
    timestamp_format=timestamp_format,
    timezone=timezone,
    missing_columns=missing_columns,
)
df.printSchema()

# %% [markdown]
# Transform here: rename, cast, filter. The partition's `ds` comes from the folder name when
# the table is read, so the data files do not carry it.

# %%
df = df.drop("ds") if "ds" in df.columns else df
# df.show(5) here previews before writing (the read or query runs once more)

# %%
from dsflow.notebook import write_partition

# Parquet files, ds and hr columns dropped; prints the first 5 rows as written
rows = write_partition(df, sink_path, preview=5)
print(f"wrote {rows} rows for ds={ds}")
