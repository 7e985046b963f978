"""Bundles: many steps inside one allocation, with the study directory as the only broker.

A pass hands each bundled step to the study's bundle as a *ticket* (``BundleAdapter.submit_many``),
submits *allocations* (one batch job for N nodes, ``allocations.py``) while tickets wait, and
reads back what the workers did.  One *worker* per node (``worker.py``) claims tickets and runs
them side by side on the node's cores.  Passes and workers meet only through files under
``<study>/meta/bundle/`` (``files.py``), with operations that are atomic on NFS and Lustre as on
a local disk: a new file is written under a name of its own and renamed into place, and a claim
is a hard link (``link(2)`` fails if the name exists; its outcome is checked with the link count,
as open(2) tells for NFS).  No lock is shared between nodes.  docs/bundles.md tells the protocol.
"""
