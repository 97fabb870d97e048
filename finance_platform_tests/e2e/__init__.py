"""End-to-end: the Dagster webserver on a demo-materialized instance, via GraphQL and Chromium."""
