# %% [markdown]
# # Create a table partition from a raw CSV file
#
# Reads one raw partition of delimited text, shows the detected delimiter, the schema and a
# sample, and writes it as one Parquet partition of the table. `just run` injects the
# parameters below (papermill) and publishes the partition atomically once this notebook
# succeeds; until then nothing is visible to readers.

# %% tags=["parameters"]
ds = "2024-01-02"  # the partition
source_path = ""  # datastore/raw/<dataset>/ds=<ds>/
sink_path = ""  # staging folder: write the partition's files here, nothing else
delimiter = "auto"  # "auto" detects it from the first file; or ",", ";", "\t", "|"
schema = ""  # "" infers it; or a DDL string, or a YAML file from `just infer-schema`

# %%
from pathlib import Path

from dsflow.schemas import ddl, detect_delimiter

sep = detect_delimiter(Path(source_path)) if delimiter == "auto" else delimiter
print(f"delimiter: {sep!r}" + (" (detected)" if delimiter == "auto" else ""))

# %%
from dsflow.spark import spark_session

spark = spark_session()
reader = spark.read.option("header", True).option("sep", sep).option("mode", "FAILFAST")
declared = ddl(schema)
reader = reader.schema(declared) if declared else reader.option("inferSchema", True)
df = reader.csv(source_path)
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
