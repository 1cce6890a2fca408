# %% [markdown]
# # Create a table partition from a raw CSV file
#
# Reads one raw partition of delimited text by column name (each file's header is matched
# with the declared schema, whatever the column order), shows the schema and a sample, and
# writes it as one Parquet partition of the table. `just run` injects the parameters below
# (papermill) and publishes the partition atomically once this notebook succeeds and the
# checks pass; until then nothing is visible to readers.

# %% tags=["parameters"]
ds = "2024-01-02"  # the partition
source_path = ""  # datastore/raw/<dataset>/ds=<ds>/
sink_path = ""  # staging folder: write the partition's files here, nothing else
delimiter = "auto"  # "auto": the schema file's, else detected; or ",", ";", "\t", "|"
schema = ""  # "" infers the types; or a DDL string, or a YAML file from `just infer-schema`
null_values = None  # cells read as null; None: the schema file's, else [""]
date_format = None  # Spark pattern of date columns, e.g. "dd/MM/yyyy"; None: ISO
timestamp_format = None  # e.g. "dd/MM/yyyy HH:mm"; None: ISO
timezone = None  # of timestamps written without an offset, e.g. "Europe/Paris"; None: UTC
missing_columns = "refuse"  # or "null": a declared column a file lacks is read as nulls

# %%
from dsflow.readers import read_csv
from dsflow.spark import spark_session

spark = spark_session()
df = read_csv(
    spark,
    source_path,
    schema=schema,
    delimiter=delimiter,
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
