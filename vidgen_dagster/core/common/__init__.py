"""The common layer every stage builds on: configuration, the store, table schemas, media access, typed errors and
console progress."""
