"""The shared remote cache: dependency entries, units and their segments on S3-compatible
object storage, shared by every runner that builds with the same inputs.

The local cache (:mod:`flashbuild.cache`) is always asked first; the remote
only fills it. Objects are keyed exactly as the local cache keys them, a
remote record is data whose segments are each checked against the sha256 and
size it gives before anything is stored locally, and a slow, failing or
unreachable remote only costs a warning and a local build.
"""
