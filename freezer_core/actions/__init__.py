"""One module per action: backup, restore, admin, info, exec."""
