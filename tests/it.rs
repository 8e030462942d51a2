//! Black-box tests: one binary (see tests/common).
