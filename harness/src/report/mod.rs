//! Reports: the versioned JSON model and its writers (JSON, JUnit, Markdown, HTML, terminal).
