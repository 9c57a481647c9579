"""Reports: render a :class:`~lrguard.diagnosis.Diagnosis` for people (terminal, HTML) and machines (JSON)."""
