"""The storage layer: the only package that speaks SQL. Functions take a connection and return domain types."""
