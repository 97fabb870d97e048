"""Spark versions of the heavy transforms: Spark DataFrame in -> Spark DataFrame out, same rules."""
