"""The request flows as plain functions: editor request → provider → checks and sandbox → decision.

No lsprotocol types here: a flow takes a document snapshot and the runtime, and returns typed
vet results for the features (`lsp/features/`) to record and convert.
"""
