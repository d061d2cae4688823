"""The foundation every layer stands on: errors, registries, parameter binding, YAML reading, atomic files,
the shipped configs and problems, and the version. Imports nothing else from pinnit."""
