"""mextend: add parameter combinations to a live or finished study (mextend.core)."""
