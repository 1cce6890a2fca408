# %% [markdown]
# # Create a table partition from a raw JSON file
#
# Reads one raw partition (JSON or JSON Lines), shows its schema and a sample, and writes it
# as one Parquet partition of the table. `just run` injects the parameters below (papermill)
# and publishes the partition atomically once this notebook succeeds.

# %% tags=["parameters"]
ds = "2024-01-02"  # the partition
source_path = ""  # datastore/raw/<dataset>/ds=<ds>/
sink_path = ""  # staging folder: write the partition's files here, nothing else

# %%
from dsflow.spark import spark_session

spark = spark_session()
df = spark.read.json(source_path)
df.printSchema()

# %% [markdown]
# Transform here: rename, cast, filter. The `ds` column comes from the folder name on read,
# so the data files do not carry it.

# %%
df = df.drop("ds") if "ds" in df.columns else df
df.show(5, truncate=False)

# %%
df.write.mode("overwrite").parquet(sink_path)
print(f"wrote {df.count()} rows for ds={ds}")
