# %% [markdown]
# # A table partition from Spark SQL
#
# Runs `query.sql` over the project's tables with `:ds` bound to the partition (a query
# parameter, never formatted into the text), shows the result's schema and a sample, and
# writes it as one Parquet partition. An input the job reads at another grain is a view of
# exactly the partitions this run reads (every day of the month for a monthly job over a
# daily table). `just run` injects the parameters below (papermill) and publishes the
# partition atomically once this notebook succeeds.

# %% tags=["parameters"]
ds = "2024-01-02"  # the partition
sink_path = ""  # staging folder: write the partition's files here, nothing else
query_file = "query.sql"  # relative to this job's folder
source_paths = {}  # input table -> the partition folder(s) this run reads
job_name = ""  # this job: which of its inputs are of another grain

# %%
from pathlib import Path

from dsflow.spark import spark_session
from dsflow.tables import load_tables

spark = spark_session()
for view, what in load_tables(spark, as_of=ds, inputs=source_paths, job=job_name).items():
    print(f"{view:<30} {what}")

# %%
query = Path(query_file).read_text()
print(query)
df = spark.sql(query, args={"ds": ds})
df.printSchema()

# %% [markdown]
# The partition's `ds` (and `hr`) come from the folder names when the table is read: drop them.

# %%
df = df.drop(*[c for c in ("ds", "hr") if c in df.columns])
# df.show(10) here previews before writing (the read or query runs once more)

# %%
from dsflow.notebook import write_partition

# Parquet files, ds and hr columns dropped; prints the first 10 rows as written
rows = write_partition(df, sink_path, preview=10)
print(f"wrote {rows} rows for ds={ds}")
