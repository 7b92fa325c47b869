"""The ground floor: audio types, the emotion vocabulary, typed errors, config loading, paths."""
