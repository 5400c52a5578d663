"""The service layer: the only writers of server-written state. No HTTP types here."""
