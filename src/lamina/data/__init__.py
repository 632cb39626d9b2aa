"""Data: GLUE-format folders, text files and the embedded BBC News corpus."""
