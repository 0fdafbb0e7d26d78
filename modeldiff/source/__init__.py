"""Stage 1, source: a git repository's refs read as trees of blobs (never checked out),
where each ref keeps its models (layout), and which refs a history covers."""
