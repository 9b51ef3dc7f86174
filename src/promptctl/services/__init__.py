"""One function per CLI verb, wiring the store and the core; they return values, never print."""
