# %% [markdown]
# # Create a table partition from a raw file
#
# Parameters are injected by `just run` (papermill) into the cell tagged `parameters`.

# %% tags=["parameters"]
ds = "2024-01-02"
source_path = ""
sink_path = ""

# %%
print(f"ds={ds} source={source_path} sink={sink_path}")
