"""Dashboard over one table; the columns come from job_specs.yaml."""

if __name__ == "__main__":
    print("dashboard")
