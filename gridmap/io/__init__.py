"""Files in and out: imports (readers, coordinate systems, importer) and exports (layer
files, print maps, background export jobs)."""
