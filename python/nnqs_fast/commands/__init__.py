"""Subcommands of ``nnqs-fast``; shared option helpers live in :mod:`nnqs_fast.commands._common`."""
