//! Reports: JSON, JUnit, HTML, case files, curl scripts.
