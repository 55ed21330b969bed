//! SLO expressions: parsing with column-precise errors, and evaluation into verdicts.
