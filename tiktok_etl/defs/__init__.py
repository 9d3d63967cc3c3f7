"""The Dagster layer: thin wiring of the API, pipeline and storage layers into assets."""
