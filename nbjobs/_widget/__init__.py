"""The anywidget view: transport, the page's queries, the kernel-wide runtime model."""
