"""The curated dataset: frame-exact clip cuts, the export and its schema, and the dataset report."""
