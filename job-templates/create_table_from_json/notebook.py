# %% [markdown]
# # Create a table partition from a raw JSON file
#
# Reads one raw partition (JSON Lines, or one JSON document per file), shows its schema and a
# sample, and writes it as one Parquet partition of the table. `just run` injects the
# parameters below (papermill) and publishes the partition atomically once this notebook
# succeeds; until then nothing is visible to readers.

# %% tags=["parameters"]
ds = "2024-01-02"  # the partition
source_path = ""  # datastore/raw/<dataset>/ds=<ds>/
sink_path = ""  # staging folder: write the partition's files here, nothing else
schema = ""  # "" infers it; or a DDL string, or a YAML file from `just infer-schema`
multiline = False  # True when each file is one JSON document rather than JSON Lines

# %%
from dsflow.schemas import ddl
from dsflow.spark import spark_session

spark = spark_session()
reader = spark.read.option("mode", "FAILFAST").option("multiLine", bool(multiline))
declared = ddl(schema)
if declared:
    reader = reader.schema(declared)
df = reader.json(source_path)
df.printSchema()

# %% [markdown]
# Transform here: rename, cast, filter. The partition's `ds` comes from the folder name when
# the table is read, so the data files do not carry it.

# %%
df = df.drop("ds") if "ds" in df.columns else df
df.show(5, truncate=False)

# %%
df.write.mode("overwrite").parquet(sink_path)
print(f"wrote {df.count()} rows for ds={ds}")
