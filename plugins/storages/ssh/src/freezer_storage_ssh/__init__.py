"""Freezer storage plugin for a directory on an SSH server, over SFTP (``--storage ssh``)."""

from freezer_storage_ssh.storage import SshStorage

__all__ = ["SshStorage"]
