"""The artifact: archive members, the tar stream, parallel gzip and atomic output."""
