from tests.services.sshd import sshd_server  # noqa: F401  (the session's real OpenSSH server)
